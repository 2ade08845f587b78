//! The studio: every shipped model file generating at once on the GPU, each drawn as it forms (names as text, read
//! off θ as it sharpens), the dungeon model one whole level of 64 × 48 cells in one pass, a conditional model one
//! example of each of its classes, captioned with its model, steps and sampler, with the designer panels to steer
//! them (steps, steps per frame, σ₁ or β₁, seed, batch, restart / pause / step) and the frame panel (the budget all
//! generators share, what the last frame recorded).
//!
//! ```text
//! cargo run --release --example studio --features studio                    # the window
//! cargo run --release --example studio --features studio -- --headless      # no window: results to target/studio/
//! cargo run --release --example studio --features studio -- --screenshot studio.png   # window, picture, exit
//! cargo run --release --example studio --features studio -- --steps 20     # every model in 20 steps
//! cargo run --release --example studio --features studio -- --paint        # a corridor painted on the level
//! ```
//!
//! The panel's brush paints on a map's or an image's preview (the level's panel is open): a class (a height, a
//! colour) that must stay, erased to free, at a strength; a selection allows only some classes, or is sampled again
//! keeping the rest.
//!
//! Each model samples with the sampler and steps its file says its samples need (`docs/models.md`): sprites'
//! opacity comes out squeezed in 50 steps, so they take 200 — on a GPU; terrain takes 50 of the sde2 solver. A
//! software one (Mesa's lavapipe) would take minutes over the sprites' 200, so there every model takes 50.

#[path = "common/corridor.rs"]
mod corridor;
#[path = "common/screenshot.rs"]
mod screenshot;

use std::path::PathBuf;
use std::time::Duration;

use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::render::renderer::RenderAdapterInfo;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_bfn::model::content::png_bytes;
use bevy_bfn::model::{Guidance, KindConfig, Samples};
use bevy_bfn::plugin::panels::BfnPanelsPlugin;
use bevy_bfn::plugin::{
    BfnFinished, BfnGenerator, BfnModel, BfnOutput, BfnPlugin, BfnProgress, BfnWatch, RgbaImage,
};
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

/// What to run, from the command line.
#[derive(Resource, Clone, Debug)]
struct Options {
    headless: bool,
    screenshot: Option<PathBuf>,
    out: PathBuf,
    /// Steps for every model instead of each model's own.
    steps: Option<u32>,
    seed: u64,
    /// Paint the paint example's corridor on the dungeon maps.
    paint: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        headless: false,
        screenshot: None,
        out: PathBuf::from("target/studio"),
        steps: None,
        seed: 1,
        paint: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--headless" => options.headless = true,
            "--paint" => options.paint = true,
            "--screenshot" => options.screenshot = Some(value("--screenshot")?.into()),
            "--out" => options.out = value("--out")?.into(),
            "--steps" => {
                options.steps = Some(
                    value("--steps")?
                        .parse()
                        .map_err(|e| format!("--steps: {e}"))?,
                )
            }
            "--seed" => {
                options.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; see the example's doc comment"
                ));
            }
        }
    }
    Ok(options)
}

/// Every flow takes about this many frames, whatever its steps, so that all of them can be watched forming.
const FRAMES_PER_FLOW: u32 = 12;

/// The guidance weight of the conditional models (`docs/models.md`).
const CLASS_GUIDANCE: f64 = 2.0;

/// The steps every model takes on a software GPU, where a step of sprites or of a U-Net costs about a second.
const SOFTWARE_GPU_STEPS: u32 = 50;

/// One generator of the studio.
struct Shown {
    model: &'static str,
    batch: usize,
    /// Where its sprite goes: the left two thirds of the window hold the content, the panels stack on the right.
    at: Vec2,
    /// How large a pixel is drawn.
    scale: f32,
    /// A canvas of its own instead of the model's (a U-Net's whole level).
    canvas: Option<(usize, usize)>,
}

/// The dungeon level: the U-Net dungeon model's 16 × 16 maps grown to a level in one pass.
const LEVEL: (usize, usize) = (64, 48);

