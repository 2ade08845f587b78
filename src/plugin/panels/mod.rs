//! Designer panels (feature `egui`): one window per generator with its model, progress, the settings that steer
//! it (steps, steps per frame, σ₁ or β₁, seed, batch), the accuracy schedule β(t) and α_i per step with the
//! current step marked, restart / pause / single step, the live preview, and — when "watch the flow" is on — views
//! of θ itself: per-variable entropy as an image, θ over time for a picked variable, and a ternary plot. A frame
//! panel steers the budget all generators share ([`BfnSettings`](crate::plugin::BfnSettings)) and shows what the
//! last frame recorded and what the plugin holds on the GPU.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, EguiTextureHandle, egui};

use std::collections::HashMap;

use crate::flow::SamplingMethod;
use crate::model::content::palette;
use crate::model::{KindConfig, ModelConfig};
use crate::plugin::{
    BfnConstraints, BfnGenerator, BfnModel, BfnPreview, BfnProgress, BfnRestart, BfnStepOnce,
    BfnWatch,
};

mod brush;
mod frame;

/// Adds the panels (and bevy_egui's plugin if the app has not).
#[derive(Default)]
pub struct BfnPanelsPlugin;

impl Plugin for BfnPanelsPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.add_systems(
            EguiPrimaryContextPass,
            (generator_panels, frame::frame_panel),
        );
    }
}

/// The schedule plots' size in points.
const PLOT: egui::Vec2 = egui::vec2(170.0, 56.0);

/// What a panel remembers of a watched flow: the picked variable, its θ at each step seen, and the entropy
/// image's texture.
#[derive(Default)]
struct FlowView {
    picked: usize,
    /// The step whose θ the entropy image shows (it is rebuilt only when a new θ arrives).
    shown_step: Option<u32>,
    trace: Vec<(u32, Vec<f32>)>,
    texture: Option<egui::TextureHandle>,
}

/// What a panel shows and steers of its generator.
type PanelParts = (
    Entity,
    &'static mut BfnGenerator,
    &'static BfnProgress,
    &'static BfnPreview,
    Option<&'static BfnWatch>,
    Option<&'static BfnConstraints>,
);

