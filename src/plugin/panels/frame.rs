//! The frame panel: the game-wide budget ([`BfnSettings`]) to steer, what the last frame recorded (its GPU time
//! and which generators stepped) and what the plugin holds on the GPU.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};

use crate::plugin::{BfnFrameStats, BfnGenerator, BfnGpuMemory, BfnSettings};

pub(crate) fn frame_panel(
    mut contexts: EguiContexts,
    mut settings: ResMut<BfnSettings>,
    stats: Res<BfnFrameStats>,
    held: Res<BfnGpuMemory>,
    generators: Query<&BfnGenerator>,
    asset_server: Res<AssetServer>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("BFN frame")
        .pivot(egui::Align2::LEFT_BOTTOM)
        .default_pos(egui::pos2(10.0, ctx.viewport_rect().bottom() - 10.0))
        .default_open(false)
        .show(ctx, |ui| {
            // Edited on a copy, so that the resource is marked changed only by a real edit.
            let mut edited = *settings;
            let mut budget = edited.frame_budget_ms.is_some();
            ui.checkbox(&mut budget, "GPU ms a frame, all generators");
            if budget {
                let mut ms = edited.frame_budget_ms.unwrap_or(2.0);
                ui.add(egui::Slider::new(&mut ms, 0.1..=16.0).logarithmic(true));
                edited.frame_budget_ms = Some(ms);
            } else {
                edited.frame_budget_ms = None;
            }
            let mut capped = edited.max_steps_per_frame.is_some();
            ui.checkbox(&mut capped, "steps a frame, all generators");
            if capped {
                let mut steps = edited.max_steps_per_frame.unwrap_or(16);
                ui.add(egui::Slider::new(&mut steps, 1..=256).logarithmic(true));
                edited.max_steps_per_frame = Some(steps);
            } else {
                edited.max_steps_per_frame = None;
            }
            settings.set_if_neq(edited);
            if let Some(error) = &stats.settings_error {
                ui.colored_label(egui::Color32::LIGHT_RED, error);
            }
            let frame = &stats.last;
            ui.label(format!(
                "last frame: {} steps, {:.2} GPU ms{}{}",
                frame.total_steps(),
                frame.gpu_ms,
                frame
                    .budget_ms
                    .map_or(String::new(), |ms| format!(" of {ms:.2}")),
                if frame.allowance {
                    " (one step over: the allowance)"
                } else {
                    ""
                }
            ));
            for (entity, steps) in &frame.steps {
                let name = generators
                    .get(*entity)
                    .ok()
                    .and_then(|g| asset_server.get_path(g.model.id()))
                    .map_or_else(|| "?".to_owned(), |p| p.path().display().to_string());
                ui.label(format!("  {entity} {name}: {steps}"));
            }
            ui.label(format!(
                "held on the GPU: {} buffers, {:.1} MiB ({} jobs, {} models)",
                held.total.buffers,
                held.total.bytes as f64 / (1024.0 * 1024.0),
                held.jobs,
                held.models
            ));
        });
    Ok(())
}