/// Every shipped model file; a conditional one draws one example of each of its classes, side by side.
const MODELS: [Shown; 8] = [
    Shown {
        model: "dungeon",
        batch: 1,
        at: Vec2::new(-490.0, 190.0),
        scale: 4.0,
        canvas: Some(LEVEL),
    },
    Shown {
        model: "sprites",
        batch: 4,
        at: Vec2::new(-170.0, 250.0),
        scale: 4.0,
        canvas: None,
    },
    Shown {
        model: "digits",
        batch: 4,
        at: Vec2::new(100.0, 250.0),
        scale: 5.0,
        canvas: None,
    },
    Shown {
        model: "terrain",
        batch: 2,
        at: Vec2::new(-470.0, 20.0),
        scale: 6.0,
        canvas: None,
    },
    // floor, wall, feature
    Shown {
        model: "sprites-conditional",
        batch: 3,
        at: Vec2::new(-150.0, 40.0),
        scale: 4.0,
        canvas: None,
    },
    // 0 to 9
    Shown {
        model: "digits-conditional",
        batch: 10,
        at: Vec2::new(-250.0, -140.0),
        scale: 3.5,
        canvas: None,
    },
    Shown {
        model: "names",
        batch: 6,
        at: Vec2::new(-500.0, -205.0),
        scale: 9.0,
        canvas: None,
    },
    // one name of each class
    Shown {
        model: "names-conditional",
        batch: 2,
        at: Vec2::new(-150.0, -205.0),
        scale: 9.0,
        canvas: None,
    },
];

fn main() -> AppExit {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return AppExit::error();
        }
    };
    let mut app = App::new();
    if options.headless {
        app.add_plugins((
            DefaultPlugins
                .set(WindowPlugin {
                    primary_window: None,
                    exit_condition: ExitCondition::DontExit,
                    ..default()
                })
                .disable::<WinitPlugin>(),
            ScheduleRunnerPlugin::run_loop(Duration::ZERO),
        ));
    } else {
        app.add_plugins((
            DefaultPlugins
                .set(ImagePlugin::default_nearest())
                .set(WindowPlugin {
                    primary_window: Some(Window {
                        title: "bevy_bfn studio".into(),
                        resolution: (1280, 800).into(),
                        ..default()
                    }),
                    ..default()
                }),
            BfnPanelsPlugin,
        ))
        .add_systems(Update, names_from_theta)
        .add_systems(EguiPrimaryContextPass, captions);
    }
    app.add_plugins(BfnPlugin)
        .insert_resource(options)
        .init_resource::<Written>()
        .add_systems(Startup, setup)
        .add_systems(
            Update,
            (paint_corridor, pace, write_results, finish).chain(),
        )
        .run()
}

fn setup(
    mut commands: Commands,
    assets: Res<AssetServer>,
    options: Res<Options>,
    adapter: Option<Res<RenderAdapterInfo>>,
) {
    if !options.headless {
        commands.spawn(Camera2d);
    }
    // lavapipe runs the kernels on the CPU: sprites' 200 steps would take it minutes.
    let software_gpu = adapter.is_some_and(|a| a.device_type == wgpu::DeviceType::Cpu);
    if software_gpu && options.steps.is_none() {
        warn!(
            "a software GPU: every model samples in {SOFTWARE_GPU_STEPS} steps, so the sprites' opacity comes \
             out spread (docs/models.md); `--steps 200` for their full flows, minutes here"
        );
    }
    let steps = options.steps.or(software_gpu.then_some(SOFTWARE_GPU_STEPS));
    for Shown {
        model: name,
        batch,
        at,
        scale,
        canvas,
    } in MODELS
    {
        let mut generator = BfnGenerator::new(assets.load(format!("models/{name}.safetensors")))
            .with_batch(batch)
            .with_steps_per_frame(0)
            .with_seed(options.seed);
        generator.steps = steps;
        generator.canvas = canvas;
        if name.ends_with("-conditional") {
            generator = generator.with_guidance(Guidance {
                labels: (0..batch as u32).map(Some).collect(),
                weight: CLASS_GUIDANCE,
            });
        }
        let mut entity = commands.spawn((Name::new(name), generator, Unpaced));
        if !options.headless {
            entity
                .insert(Transform::from_translation(at.extend(0.0)).with_scale(Vec3::splat(scale)));
            if name.starts_with("names") {
                // Letters, not colour bars: read off θ while it forms (hence the watch), then the result.
                entity.insert((BfnWatch::default(), AsText::default()));
            } else {
                // The plugin keeps the sprite on the generator's preview.
                entity.insert(Sprite::default());
            }
            // The open panel starts with its flow views on.
            if name == "dungeon" {
                entity.insert(BfnWatch::default());
            }
        }
        if name == "dungeon" && options.paint {
            entity.insert(Unpainted);
        }
    }
}

/// The dungeon level, until its model has loaded and the corridor is painted on it (`--paint`).
#[derive(Component)]
struct Unpainted;

fn paint_corridor(
    mut commands: Commands,
    generators: Query<(Entity, &BfnGenerator), With<Unpainted>>,
    models: Res<Assets<BfnModel>>,
) {
    for (entity, generator) in &generators {
        if let Some(model) = models.get(&generator.model) {
            commands.entity(entity).remove::<Unpainted>();
            let level = match generator.weights(model) {
                Ok(level) => level,
                Err(error) => {
                    error!("--paint: {error}");
                    continue;
                }
            };
            match corridor::constraints(level.config()) {
                Ok(constraints) => commands.entity(entity).insert(constraints),
                Err(error) => {
                    error!("--paint: {error}");
                    continue;
                }
            };
        }
    }
}