fn generator_panels(
    mut commands: Commands,
    mut contexts: EguiContexts,
    mut generators: Query<PanelParts>,
    models: Res<Assets<BfnModel>>,
    asset_server: Res<AssetServer>,
    mut views: Local<HashMap<Entity, FlowView>>,
    mut brushes: Local<HashMap<Entity, brush::Brush>>,
) -> Result {
    // In spawn order, whatever components each carries: the first generator spawned gets the open panel.
    let mut entities: Vec<Entity> = generators.iter().map(|(entity, ..)| entity).collect();
    entities.sort_by_key(|entity| entity.index_u32());
    let mut previews = Vec::new();
    for (_, _, _, preview, ..) in generators.iter_many(&entities) {
        previews.push(contexts.add_image(EguiTextureHandle::Weak(preview.image.id())));
    }
    let ctx = contexts.ctx_mut()?;
    let (right, bottom) = (ctx.viewport_rect().right(), ctx.viewport_rect().bottom());
    let count = entities.len();
    for (index, (&entity, preview)) in entities.iter().zip(previews).enumerate() {
        let Ok((_, mut generator, progress, _, watch, constraints)) = generators.get_mut(entity)
        else {
            continue;
        };
        let name = asset_server
            .get_path(generator.model.id())
            .map_or_else(|| "model".to_owned(), |p| p.path().display().to_string());
        egui::Window::new(format!("{name} ({entity})"))
            // Down the right edge: the others collapsed on top, the first one open below them.
            .pivot(egui::Align2::RIGHT_TOP)
            .default_pos(egui::pos2(
                right - 10.0,
                10.0 + 40.0 * ((index + count - 1) % count) as f32,
            ))
            .default_open(index == 0)
            .vscroll(true)
            .default_height(bottom - 30.0 - 40.0 * count as f32)
            .max_height(bottom - 30.0 - 40.0 * count as f32)
            .show(ctx, |ui| {
                let Some(model) = models.get(&generator.model) else {
                    match &progress.error {
                        Some(error) => ui.colored_label(egui::Color32::LIGHT_RED, error),
                        None => ui.label("loading…"),
                    };
                    return;
                };
                let config = generator
                    .weights(model)
                    .map_or_else(|_| model.weights.config().clone(), |w| w.config().clone());
                let patches = match config.patch {
                    1 => String::new(),
                    p => format!(" in {p}×{p} patches"),
                };
                ui.label(format!(
                    "{} · {}×{}×{}{patches} · {}",
                    kind_name(&config.kind),
                    config.pixel_layout().height,
                    config.pixel_layout().width,
                    config.pixel_layout().channels,
                    config.network.summary()
                ));
                if let Some(error) = &progress.error {
                    ui.colored_label(egui::Color32::LIGHT_RED, error);
                }
                ui.add(egui::ProgressBar::new(progress.fraction()).text(format!(
                    "step {} / {}{}{}",
                    progress.steps_done,
                    progress.steps,
                    progress
                        .gpu_ms_per_step
                        .map_or(String::new(), |ms| format!(" · {ms:.2} GPU ms/step")),
                    if progress.finished { " · done" } else { "" }
                )));
                settings(ui, &mut commands, entity, &mut generator, &config);
                schedule_plots(ui, &generator, &config, progress.steps_done);
                let width = config.pixel_layout().width * generator.batch.max(1);
                let height = config.pixel_layout().height;
                // Maps and images are painted on: as wide as the panel, up to 240 points high.
                let scale = if brush::paints(&config) {
                    (ui.available_width() / width as f32).min(240.0 / height as f32)
                } else {
                    (300.0 / width.max(height * 4) as f32).max(1.0)
                };
                // The brush's tools above the canvas: a panel too short for a level's canvas still shows them.
                let brush = if brush::paints(&config) {
                    let brush = brushes.entry(entity).or_default();
                    brush::fit(brush, &config);
                    brush::tools(ui, brush, &config);
                    Some(brush)
                } else {
                    None
                };
                let shown = ui.add(
                    egui::Image::new(egui::load::SizedTexture::new(
                        preview,
                        egui::vec2(width as f32 * scale, height as f32 * scale),
                    ))
                    .sense(egui::Sense::click_and_drag()),
                );
                if let Some(brush) = brush {
                    let canvas = brush::Canvas {
                        rect: shown.rect,
                        layout: config.pixel_layout(),
                        batch: generator.batch.max(1),
                    };
                    let mut painted = constraints.cloned().unwrap_or_default();
                    let mut changed = brush::stroke(&shown, &canvas, brush, &config, &mut painted);
                    brush::overlay(ui.painter(), &canvas, brush, &config, &painted);
                    changed |= brush::selection_actions(
                        ui,
                        &mut commands,
                        entity,
                        brush,
                        &canvas,
                        progress.finished,
                        &mut painted,
                    );
                    if changed {
                        commands.entity(entity).insert(painted);
                    }
                    if constraints.is_some() && ui.button("free every cell").clicked() {
                        commands.entity(entity).remove::<BfnConstraints>();
                    }
                }
                let mut watching = watch.is_some();
                if ui.checkbox(&mut watching, "watch the flow (θ)").changed() {
                    if watching {
                        commands.entity(entity).insert(BfnWatch::default());
                    } else {
                        commands.entity(entity).remove::<BfnWatch>();
                        views.remove(&entity);
                    }
                }
                if let Some(watch) = watch.filter(|w| !w.theta.is_empty()) {
                    flow_view(ui, views.entry(entity).or_default(), &config, watch);
                }
            });
    }
    Ok(())
}

