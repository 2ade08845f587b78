//! The brush on a generator's preview: paint a class (a height, a colour) that must stay, erase to free, choose
//! how strongly it is held, select a region to allow only some classes there or to sample it again while keeping
//! the rest. What it paints is the generator's [`BfnConstraints`], so it survives restarts and new seeds, and every
//! stroke starts a new run under the new constraints.

use bevy::prelude::*;
use bevy_egui::egui;

use crate::flow::{AnyDatum, Known};
use crate::model::content::{data_units, palette};
use crate::model::{KindConfig, Layout, ModelConfig};
use crate::plugin::{BfnConstraints, BfnRegenerate};

/// What a stroke on the preview does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Tool {
    /// Nothing: the preview is only looked at.
    #[default]
    Off,
    Paint,
    Erase,
    Select,
}

/// One panel's brush.
#[derive(Debug)]
pub(super) struct Brush {
    tool: Tool,
    /// The class painted (discrete data).
    class: u32,
    /// The value painted, per channel, in model units [−1, 1] (continuous and discretised data).
    value: [f32; 4],
    strength: f64,
    /// Cells per side.
    size: usize,
    /// Corners of the selected cells (inclusive), while dragging and after.
    selection: Option<[(usize, usize); 2]>,
    /// Per class, whether "allow only" lets it in the selection.
    allowed: Vec<bool>,
}

impl Default for Brush {
    fn default() -> Self {
        Self {
            tool: Tool::Off,
            class: 1,
            value: [0.0; 4],
            strength: 1.0,
            size: 1,
            selection: None,
            allowed: Vec::new(),
        }
    }
}

/// Whether a model's examples are grids a brush can paint (maps, images, terrain), not sequences.
pub(super) fn paints(config: &ModelConfig) -> bool {
    config.pixel_layout().height > 1
}

/// The brush's tools, shown above the preview they paint on.
pub(super) fn tools(ui: &mut egui::Ui, brush: &mut Brush, config: &ModelConfig) {
    let channels = config.pixel_layout().channels;
    ui.horizontal(|ui| {
        ui.label("brush");
        for (tool, name) in [
            (Tool::Off, "off"),
            (Tool::Paint, "paint"),
            (Tool::Erase, "erase"),
            (Tool::Select, "select"),
        ] {
            ui.selectable_value(&mut brush.tool, tool, name);
        }
    });
    if brush.tool != Tool::Paint {
        return;
    }
    ui.horizontal(|ui| {
        match config.kind {
            KindConfig::Discrete { classes, .. } => {
                brush.class = brush.class.min(classes - 1);
                egui::ComboBox::from_id_salt("brush class")
                    .selected_text(class_name(config, brush.class))
                    .show_ui(ui, |ui| {
                        for class in 0..classes {
                            ui.selectable_value(&mut brush.class, class, class_name(config, class));
                        }
                    });
            }
            _ if channels == 1 => {
                let units = data_units(config);
                ui.add(
                    egui::Slider::new(&mut brush.value[0], -1.0..=1.0)
                        .custom_formatter(|v, _| format!("{:.1}", units(v as f32))),
                );
            }
            _ => {
                // Colours on the sheets' scale: [−1, 1] is 0–255.
                let [r, g, b, a] = brush.value.map(|v| (v + 1.0) / 2.0);
                let mut colour = egui::Rgba::from_rgba_unmultiplied(r, g, b, a);
                if egui::color_picker::color_edit_button_rgba(
                    ui,
                    &mut colour,
                    egui::color_picker::Alpha::OnlyBlend,
                )
                .changed()
                {
                    brush.value = colour.to_rgba_unmultiplied().map(|c| c * 2.0 - 1.0);
                }
            }
        }
        ui.add(egui::Slider::new(&mut brush.strength, 0.0..=1.0).text("strength"))
            .on_hover_text("held while t < strength: 1 keeps it, less only steers the start");
        ui.add(egui::Slider::new(&mut brush.size, 1..=4).text("size"));
    });
}

fn class_name(config: &ModelConfig, class: u32) -> String {
    config
        .legend
        .get(class as usize)
        .map_or_else(|| class.to_string(), |entry| entry.clone())
}

/// Where the preview was drawn, and what it shows: `batch` examples of `layout` side by side.
pub(super) struct Canvas {
    pub rect: egui::Rect,
    pub layout: Layout,
    pub batch: usize,
}