/// A generator whose steps per frame wait for its n, which its model file gives once loaded.
#[derive(Component)]
struct Unpaced;

/// Sets each generator's steps per frame, once, so that its flow takes [`FRAMES_PER_FLOW`] frames; the designer
/// may change them after.
fn pace(
    mut commands: Commands,
    mut generators: Query<(Entity, &mut BfnGenerator, &BfnProgress), With<Unpaced>>,
) {
    for (entity, mut generator, progress) in &mut generators {
        if progress.steps > 0 {
            generator.steps_per_frame = progress.steps.div_ceil(FRAMES_PER_FLOW);
            commands.entity(entity).remove::<Unpaced>();
        }
    }
}

/// A generator of strings shown as text: the most probable letters of θ while it forms, then the result.
#[derive(Component, Default)]
struct AsText(Vec<String>);

/// Reads the letters off each watched text generator's θ: per variable the class θ holds most probable.
fn names_from_theta(
    mut generators: Query<(&BfnGenerator, &BfnWatch, &BfnProgress, &mut AsText)>,
    models: Res<Assets<BfnModel>>,
) {
    for (generator, watch, progress, mut text) in &mut generators {
        let Some(model) = models.get(&generator.model) else {
            continue;
        };
        let config = model.weights.config();
        let KindConfig::Discrete { classes, .. } = config.kind else {
            continue;
        };
        let classes = classes as usize;
        if progress.finished || watch.theta.is_empty() {
            continue;
        }
        let most_probable = watch
            .theta
            .chunks_exact(classes)
            .map(|theta| {
                (0..classes)
                    .max_by(|&a, &b| theta[a].total_cmp(&theta[b]))
                    .unwrap_or(0) as u32
            })
            .collect();
        if let BfnOutput::Strings(words) =
            BfnOutput::from_samples(config, &Samples::Classes(most_probable))
        {
            text.0 = words;
        }
    }
}

/// What a caption is made from.
type Captioned<'a> = (
    Entity,
    &'a Name,
    &'a BfnGenerator,
    &'a BfnProgress,
    &'a GlobalTransform,
    Option<&'a AsText>,
);

/// Over each generator, a caption (model, steps, sampler), and under a text generator's caption its strings.
fn captions(
    mut contexts: EguiContexts,
    camera: Single<(&Camera, &GlobalTransform)>,
    generators: Query<Captioned>,
    models: Res<Assets<BfnModel>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let (camera, view) = *camera;
    for (entity, name, generator, progress, transform, text) in &generators {
        // On the generator's canvas: the level is 64 × 48 cells, not the model's 16 × 16.
        let Some(Ok(weights)) = models.get(&generator.model).map(|m| generator.weights(m)) else {
            continue;
        };
        let config = weights.config();
        let pixels = config.pixel_layout();
        // The sprite is centred on its transform: its top-left corner, in world units.
        let half = Vec2::new(
            (pixels.width * generator.batch) as f32,
            pixels.height as f32,
        ) * transform.scale().truncate()
            / 2.0;
        let corner = transform.translation() + Vec3::new(-half.x, half.y, 0.0);
        let Ok(at) = camera.world_to_viewport(view, corner) else {
            continue;
        };
        let classes = match generator.guidance.labels.as_slice() {
            [] => String::new(),
            asked => {
                let names: Vec<&str> = asked
                    .iter()
                    .map(|c| {
                        c.and_then(|c| config.labels.get(c as usize))
                            .map_or("none", String::as_str)
                    })
                    .collect();
                format!(
                    " · {} · guidance {}",
                    names.join(" "),
                    generator.guidance.weight
                )
            }
        };
        let caption = format!(
            "{name} · {} steps · {} sampler{classes}{}",
            generator.steps_for(config),
            generator.sampler_for(config),
            if progress.finished { " · done" } else { "" }
        );
        egui::Area::new(egui::Id::new(("caption", entity)))
            .order(egui::Order::Background)
            .fixed_pos(egui::pos2(at.x, at.y - 20.0))
            .show(ctx, |ui| {
                ui.add(
                    egui::Label::new(egui::RichText::new(caption).color(egui::Color32::WHITE))
                        .wrap_mode(egui::TextWrapMode::Extend),
                );
                if let Some(AsText(words)) = text {
                    for word in words {
                        ui.label(
                            egui::RichText::new(word)
                                .monospace()
                                .size(18.0)
                                .color(egui::Color32::from_rgb(255, 220, 140)),
                        );
                    }
                }
            });
    }
    Ok(())
}