fn kind_name(kind: &KindConfig) -> String {
    match kind {
        KindConfig::Continuous { sigma_1 } => format!("continuous, σ₁ = {sigma_1:.4}"),
        KindConfig::Discretised { sigma_1, bins } => {
            format!("discretised ({bins} bins), σ₁ = {sigma_1:.4}")
        }
        KindConfig::Discrete { beta_1, classes } => {
            format!("discrete ({classes} classes), β₁ = {beta_1:.3}")
        }
    }
}

fn settings(
    ui: &mut egui::Ui,
    commands: &mut Commands,
    entity: Entity,
    generator: &mut BfnGenerator,
    config: &ModelConfig,
) {
    let kind = &config.kind;
    egui::Grid::new("settings").num_columns(2).show(ui, |ui| {
        ui.label("steps n");
        let mut steps = generator.steps_for(config);
        if ui
            .add(egui::Slider::new(&mut steps, 1..=1000).logarithmic(true))
            .changed()
        {
            generator.steps = Some(steps);
        }
        ui.end_row();
        let mut budget = generator.gpu_budget_ms.is_some();
        ui.checkbox(&mut budget, "GPU ms budget");
        if budget {
            let mut ms = generator.gpu_budget_ms.unwrap_or(2.0);
            ui.add(
                egui::Slider::new(&mut ms, 0.1..=50.0)
                    .logarithmic(true)
                    .suffix(" ms"),
            );
            generator.gpu_budget_ms = Some(ms);
        } else {
            generator.gpu_budget_ms = None;
            ui.add(egui::Slider::new(&mut generator.steps_per_frame, 0..=64).text("steps/frame"));
        }
        ui.end_row();
        let mut accuracy = generator.accuracy.unwrap_or(kind.accuracy());
        let (label, range) = match kind {
            KindConfig::Discrete { .. } => ("β₁", 0.01..=20.0),
            _ => ("σ₁", 1e-4..=0.9),
        };
        ui.label(label);
        if ui
            .add(egui::Slider::new(&mut accuracy, range).logarithmic(true))
            .changed()
        {
            generator.accuracy = Some(accuracy);
        }
        ui.end_row();
        ui.label("sampler");
        sampler_menu(ui, generator, config);
        ui.end_row();
        if !config.labels.is_empty() {
            ui.label("class");
            class_menu(ui, generator, config);
            ui.end_row();
            ui.label("guidance w");
            let mut weight = generator.guidance.weight;
            if ui
                .add(egui::Slider::new(&mut weight, 0.0..=8.0))
                .on_hover_text(
                    "(1 + w)·conditional − w·unconditional: more holds closer to the class",
                )
                .changed()
            {
                generator.guidance.weight = weight;
            }
            ui.end_row();
        }
        ui.label("seed");
        ui.add(egui::DragValue::new(&mut generator.seed));
        ui.end_row();
        ui.label("batch");
        ui.add(egui::Slider::new(&mut generator.batch, 1..=16));
        ui.end_row();
    });
    ui.horizontal(|ui| {
        if ui.button("restart").clicked() {
            commands.trigger(BfnRestart { entity });
        }
        if ui
            .button(if generator.paused { "resume" } else { "pause" })
            .clicked()
        {
            generator.paused = !generator.paused;
        }
        if ui
            .add_enabled(generator.paused, egui::Button::new("step"))
            .clicked()
        {
            commands.trigger(BfnStepOnce { entity });
        }
        if generator.accuracy.is_some() && ui.button("model's accuracy").clicked() {
            generator.accuracy = None;
        }
    });
}