impl Canvas {
    /// The cell under `pos` (in any example), if any.
    fn cell(&self, pos: egui::Pos2) -> Option<(usize, usize)> {
        let scale = self.rect.height() / self.layout.height as f32;
        let x = ((pos.x - self.rect.min.x) / scale).floor();
        let y = ((pos.y - self.rect.min.y) / scale).floor();
        let columns = (self.layout.width * self.batch) as f32;
        (x >= 0.0 && y >= 0.0 && x < columns && y < self.layout.height as f32)
            .then(|| (x as usize % self.layout.width, y as usize))
    }

    /// Cell (`x`, `y`) of `example` on screen.
    fn rect_of(&self, example: usize, x: usize, y: usize) -> egui::Rect {
        let scale = self.rect.height() / self.layout.height as f32;
        let min = self.rect.min
            + egui::vec2(
                (example * self.layout.width + x) as f32 * scale,
                y as f32 * scale,
            );
        egui::Rect::from_min_size(min, egui::vec2(scale, scale))
    }
}

/// Applies a stroke on the preview to `constraints`; returns whether they changed.
pub(super) fn stroke(
    response: &egui::Response,
    canvas: &Canvas,
    brush: &mut Brush,
    config: &ModelConfig,
    constraints: &mut BfnConstraints,
) -> bool {
    let Some(cell) = response.interact_pointer_pos().and_then(|p| canvas.cell(p)) else {
        return false;
    };
    let layout = canvas.layout;
    match brush.tool {
        Tool::Off => false,
        Tool::Select => {
            let start = match brush.selection {
                Some([start, _]) if !response.drag_started() => start,
                _ => cell,
            };
            brush.selection = Some([start, cell]);
            false
        }
        Tool::Paint | Tool::Erase => {
            let known: Vec<_> = (0..layout.channels)
                .map(|channel| {
                    (brush.tool == Tool::Paint).then(|| Known {
                        value: match config.kind {
                            KindConfig::Discrete { .. } => AnyDatum::Class(brush.class),
                            _ => AnyDatum::Value(brush.value[channel.min(3)]),
                        },
                        strength: brush.strength,
                    })
                })
                .collect();
            let before = constraints.clone();
            let (cx, cy) = cell;
            for (x, y) in (0..brush.size).flat_map(|dx| (0..brush.size).map(move |dy| (dx, dy))) {
                constraints.paint(layout, cx + x, cy + y, &known);
                if brush.tool == Tool::Erase && !constraints.0.allowed.is_empty() {
                    constraints.allow(layout, cx + x, cy + y, None);
                }
            }
            *constraints != before
        }
    }
}

/// What the selection can be used for: allow only some classes in it, or sample it again keeping the rest.
pub(super) fn selection_actions(
    ui: &mut egui::Ui,
    commands: &mut Commands,
    entity: Entity,
    brush: &mut Brush,
    canvas: &Canvas,
    finished: bool,
    constraints: &mut BfnConstraints,
) -> bool {
    if brush.tool != Tool::Select {
        return false;
    }
    let Some([(x0, y0), (x1, y1)]) = brush.selection else {
        ui.label("drag on the preview to select cells");
        return false;
    };
    let (xs, ys) = (x0.min(x1)..=x0.max(x1), y0.min(y1)..=y0.max(y1));
    let layout = canvas.layout;
    let selected = |x: usize, y: usize| xs.contains(&x) && ys.contains(&y);
    if ui
        .add_enabled(finished, egui::Button::new("keep everything but the selection"))
        .on_hover_text("keeps the finished result outside the selection and samples it again, on the next seed")
        .clicked()
    {
        let region = (0..layout.tokens())
            .map(|cell| selected(cell % layout.width, cell / layout.width))
            .collect();
        commands.trigger(BfnRegenerate { entity, region });
    }
    let mut changed = false;
    if !brush.allowed.is_empty() {
        ui.horizontal_wrapped(|ui| {
            for (class, allowed) in brush.allowed.iter_mut().enumerate() {
                ui.checkbox(allowed, class.to_string());
            }
        });
        ui.horizontal(|ui| {
            let classes: Vec<u32> = (0..brush.allowed.len() as u32)
                .filter(|&c| brush.allowed[c as usize])
                .collect();
            let mut set = |classes: Option<Vec<u32>>| {
                for (x, y) in xs.clone().flat_map(|x| ys.clone().map(move |y| (x, y))) {
                    constraints.allow(layout, x, y, classes.clone());
                }
                changed = true;
            };
            if ui
                .add_enabled(!classes.is_empty(), egui::Button::new("allow only these"))
                .clicked()
            {
                set(Some(classes));
            }
            if ui.button("allow all").clicked() {
                set(None);
            }
        });
    }
    changed
}