/// Generators whose results have been written (headless) or shown.
#[derive(Resource, Default)]
struct Written(Vec<Entity>);

fn write_results(
    mut finished: MessageReader<BfnFinished>,
    names: Query<&Name>,
    mut texts: Query<&mut AsText>,
    options: Res<Options>,
    mut written: ResMut<Written>,
) -> Result {
    for message in finished.read() {
        written.0.push(message.entity);
        if let (Ok(mut text), BfnOutput::Strings(words)) =
            (texts.get_mut(message.entity), &message.output)
        {
            text.0.clone_from(words);
        }
        let name = names.get(message.entity)?.as_str();
        let text = describe(&message.output);
        info!("{name}: {}", text.lines().next().unwrap_or(""));
        if !options.headless {
            continue;
        }
        std::fs::create_dir_all(&options.out)?;
        match &message.output {
            BfnOutput::Tiles(_) | BfnOutput::Strings(_) => {
                std::fs::write(options.out.join(format!("{name}.txt")), text)?;
            }
            BfnOutput::Images(images) => write_side_by_side(&options, name, images)?,
            BfnOutput::HeightFields(fields) => {
                let (low, high) = fields
                    .iter()
                    .flat_map(|f| f.heights.iter().copied())
                    .fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(v), h.max(v)));
                let grey: Vec<RgbaImage> = fields
                    .iter()
                    .map(|field| RgbaImage {
                        width: field.width,
                        height: field.height,
                        rgba: field
                            .heights
                            .iter()
                            .flat_map(|&h| {
                                let g = ((h - low) / (high - low).max(1e-6) * 255.0) as u8;
                                [g, g, g, 255]
                            })
                            .collect(),
                    })
                    .collect();
                write_side_by_side(&options, name, &grey)?;
            }
        }
    }
    Ok(())
}

/// Writes `name.png` with the images of a batch side by side.
fn write_side_by_side(options: &Options, name: &str, images: &[RgbaImage]) -> std::io::Result<()> {
    let (width, height) = (images[0].width * images.len(), images[0].height);
    let mut rgba = vec![0u8; width * height * 4];
    for (e, image) in images.iter().enumerate() {
        for y in 0..height {
            let row = &image.rgba[y * image.width * 4..(y + 1) * image.width * 4];
            let at = (y * width + e * image.width) * 4;
            rgba[at..at + row.len()].copy_from_slice(row);
        }
    }
    std::fs::write(
        options.out.join(format!("{name}.png")),
        png_bytes(width, height, &rgba)?,
    )
}

/// A result as text: maps as glyphs, names as lines, images and heights by their size.
fn describe(output: &BfnOutput) -> String {
    match output {
        BfnOutput::Tiles(maps) => maps
            .iter()
            .map(|map| {
                (0..map.height)
                    .map(|y| (0..map.width).map(|x| map.symbol(x, y)).collect::<String>() + "\n")
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n"),
        BfnOutput::Strings(names) => names.join("\n") + "\n",
        BfnOutput::Images(images) => format!(
            "{} images of {}×{}",
            images.len(),
            images[0].width,
            images[0].height
        ),
        BfnOutput::HeightFields(fields) => format!(
            "{} height fields of {}×{}, {:.0}–{:.0}",
            fields.len(),
            fields[0].width,
            fields[0].height,
            fields
                .iter()
                .flat_map(|f| f.heights.iter().copied())
                .fold(f32::MAX, f32::min),
            fields
                .iter()
                .flat_map(|f| f.heights.iter().copied())
                .fold(f32::MIN, f32::max),
        ),
    }
}

/// Headless: exit once every generator has delivered (or one failed). With `--screenshot`: once they have, take
/// the picture, and exit a few frames later, when it is on disk.
fn finish(
    mut commands: Commands,
    generators: Query<(&Name, &BfnProgress)>,
    written: Res<Written>,
    options: Res<Options>,
    mut frames_since_done: Local<u32>,
    mut exit: MessageWriter<AppExit>,
) {
    if let Some((name, progress)) = generators.iter().find(|(_, p)| p.error.is_some()) {
        error!("{name}: {}", progress.error.as_deref().unwrap_or_default());
        if options.headless || options.screenshot.is_some() {
            exit.write(AppExit::error());
        }
        return;
    }
    if written.0.len() < MODELS.len() {
        return;
    }
    if options.headless {
        info!("results written to {}", options.out.display());
        exit.write(AppExit::Success);
    } else if let Some(path) = &options.screenshot {
        screenshot::picture_then_exit(
            &mut frames_since_done,
            path.clone(),
            &mut commands,
            &mut exit,
        );
    }
}