/// The class a conditional model is asked for: none, one for every example, or one of each across the batch
/// (which sets the batch to the number of classes), for a row of one preview per class.
fn class_menu(ui: &mut egui::Ui, generator: &mut BfnGenerator, config: &ModelConfig) {
    let labels = &config.labels;
    let each: Vec<Option<u32>> = (0..labels.len() as u32).map(Some).collect();
    let current = match generator.guidance.labels.as_slice() {
        [] => "none".to_owned(),
        [Some(class)] => labels
            .get(*class as usize)
            .cloned()
            .unwrap_or_else(|| class.to_string()),
        asked if asked == each.as_slice() => "one of each".to_owned(),
        _ => "per example".to_owned(),
    };
    egui::ComboBox::from_id_salt("class")
        .selected_text(current)
        .show_ui(ui, |ui| {
            if ui
                .selectable_label(generator.guidance.labels.is_empty(), "none")
                .clicked()
            {
                generator.guidance.labels.clear();
            }
            for (class, name) in labels.iter().enumerate() {
                let asked = vec![Some(class as u32)];
                if ui
                    .selectable_label(generator.guidance.labels == asked, name)
                    .clicked()
                {
                    generator.guidance.labels = asked;
                }
            }
            if ui
                .selectable_label(generator.guidance.labels == each, "one of each")
                .clicked()
            {
                generator.batch = labels.len();
                generator.guidance.labels = each.clone();
            }
        });
}

/// The sampler, by name, and the redraw's temperature. A change keeps the steps the generator has now: the
/// model's steps are its own sampler's, and a designer choosing another chooses its steps next.
fn sampler_menu(ui: &mut egui::Ui, generator: &mut BfnGenerator, config: &ModelConfig) {
    let current = generator.sampler_for(config);
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("sampler")
            .selected_text(current.name())
            .show_ui(ui, |ui| {
                for name in SamplingMethod::NAMES {
                    if ui.selectable_label(current.name() == name, name).clicked()
                        && current.name() != name
                        && let Ok(method) = name.parse()
                    {
                        generator.steps = Some(generator.steps_for(config));
                        generator.sampler = Some(method);
                    }
                }
            });
        if let SamplingMethod::Redraw {
            mut temperature,
            fixed_noise,
        } = current
            && ui
                .add(egui::Slider::new(&mut temperature, 0.05..=2.0).text("τ"))
                .changed()
        {
            generator.sampler = Some(SamplingMethod::Redraw {
                temperature,
                fixed_noise,
            });
        }
    });
}

/// β(t) over t ∈ [0, 1] and α_i for i = 1..n, with the current step marked.
fn schedule_plots(ui: &mut egui::Ui, generator: &BfnGenerator, config: &ModelConfig, done: u32) {
    let accuracy = generator.accuracy.unwrap_or(config.kind.accuracy());
    let Ok(kind) = config.kind.with_accuracy(accuracy).build() else {
        ui.colored_label(egui::Color32::LIGHT_RED, "accuracy out of range");
        return;
    };
    let schedule = kind.schedule();
    let n = generator.steps_for(config).max(1);
    let betas: Vec<f64> = (0..=100)
        .map(|i| schedule.beta(f64::from(i) / 100.0))
        .collect();
    // The accuracy each update adds on the sampler's own grid (the solvers' runs from η, with one update fewer).
    let method = generator.sampler_for(config);
    let alphas: Vec<f64> = (1..=method.updates(n))
        .map(|i| schedule.beta(method.time(i, n)) - schedule.beta(method.time(i - 1, n)))
        .collect();
    let marker = f64::from(done.min(n)) / f64::from(n);
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.label("β(t)");
            plot(ui, &betas, marker, false);
        });
        ui.vertical(|ui| {
            ui.label(format!(
                "α_i per step ({})",
                generator.sampler_for(config).name()
            ));
            plot(ui, &alphas, marker, true);
        });
    });
}