/// Sizes the "allow only" choice to the model's classes (none for value models).
pub(super) fn fit(brush: &mut Brush, config: &ModelConfig) {
    let classes = match config.kind {
        KindConfig::Discrete { classes, .. } => classes as usize,
        _ => 0,
    };
    brush.allowed.resize(classes, true);
}

/// Marks on the preview: painted cells outlined (solid when held, fainter the softer the hint), cells with
/// allowed classes dotted in the colour of the first allowed class, and the selection.
pub(super) fn overlay(
    painter: &egui::Painter,
    canvas: &Canvas,
    brush: &Brush,
    config: &ModelConfig,
    constraints: &BfnConstraints,
) {
    let layout = canvas.layout;
    let n = layout.variables();
    let colours = palette(config);
    for example in 0..canvas.batch {
        for (y, x) in (0..layout.height).flat_map(|y| (0..layout.width).map(move |x| (y, x))) {
            let first = ((example * n) % constraints.0.known.len().max(1))
                + (y * layout.width + x) * layout.channels;
            let rect = canvas.rect_of(example, x, y);
            if let Some(Some(known)) = constraints.0.known.get(first) {
                let alpha = (64.0 + 191.0 * known.strength) as u8;
                painter.rect_stroke(
                    rect.shrink(0.5),
                    0.0,
                    egui::Stroke::new(
                        1.5,
                        egui::Color32::from_rgba_unmultiplied(255, 215, 0, alpha),
                    ),
                    egui::StrokeKind::Inside,
                );
            }
            let first_allowed = ((example * n) % constraints.0.allowed.len().max(1))
                + (y * layout.width + x) * layout.channels;
            if let Some(Some(allowed)) = constraints.0.allowed.get(first_allowed) {
                let [r, g, b, _] = allowed
                    .first()
                    .and_then(|&c| colours.get(c as usize))
                    .copied()
                    .unwrap_or([0, 200, 255, 255]);
                painter.circle_filled(
                    rect.center(),
                    rect.width() * 0.18,
                    egui::Color32::from_rgb(r, g, b),
                );
                painter.circle_stroke(
                    rect.center(),
                    rect.width() * 0.18,
                    egui::Stroke::new(1.0, egui::Color32::from_rgb(0, 200, 255)),
                );
            }
        }
    }
    if let (Tool::Select, Some([(x0, y0), (x1, y1)])) = (brush.tool, brush.selection) {
        for example in 0..canvas.batch {
            let rect = canvas
                .rect_of(example, x0.min(x1), y0.min(y1))
                .union(canvas.rect_of(example, x0.max(x1), y0.max(y1)));
            painter.rect_stroke(
                rect,
                0.0,
                egui::Stroke::new(1.5, egui::Color32::WHITE),
                egui::StrokeKind::Middle,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cell_under_the_pointer_is_found_in_any_example_and_nowhere_outside() {
        // Two 16 × 8 examples side by side at 10 points a cell, from (100, 50).
        let canvas = Canvas {
            rect: egui::Rect::from_min_size(egui::pos2(100.0, 50.0), egui::vec2(320.0, 80.0)),
            layout: Layout {
                height: 8,
                width: 16,
                channels: 1,
            },
            batch: 2,
        };
        assert_eq!(canvas.cell(egui::pos2(100.0, 50.0)), Some((0, 0)));
        assert_eq!(canvas.cell(egui::pos2(259.0, 129.0)), Some((15, 7)));
        assert_eq!(
            canvas.cell(egui::pos2(265.0, 55.0)),
            Some((0, 0)),
            "the second example"
        );
        assert_eq!(canvas.cell(egui::pos2(99.0, 55.0)), None);
        assert_eq!(canvas.cell(egui::pos2(421.0, 55.0)), None);
        assert_eq!(canvas.cell(egui::pos2(150.0, 131.0)), None);
        assert_eq!(
            canvas.rect_of(1, 0, 0),
            egui::Rect::from_min_size(egui::pos2(260.0, 50.0), egui::vec2(10.0, 10.0))
        );
    }
}