fn plot(ui: &mut egui::Ui, values: &[f64], marker: f64, bars: bool) {
    let (response, painter) = ui.allocate_painter(PLOT, egui::Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(24));
    let top = values.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
    let count = values.len().max(2);
    let at = |i: usize, v: f64| {
        egui::pos2(
            rect.left() + rect.width() * i as f32 / (count - 1) as f32,
            rect.bottom() - rect.height() * (v / top) as f32,
        )
    };
    let colour = egui::Color32::from_rgb(120, 190, 255);
    if bars {
        for (i, &v) in values.iter().enumerate() {
            let x = at(i, v);
            painter.line_segment([egui::pos2(x.x, rect.bottom()), x], (1.0, colour));
        }
    } else {
        let points: Vec<egui::Pos2> = values.iter().enumerate().map(|(i, &v)| at(i, v)).collect();
        painter.add(egui::Shape::line(points, (1.5, colour)));
    }
    let x = rect.left() + rect.width() * marker as f32;
    painter.line_segment(
        [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
        (1.0, egui::Color32::from_rgb(255, 200, 60)),
    );
    painter.text(
        rect.left_top() + egui::vec2(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("max {top:.3e}"),
        egui::FontId::monospace(10.0),
        egui::Color32::GRAY,
    );
}

/// θ of one variable: its K probabilities, or its mean.
fn variable_theta<'a>(config: &ModelConfig, theta: &'a [f32], variable: usize) -> &'a [f32] {
    let width = match config.kind {
        KindConfig::Discrete { classes, .. } => classes as usize,
        _ => 1,
    };
    theta
        .get(variable * width..(variable + 1) * width)
        .unwrap_or(&[])
}

fn flow_view(ui: &mut egui::Ui, view: &mut FlowView, config: &ModelConfig, watch: &BfnWatch) {
    let discrete = matches!(config.kind, KindConfig::Discrete { .. });
    let pixels = config.pixel_layout();
    // Rebuilt only when a new θ arrives: re-uploading an unchanged texture every frame can keep it from showing.
    if view.shown_step != Some(watch.step) || view.texture.is_none() {
        view.shown_step = Some(watch.step);
        let image = flow_image(config, watch, discrete);
        match &mut view.texture {
            Some(texture) => texture.set(image, egui::TextureOptions::NEAREST),
            None => {
                view.texture = Some(ui.ctx().load_texture(
                    "flow",
                    image,
                    egui::TextureOptions::NEAREST,
                ));
            }
        }
    }
    let variables = config.layout.variables();
    ui.horizontal(|ui| {
        if let Some(texture) = &view.texture {
            let scale = (64.0 / pixels.width.max(pixels.height) as f32).max(1.0);
            ui.add(
                egui::Image::new(egui::load::SizedTexture::new(
                    texture.id(),
                    egui::vec2(pixels.width as f32 * scale, pixels.height as f32 * scale),
                ))
                .bg_fill(egui::Color32::from_rgb(40, 20, 60)),
            )
            .on_hover_text(if discrete {
                "entropy of θ per variable (bright: undecided)"
            } else {
                "μ per variable"
            });
        }
        ui.vertical(|ui| {
            let before = view.picked;
            ui.add(
                egui::Slider::new(&mut view.picked, 0..=variables.saturating_sub(1))
                    .text("variable"),
            );
            if view.picked != before || view.trace.last().is_some_and(|(s, _)| *s > watch.step) {
                view.trace.clear();
            }
        });
    });
    let theta = variable_theta(config, &watch.theta, view.picked).to_vec();
    // Another model (another class count) under the same panel: the old trace cannot be drawn against θ now,
    // and the plots below index every entry of the trace by θ's classes.
    if view
        .trace
        .first()
        .is_some_and(|(_, t)| t.len() != theta.len())
    {
        view.trace.clear();
    }
    if view.trace.last().is_none_or(|(s, _)| *s != watch.step) {
        view.trace.push((watch.step, theta.clone()));
    }
    ui.horizontal(|ui| {
        ui.vertical(|ui| theta_trace(ui, view, config, &theta, discrete));
        if discrete && theta.len() >= 3 {
            ui.vertical(|ui| ternary(ui, &view.trace, &theta));
        }
    });
}

/// The picked variable's θ at every step seen: one line per class (in its colour), or μ.
fn theta_trace(
    ui: &mut egui::Ui,
    view: &FlowView,
    config: &ModelConfig,
    theta: &[f32],
    discrete: bool,
) {
    let colours = palette(config);
    ui.label(format!("θ of variable {} over steps", view.picked));
    let (response, painter) = ui.allocate_painter(PLOT, egui::Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(24));
    let last_step = view.trace.last().map_or(1, |(s, _)| (*s).max(1)) as f32;
    for k in 0..theta.len() {
        let colour = colours.get(k).map_or(egui::Color32::LIGHT_BLUE, |c| {
            egui::Color32::from_rgb(c[0], c[1], c[2])
        });
        let points: Vec<egui::Pos2> = view
            .trace
            .iter()
            .map(|(s, t)| {
                let value = if discrete { t[k] } else { (t[k] + 1.0) / 2.0 };
                egui::pos2(
                    rect.left() + rect.width() * *s as f32 / last_step,
                    rect.bottom() - rect.height() * value.clamp(0.0, 1.0),
                )
            })
            .collect();
        painter.add(egui::Shape::line(points, (1.5, colour)));
    }
}

/// The picked variable's path through the simplex of its three most likely classes now (the whole simplex for a
/// three-class model), from the uniform centre towards a corner.
fn ternary(ui: &mut egui::Ui, trace: &[(u32, Vec<f32>)], now: &[f32]) {
    let mut order: Vec<usize> = (0..now.len()).collect();
    order.sort_by(|&a, &b| now[b].total_cmp(&now[a]));
    let top = [order[0], order[1], order[2]];
    ui.label(format!(
        "ternary: classes {}, {}, {}",
        top[0], top[1], top[2]
    ));
    let (response, painter) = ui.allocate_painter(egui::vec2(80.0, 70.0), egui::Sense::hover());
    let rect = response.rect.shrink(6.0);
    let corners = [
        egui::pos2(rect.center().x, rect.top()),
        egui::pos2(rect.left(), rect.bottom()),
        egui::pos2(rect.right(), rect.bottom()),
    ];
    painter.add(egui::Shape::closed_line(
        corners.to_vec(),
        (1.0, egui::Color32::GRAY),
    ));
    let point = |theta: &[f32]| {
        let weights = top.map(|k| theta[k]);
        let total: f32 = weights.iter().sum::<f32>().max(1e-12);
        let mut p = egui::Vec2::ZERO;
        for (w, c) in weights.iter().zip(corners) {
            p += c.to_vec2() * (w / total);
        }
        p.to_pos2()
    };
    let path: Vec<egui::Pos2> = trace.iter().map(|(_, t)| point(t)).collect();
    painter.add(egui::Shape::line(
        path,
        (1.5, egui::Color32::from_rgb(255, 200, 60)),
    ));
    painter.circle_filled(point(now), 3.0, egui::Color32::WHITE);
}

/// The first example's variables as an image: normalised entropy of θ (discrete: bright = undecided), or μ.
fn flow_image(config: &ModelConfig, watch: &BfnWatch, discrete: bool) -> egui::ColorImage {
    let pixels = config.pixel_layout();
    egui::ColorImage::new(
        [pixels.width, pixels.height],
        (0..pixels.height * pixels.width)
            .map(|p| {
                let v = config.variable_of_pixel(p / pixels.width, p % pixels.width, 0);
                let theta = variable_theta(config, &watch.theta, v);
                let level = if discrete {
                    let entropy: f32 = theta
                        .iter()
                        .filter(|&&q| q > 0.0)
                        .map(|&q| -q * q.ln())
                        .sum();
                    entropy / (theta.len().max(2) as f32).ln()
                } else {
                    (theta.first().copied().unwrap_or(0.0).clamp(-1.0, 1.0) + 1.0) / 2.0
                };
                egui::Color32::from_gray((level.clamp(0.0, 1.0) * 255.0) as u8)
            })
            .collect(),
    )
}
