//! `bfn-train`: turns real data into the model files the plugin loads.
//!
//! ```text
//! bfn-train train --config configs/digits.toml [--resume]
//! bfn-train eval --model assets/models/digits.safetensors
//! bfn-train sample --model assets/models/digits.safetensors --steps 50 --seed 1 --out digits.png
//! bfn-train data-sheet --config configs/digits.toml --out digits-test.npy
//! ```

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use bevy_bfn::flow::SamplingMethod;
use bevy_bfn::measure::Quality;
use bevy_bfn::measure::eval::evaluate;
use bevy_bfn::measure::game_measures::{
    self, GameQuality, game_quality, level_measures, outside_classes, walkable_classes,
};
use bevy_bfn::measure::nearest_class::nearest_class;
use bevy_bfn::measure::plot::{PLOT_SIZE, line_plot};
use bevy_bfn::measure::quality::pixel_values;
use bevy_bfn::measure::sample_mosaic::sample_mosaic;
use bevy_bfn::measure::sample_sheet::{
    is_array_path, sample, sample_guided, sample_with, write_sheet,
};
use bevy_bfn::measure::seams::{
    SeamRun, SeamScores, half_inpainting, mosaic_seams, reference_patterns,
};
use bevy_bfn::measure::user_constraints::{FreeMarks, UserInput, user_constraints};
use bevy_bfn::model::content::{example_count, png_bytes};
use bevy_bfn::model::mosaic::MapShape;
use bevy_bfn::model::{Limits, ModelConfig, Samples, Weights};
use bevy_bfn::net::use_candle_ops;
use bevy_bfn::train::config::TrainConfig;
use bevy_bfn::train::dataset::DataSection;
use bevy_bfn::train::dataset::{DataSpec, DataSplit, Dataset, Examples};
use bevy_bfn::train::datasets::{load_section, load_section_with_limits};
use bevy_bfn::train::denoiser::Guidance;
use bevy_bfn::train::trainer::{Progress, Trainer};
use clap::{Parser, Subcommand};

/// Train, evaluate and sample Bayesian Flow Network models for bevy_bfn.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model from a TOML configuration (see configs/); writes the model file and a checkpoint beside it.
    Train {
        /// The configuration.
        #[arg(long)]
        config: PathBuf,
        /// Continue from the checkpoint beside the model file (written by an earlier run of the same config).
        #[arg(long)]
        resume: bool,
        /// Stop after this many steps in all, every stage's counted (the run can be resumed later); default: all of them.
        #[arg(long)]
        until: Option<u32>,
    },
    /// Score a model on the held-out split of the data it was trained on: negative ELBO in bits/dim in
    /// continuous time and at n = 10, 25, 100 steps or those `--steps` names (each with its reconstruction term
    /// L^r), beside the per-variable marginal baseline.
    Eval {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// The numbers of steps n of the discrete-time losses Lⁿ.
        #[arg(long, value_delimiter = ',', default_values_t = [10, 25, 100],
              value_parser = steps())]
        steps: Vec<u32>,
        /// Passes over the held-out split, each with fresh times and flow noise.
        #[arg(long, default_value_t = 8)]
        repeats: u32,
        /// Monte Carlo draws per variable for the discrete-time losses.
        #[arg(long, default_value_t = 64)]
        draws: u32,
        /// Seed of the evaluation's draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Time training steps and sampling for a configuration (nothing is written): median seconds per training
    /// step after warm-up, training examples per second, and samples per second at n sampling steps.
    Bench {
        /// The configuration.
        #[arg(long)]
        config: PathBuf,
        /// Timed training steps (after 2 warm-up steps).
        #[arg(long, default_value_t = 10, value_parser = steps())]
        steps: u32,
        /// Sampling steps n.
        #[arg(long, default_value_t = 50, value_parser = steps())]
        sampling_steps: u32,
        /// Samples drawn at once (0: time training only).
        #[arg(long, default_value_t = 64,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=Limits::default().batch as u64))]
        samples: usize,
        /// Time the training steps again with candle's own operations in place of the U-Net's fused CPU kernels
        /// (convolution, GroupNorm, upsampling), and print the ratio.
        #[arg(long)]
        candle_ops: bool,
    },
    /// Write a sheet of examples of a configuration's data (held out unless `--split train`), drawn as `sample`
    /// draws samples, to put beside a model's sample sheet; or, to `.npy`, the whole split as `sample` writes
    /// samples there, to measure samples against.
    DataSheet {
        /// The configuration.
        #[arg(long)]
        config: PathBuf,
        /// Number of examples, spread evenly over the split (whose neighbours can be near-copies: terrain crops
        /// overlap); default: 32 for a sheet, the whole split for `.npy`.
        #[arg(long, value_parser = at_least_one())]
        count: Option<usize>,
        /// The split to draw from: where a split is not a random subset (terrain's held-out crops are one strip of
        /// the map), the training split shows what the samples should look like.
        #[arg(long, value_enum, default_value_t = DataSplit::Test)]
        split: DataSplit,
        /// The sheet to write (.png, or .txt for sequences), or the NumPy array (.npy) as `sample --help` describes.
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw samples and write a sample sheet: PNG for images and maps, text for words; or the raw samples as a
    /// NumPy array. With --known, keep values painted in a file and generate the rest (inpainting); with --size,
    /// draw maps larger than the model's canvas as overlapping windows (docs/control.md).
    Sample(SampleArgs),
    /// Measure whether seams show, against a map model's held-out split (2×2 class patterns, Jensen–Shannon in
    /// bits, 0 is the data's own): (a) the right half of --count held-out maps inpainted given their left half,
    /// the patterns straddling the boundary (columns w/2 - 1 and w/2) beside the same patterns of --count
    /// unconditional samples of the same seed; (b) --maps maps of --size drawn as a mosaic (plain and tileable),
    /// patterns whose cells more than one window generated (across seams) beside patterns of one window
    /// (inside), the larger set subsampled evenly to the smaller's size. Prints both tables; --out writes them as
    /// Markdown. The same runs as `sample --known`, `sample` and `sample --size` with the same seed and counts,
    /// so scripts/npy-seams.py checks the numbers from their .npy files.
    Seams {
        /// The model file (a map of classes that names its training data).
        #[arg(long)]
        model: PathBuf,
        /// Held-out maps inpainted for (a).
        #[arg(long, default_value_t = 256, value_parser = at_least_one())]
        count: usize,
        /// Completions of each held-out map for (a), and as many unconditional samples.
        #[arg(long, default_value_t = 1, value_parser = at_least_one())]
        completions: usize,
        /// Maps drawn for each mosaic of (b).
        #[arg(long, default_value_t = 16, value_parser = at_least_one())]
        maps: usize,
        /// The mosaics' size, WIDTHxHEIGHT.
        #[arg(long, default_value = "64x48", value_parser = parse_size)]
        size: (usize, usize),
        /// Seed of every run.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Sampling steps n; default: the model file's.
        #[arg(long, value_parser = steps())]
        steps: Option<u32>,
        /// The sampler; default: the model file's.
        #[arg(long)]
        sampler: Option<SamplingMethod>,
        /// The Markdown file to write the tables to.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Score samples against the held-out data for each sampler and number of steps: the Jensen–Shannon divergence
    /// of 2×2 class patterns (maps) or bigrams (sequences), the Fréchet distance of the raw value vectors (images,
    /// heights), and the divergence of the class or value frequencies; 0 is the data's own. Prints a table with
    /// the CPU milliseconds per sample, and with --out writes it as Markdown beside a PNG plot of the main
    /// distance against the steps, one line per sampler in the table's order (blue, orange, green, red, purple).
    Quality {
        /// The model file (it names the data it was trained on, whose held-out split is the reference).
        #[arg(long)]
        model: PathBuf,
        /// The samplers, by name.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "standard,ode1,ode2,sde2,redraw"
        )]
        samplers: Vec<SamplingMethod>,
        /// The numbers of steps n.
        #[arg(long, value_delimiter = ',', default_values_t = [5, 10, 20, 50],
              value_parser = steps())]
        steps: Vec<u32>,
        /// Samples drawn for each sampler and n.
        #[arg(long, default_value_t = 64, value_parser = at_least_one())]
        count: usize,
        /// Seed of the samples.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The split to measure against: held out by default; the training split where the held-out one is not a
        /// random subset (terrain's held-out crops are one strip of the map, lower than most).
        #[arg(long, value_enum, default_value_t = DataSplit::Test)]
        split: DataSplit,
        /// The plot to write (.png); the table goes beside it as .md.
        #[arg(long)]
        out: Option<PathBuf>,
        /// For a conditional model, the guidance weight of the per-class table (`count` samples of each class with
        /// the model's own sampler and steps, each given the class of its nearest example of the split).
        #[arg(long, default_value_t = 2.0)]
        guidance: f64,
        /// For a Crawl map model, also measure whole levels of this size, WIDTHxHEIGHT, at the model's own sampler
        /// and steps (a U-Net draws each in one pass, a GPT as a mosaic), beside every Crawl vault of at least
        /// 32 × 32 cells: the share of cells inside the level, of levels with one walkable region, and of walkable
        /// cells in the largest region.
        #[arg(long, value_parser = parse_size)]
        level_size: Option<(usize, usize)>,
        /// Levels drawn for --level-size.
        #[arg(long, default_value_t = 32, value_parser = at_least_one())]
        levels: usize,
    },
}

/// `bfn-train sample`'s settings.
#[derive(clap::Args)]
struct SampleArgs {
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// Sampling steps n; default: the steps the model's file says its samples need (50 if it says none).
    #[arg(long, value_parser = steps())]
    steps: Option<u32>,
    /// The sampler: standard, ode1, ode2, sde2 or redraw (its default settings); default: the model file's
    /// (standard if it names none). With a sampler other than the file's, give --steps too.
    #[arg(long)]
    sampler: Option<SamplingMethod>,
    /// Seed. A map larger than the canvas seeds window i with seed + i·0x9E3779B97F4A7C15 (wrapping).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of samples; default 32, or the count of a --known array with a leading count axis.
    #[arg(long, value_parser = at_least_one())]
    count: Option<usize>,
    /// Values to keep, in the data's layout of one example (or of the --size map): a .npy array of its shape
    /// ([16, 16] for the dungeon and terrain, [16, 16, 4] for sprites; with a leading axis [N, ...], N samples
    /// each with its own) in the units --out writes (classes, -1 for a free cell; metres or levels 0-255, NaN for
    /// a free value); a PNG of one pixel a cell (the sheets' class colours, or grey levels) with --free-colour
    /// for free cells; or an ASCII map (.txt, a line a row, the legend's glyphs) with --free-char.
    #[arg(long)]
    known: Option<PathBuf>,
    /// The colour of free cells in a --known PNG, as hex RRGGBB.
    #[arg(long, default_value = "ff00ff", value_parser = parse_colour)]
    free_colour: [u8; 3],
    /// The character of free cells in a --known ASCII map.
    #[arg(long, default_value_t = '?')]
    free_char: char,
    /// The strength w in [0, 1] of every known value: held while the sampler's time t < w, so 1 keeps it exactly
    /// and smaller values only steer the start.
    #[arg(long, default_value_t = 1.0)]
    strength: f64,
    /// The classes every cell that is not known may take, comma-separated: legend names (wall, floor), their
    /// glyphs, or indices.
    #[arg(long)]
    allowed: Option<String>,
    /// Draw maps of WIDTHxHEIGHT cells (at least the canvas) as overlapping windows of the canvas, each
    /// constrained by the cells earlier windows generated.
    #[arg(long, value_parser = parse_size)]
    size: Option<(usize, usize)>,
    /// The class every sample is asked for, by name (`bfn-train eval` lists a model's classes): a conditional
    /// model only.
    #[arg(long)]
    class: Option<String>,
    /// The classifier-free guidance weight w ≥ 0 with --class: the output is (1 + w)·conditional − w·
    /// unconditional, so 0 is the plain conditional model and larger weights give samples more typical of the
    /// class and less varied (2 is the default, docs/models.md).
    #[arg(long, default_value_t = 2.0)]
    guidance: f64,
    /// Make the map wrap around (its edges continue each other), for tiling; the map must be larger than the
    /// canvas (default size: twice the canvas).
    #[arg(long)]
    tileable: bool,
    /// The sheet to write (.png, or .txt for sequences), or, for a path ending in .npy, the samples as a NumPy
    /// array (format 1.0, C order): classes as <u4, shape [count, length] for sequences and [count, height,
    /// width] for maps; values as <f4 in the data's units — terrain heights in metres (the model's
    /// normalisation; model units [-1, 1] if it has none), image channels on the sheets' scale 0-255 (level k
    /// of K at 255·k/(K - 1)) — shape [count, height, width], with a last axis of channels where there are
    /// several (RGBA sprites). The data's pixels, never the network's patches.
    #[arg(long)]
    out: PathBuf,
}

/// `--free-colour`: six hex digits, with or without a leading '#'.
fn parse_colour(text: &str) -> Result<[u8; 3], String> {
    let hex = text.trim_start_matches('#');
    let byte = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
    };
    match (hex.len(), byte(0), byte(2), byte(4)) {
        (6, Some(r), Some(g), Some(b)) => Ok([r, g, b]),
        _ => Err(format!("{text:?} is not a colour RRGGBB in hex")),
    }
}

/// `--size`: WIDTHxHEIGHT, both positive.
fn parse_size(text: &str) -> Result<(usize, usize), String> {
    text.split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
        .filter(|&(w, h)| w > 0 && h > 0)
        .ok_or_else(|| format!("{text:?} is not a size WIDTHxHEIGHT of positive numbers (64x48)"))
}

/// Counts of examples: none is nothing to sample or measure, and more than `Limits::batch` is a typo, not a sheet,
/// so both are refused up front.
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..=Limits::default().batch as u64)
}

/// Numbers of steps n: at least one, and at most `Limits::sampling_steps` (each step is a network call, and 10⁹
/// of them run for days).
fn steps() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=i64::from(Limits::default().sampling_steps))
}

fn main() -> ExitCode {
    bevy_bfn::train::keep_freed_memory();
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error>;

fn run(command: Command) -> Result<(), AnyError> {
    match command {
        Command::Train {
            config,
            resume,
            until,
        } => train(config, resume, until),
        Command::Eval {
            model,
            steps,
            repeats,
            draws,
            seed,
        } => eval(model, &steps, repeats, draws, seed),
        Command::Bench {
            config,
            steps,
            sampling_steps,
            samples,
            candle_ops,
        } => bench(config, steps, sampling_steps, samples, candle_ops),
        Command::DataSheet {
            config,
            count,
            split,
            out,
        } => data_sheet(config, count, split, out),
        Command::Sample(args) => sample_command(&args),
        Command::Seams {
            model,
            count,
            completions,
            maps,
            size: (width, height),
            seed,
            steps,
            sampler,
            out,
        } => {
            let weights = Weights::load(&model)?;
            let (steps, method) = steps_and_sampler(weights.config(), steps, sampler)?;
            let run = SeamRun {
                weights: &weights,
                count,
                steps,
                seed,
                method,
            };
            let table = seams(&model, run, completions, maps, (width, height))?;
            if let Some(out) = out {
                std::fs::write(&out, &table)
                    .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
                eprintln!("wrote {}", out.display());
            }
            Ok(())
        }
        Command::Quality {
            model,
            samplers,
            steps,
            count,
            seed,
            split,
            out,
            guidance,
            level_size,
            levels,
        } => {
            let runs = Runs {
                samplers: &samplers,
                steps: &steps,
                count,
                seed,
            };
            let mut table = quality(&model, &runs, split, out.as_deref(), guidance)?;
            if let Some(size) = level_size {
                table.push_str(&level_table(&model, size, levels, seed)?);
            }
            if let Some(out) = out {
                let markdown = out.with_extension("md");
                std::fs::write(&markdown, &table)
                    .map_err(|e| format!("cannot write {}: {e}", markdown.display()))?;
                eprintln!("wrote {}", markdown.display());
            }
            Ok(())
        }
    }
}

/// The steps and sampler a run takes: those asked for, or the model file's. The file's steps belong to the file's
/// sampler (a solver's 10 are not the standard sampler's 10), so another sampler needs its steps given.
fn steps_and_sampler(
    config: &ModelConfig,
    steps: Option<u32>,
    sampler: Option<SamplingMethod>,
) -> Result<(u32, SamplingMethod), AnyError> {
    if let Some(sampler) = sampler.filter(|&s| s != config.sampler())
        && steps.is_none()
    {
        return Err(format!(
            "--sampler {sampler} differs from the model's own ({}): give --steps as well",
            config.sampler()
        )
        .into());
    }
    Ok((
        steps.unwrap_or_else(|| config.sampling_steps()),
        sampler.unwrap_or_else(|| config.sampler()),
    ))
}

fn sample_command(args: &SampleArgs) -> Result<(), AnyError> {
    let weights = Weights::load(&args.model)?;
    let config = weights.config();
    let (steps, sampler) = steps_and_sampler(config, args.steps, args.sampler)?;
    let canvas = config.pixel_layout();
    let map = (args.size.is_some() || args.tileable).then(|| {
        let (width, height) = args.size.unwrap_or((2 * canvas.width, 2 * canvas.height));
        MapShape {
            width,
            height,
            tileable: args.tileable,
        }
    });
    let map_config = map.map_or_else(|| config.clone(), |map| map.config(config));
    let input = UserInput {
        known: args.known.as_deref(),
        free: FreeMarks {
            colour: args.free_colour,
            character: args.free_char,
        },
        strength: args.strength,
        allowed: args.allowed.as_deref(),
    };
    let user = user_constraints(&map_config, &input)?;
    if !(args.guidance >= 0.0 && args.guidance.is_finite()) {
        return Err(format!(
            "--guidance {}: the weight must be finite and not negative",
            args.guidance
        )
        .into());
    }
    let label = args
        .class
        .as_deref()
        .map(|name| config.label_index(name))
        .transpose()?;
    let guidance = match label {
        Some(label) => Guidance::class(label, args.guidance),
        None => Guidance::default(),
    };
    // A U-Net draws a map in one pass, as one canvas of the map's size; a GPT, or a map that wraps around, as a
    // mosaic of canvases.
    let plan = match map {
        Some(map) if map.tileable || config.network.as_gpt().is_some() => Err(map),
        Some(map) => Ok(weights.with_canvas(map.width, map.height)?),
        None => Ok(weights.clone()),
    };
    if label.is_some() && plan.is_err() {
        return Err(
            "--class draws one canvas a sample: it does not combine with a mosaic (--tileable, or --size with a \
             GPT model)"
                .into(),
        );
    }
    let count = match (args.count, user.examples) {
        (Some(count), Some(given)) if count != given => {
            return Err(format!(
                "--count {count}, but --known gives constraints for {given} samples (leave --count out, or give \
                 one example's shape for all)"
            )
            .into());
        }
        (count, given) => count.or(given).unwrap_or(32),
    };
    let seed = args.seed;
    let (samples, written) = match plan {
        Ok(whole) => {
            let placed = whole.config().place_constraints(&user.constraints, count)?;
            let samples = sample_guided(&whole, count, steps, seed, sampler, &placed, guidance)?;
            (samples, whole.config().clone())
        }
        Err(map) => {
            let mosaic = sample_mosaic(
                &weights,
                count,
                steps,
                seed,
                sampler,
                map,
                &user.constraints,
            )?;
            (mosaic.finish()?, mosaic.map_config())
        }
    };
    write_output(&written, &samples, &args.out)?;
    let asked = args
        .class
        .as_ref()
        .map(|class| format!(", class {class} at guidance {}", args.guidance))
        .unwrap_or_default();
    eprintln!(
        "wrote {count} samples ({sampler}, {steps} steps, seed {seed}{asked}) to {}",
        args.out.display()
    );
    Ok(())
}

fn train(config_path: PathBuf, resume: bool, until: Option<u32>) -> Result<(), AnyError> {
    let config = TrainConfig::load(&config_path)?;
    let data = load_section_with_limits(&config.data, &config.limits)?;
    eprintln!(
        "{}: {} ({} examples, {} held out)",
        config.name, data.provenance, data.count, data.test_count
    );
    let until = until.unwrap_or(config.steps_in_all());
    let trainer = if resume {
        let trainer = Trainer::resumed(config, data.clone())?;
        let stage = trainer.stage();
        eprintln!(
            "resumed from {} at step {}{}",
            trainer.checkpoint_path().display(),
            trainer.step(),
            match stage.count {
                1 => String::new(),
                count => format!(" of stage {} of {count}", stage.index + 1),
            }
        );
        trainer
    } else {
        Trainer::new(config, data.clone())?
    };
    let started_at = trainer.steps_in_all();
    let mut reporter = Reporter::new();
    let trainer = trainer.run_stages(until, &data, |p| reporter.report(p))?;
    reporter.finish();
    if trainer.steps_in_all() == started_at {
        // A finished run resumed: its model file again, with the config's default sampler and steps.
        trainer.save_model()?;
    }
    eprintln!(
        "model written; checkpoint at {}",
        trainer.checkpoint_path().display()
    );
    Ok(())
}

fn eval(
    model: PathBuf,
    steps: &[u32],
    repeats: u32,
    draws: u32,
    seed: u64,
) -> Result<(), AnyError> {
    let weights = Weights::load(&model)?;
    let data = training_data(&weights, &model)?;
    let started = Instant::now();
    let result = evaluate(&weights, &data, steps, repeats, draws, seed)?;
    // The reconstruction term L^r apart: it is what the final, independent per-variable decision at t = 1 costs,
    // so a large share says the flow leaves much undecided at its end (β₁ or σ₁ too weak).
    let line = |name: &str, e: &bevy_bfn::flow::elbo::NegativeElbo| {
        let bits = e.bits_per_dim();
        let reconstruction = e.reconstruction.mean * std::f64::consts::LOG2_E;
        println!(
            "{name:<18} {:>7.4} ± {:.4} bits/dim (L^r {reconstruction:.4})",
            bits.mean, bits.stderr
        );
    };
    println!(
        "{}: {} held-out examples, {} repeats",
        model.display(),
        result.examples,
        repeats
    );
    line("continuous time", &result.continuous);
    for (n, e) in &result.discrete {
        line(&format!("n = {n}"), e);
    }
    if let Some(given) = &result.given_label {
        println!(
            "given the true class ({}):",
            weights.config().labels.join(", ")
        );
        line("continuous time", &given.continuous);
        for (n, e) in &given.discrete {
            line(&format!("n = {n}"), e);
        }
    }
    println!(
        "{:<18} {:>7.4} bits/dim (per-variable marginal, add-½)",
        "baseline", result.marginal_bits
    );
    eprintln!("({:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// The data a model file says it was trained on, loaded: its held-out split is what the model is measured on.
fn training_data(weights: &Weights, model: &Path) -> Result<Dataset, AnyError> {
    Ok(load_section(&data_section(weights, model)?)?)
}

/// The `[data]` table the model file records.
fn data_section(weights: &Weights, model: &Path) -> Result<DataSection, AnyError> {
    let section: DataSection = match &weights.config().training_data {
        Some(value) => serde_json::from_value(value.clone())?,
        None => {
            return Err(format!(
                "{} does not record the data it was trained on",
                model.display()
            )
            .into());
        }
    };
    Ok(section)
}

/// The sampling runs `quality` scores: every sampler at every n, `count` samples each from `seed`.
struct Runs<'a> {
    samplers: &'a [SamplingMethod],
    steps: &'a [u32],
    count: usize,
    seed: u64,
}

/// `bfn-train quality`'s first tables, printed as they are measured and returned as Markdown; with `out`, the plot
/// is written there.
fn quality(
    model: &Path,
    runs: &Runs,
    split: DataSplit,
    out: Option<&Path>,
    guidance: f64,
) -> Result<String, AnyError> {
    let Runs {
        samplers,
        steps,
        count,
        seed,
    } = *runs;
    let weights = Weights::load(model)?;
    let config = weights.config();
    let data = training_data(&weights, model)?.patched(config)?;
    let reference: Samples = data.spread(split, usize::MAX).into();
    let main_distance = |q: &Quality| q.patterns.or(q.frechet).unwrap_or(q.frequencies);
    // What a game needs (`measure::game_measures`): the data's own numbers go in the header where they are absolute.
    let game = game_quality(config, &reference, &reference)?;
    let game_header = match game {
        Some(GameQuality::Maps {
            one_region,
            largest_region,
        }) => format!(
            " one walkable region (data {:.2}) | largest region's share (data {:.2}) |",
            one_region[1], largest_region[1]
        ),
        Some(GameQuality::Images { .. }) => format!(
            " precision (k = {}) | recall | neighbour energy ÷ data's |",
            game_measures::K
        ),
        Some(GameQuality::Heights { .. }) => {
            " slope spread ÷ data's | curvature spread ÷ data's |".to_owned()
        }
        None => String::new(),
    };
    let columns = 5 + game_header.matches('|').count();
    let mut table = format!(
        "{}: {count} samples against {} {} examples, seed {seed}\n\n\
         | sampler | steps | {} | frequencies (JS, bits) | CPU ms/sample |{game_header}\n{}|\n",
        model.display(),
        example_count(config, &reference),
        match split {
            DataSplit::Train => "training",
            DataSplit::Test => "held-out",
        },
        if matches!(reference, Samples::Classes(_)) {
            if config.pixel_layout().height == 1 {
                "bigrams (JS, bits)"
            } else {
                "2×2 patterns (JS, bits)"
            }
        } else {
            "Fréchet distance"
        },
        "|---".repeat(columns),
    );
    print!("{table}");
    let mut series = Vec::new();
    for &sampler in samplers {
        let mut line = Vec::new();
        for &n in steps {
            let started = Instant::now();
            let samples = sample_with(&weights, count, n, seed, sampler)?;
            let ms = started.elapsed().as_secs_f64() * 1e3 / count as f64;
            let q = bevy_bfn::measure::quality(config, &samples, &reference)?;
            let game = match game_quality(config, &samples, &reference)? {
                Some(GameQuality::Maps {
                    one_region,
                    largest_region,
                }) => format!(" {:.2} | {:.2} |", one_region[0], largest_region[0]),
                Some(GameQuality::Images {
                    precision,
                    recall,
                    energy,
                }) => format!(" {precision:.2} | {recall:.2} | {energy:.2} |"),
                Some(GameQuality::Heights {
                    slope_spread,
                    curvature_spread,
                }) => format!(" {slope_spread:.3} | {curvature_spread:.3} |"),
                None => String::new(),
            };
            let row = format!(
                "| {sampler} | {n} | {:.4} | {:.4} | {ms:.1} |{game}\n",
                main_distance(&q),
                q.frequencies
            );
            print!("{row}");
            table.push_str(&row);
            line.push((n, main_distance(&q)));
        }
        series.push(line);
    }
    if let Some(labels) = &data.labels {
        let split_labels = match split {
            DataSplit::Train => &labels.of_example[..data.train_count()],
            DataSplit::Test => &labels.of_example[data.train_count()..],
        };
        let (n, sampler) = steps_and_sampler(config, None, None)?;
        let header = format!(
            "\n{count} samples a class ({sampler}, {n} steps, guidance {guidance}, seed {seed}), each given the class of \
             its nearest example of the split\n\n| class | examples in the split | nearest is of the class | chance |\n|---|---|---|---|\n"
        );
        print!("{header}");
        table.push_str(&header);
        for (class, name) in labels.names.iter().enumerate() {
            let class = class as u32;
            let asked = Guidance::class(class, guidance);
            let none = bevy_bfn::flow::Constraints::<f32>::default();
            let samples = sample_guided(&weights, count, n, seed, sampler, &none, asked)?;
            let score = nearest_class(config, &samples, &reference, split_labels, class)?;
            let row = format!(
                "| {name} | {} | {:.1}% | {:.1}% |\n",
                split_labels.iter().filter(|&&l| l == Some(class)).count(),
                100.0 * score.share,
                100.0 * score.chance
            );
            print!("{row}");
            table.push_str(&row);
        }
    }
    if let Some(out) = out {
        let (width, height) = PLOT_SIZE;
        std::fs::write(out, png_bytes(width, height, &line_plot(&series))?)
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(table)
}

/// The side a Crawl vault must have on both axes to be a level the samples are compared with.
const LEVEL_VAULT_SIDE: usize = 32;

/// `bfn-train quality --level-size`: `count` levels of `width` × `height` at the model's own sampler and steps,
/// beside every Crawl vault of at least [`LEVEL_VAULT_SIDE`] cells a side, printed and returned as Markdown.
fn level_table(
    model: &Path,
    (width, height): (usize, usize),
    count: usize,
    seed: u64,
) -> Result<String, AnyError> {
    let weights = Weights::load(model)?;
    let config = weights.config();
    let mut section = data_section(&weights, model)?;
    let DataSpec::CrawlMaps { crops, .. } = &mut section.spec else {
        return Err("--level-size measures levels of Crawl vault maps (a model of `source = \"crawl-maps\"`)".into());
    };
    // The larger vaults are the levels' reference, whether or not the model was trained on their crops.
    *crops = true;
    let data = load_section(&section)?;
    let vaults: Vec<(Vec<f64>, usize, usize)> = data
        .crops
        .iter()
        .chain(&data.held_out_crops)
        .filter(|v| v.height >= LEVEL_VAULT_SIDE && v.width >= LEVEL_VAULT_SIDE)
        .filter_map(|v| match &v.cells {
            Examples::Classes(cells) => Some((
                cells.iter().map(|&c| f64::from(c)).collect(),
                v.height,
                v.width,
            )),
            Examples::Values(_) => None,
        })
        .collect();
    let (steps, sampler) = steps_and_sampler(config, None, None)?;
    let started = Instant::now();
    let (samples, drawn) = if config.network.as_gpt().is_some() {
        let shape = MapShape {
            width,
            height,
            tileable: false,
        };
        let none = bevy_bfn::flow::Constraints::<u32>::default();
        let mosaic = sample_mosaic(&weights, count, steps, seed, sampler, shape, &none)?;
        (mosaic.finish()?, mosaic.map_config())
    } else {
        let level = weights.with_canvas(width, height)?;
        (
            sample_with(&level, count, steps, seed, sampler)?,
            level.config().clone(),
        )
    };
    let levels: Vec<Vec<f64>> = (0..count)
        .map(|e| pixel_values(&drawn, &samples, e))
        .collect();
    let (walkable, outside) = (
        walkable_classes(&config.legend),
        outside_classes(&config.legend),
    );
    let measure = |levels: &[(Vec<f64>, usize, usize)]| {
        level_measures(
            levels.iter().map(|(l, h, w)| (l.as_slice(), *h, *w)),
            &walkable,
            &outside,
        )
    };
    let sampled: Vec<(Vec<f64>, usize, usize)> =
        levels.into_iter().map(|l| (l, height, width)).collect();
    let mut table = format!(
        "\nLevels of {width}×{height} ({sampler}, {steps} steps, seed {seed}; {:.0} s on the CPU) beside every Crawl \
         vault of at least {LEVEL_VAULT_SIDE}×{LEVEL_VAULT_SIDE} cells\n\n\
         | levels | count | cells inside | one walkable region | largest region's share |\n|---|---|---|---|---|\n",
        started.elapsed().as_secs_f64()
    );
    for (name, levels) in [
        (format!("samples {width}×{height}"), &sampled),
        (
            format!("Crawl vaults ≥ {LEVEL_VAULT_SIDE}×{LEVEL_VAULT_SIDE}"),
            &vaults,
        ),
    ] {
        let m = measure(levels);
        table.push_str(&format!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} |\n",
            levels.len(),
            m.inside,
            m.one_region,
            m.largest_region
        ));
    }
    print!("{table}");
    Ok(table)
}

/// `bfn-train seams`: both tables, printed as they are measured, and returned as Markdown.
fn seams(
    model: &Path,
    run: SeamRun,
    completions: usize,
    maps: usize,
    (width, height): (usize, usize),
) -> Result<String, AnyError> {
    let config = run.weights.config();
    let data = training_data(run.weights, model)?.patched(config)?;
    let held_out: Samples = data.spread(DataSplit::Test, usize::MAX).into();
    let reference = reference_patterns(config, &held_out)?;
    let SeamRun {
        count,
        steps,
        seed,
        method,
        ..
    } = run;
    let mut table = format!(
        "{}: {method}, {steps} steps, seed {seed}; 2×2 patterns against all {} held-out maps' (Jensen–Shannon, \
         bits)\n\n\
         | half inpainting | maps × completions | boundary patterns | unseen in the data: inpainted | unconditional | \
         true completions | JS inpainted | JS unconditional | JS true completions | inpainted / true |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        model.display(),
        example_count(config, &held_out)
    );
    print!("{table}");
    let started = Instant::now();
    let chosen: Samples = data.spread(DataSplit::Test, count).into();
    let half = half_inpainting(run, completions, &chosen, &reference)?;
    let [unseen, unseen_unconditional, unseen_true] = half.unseen.map(|u| 100.0 * u);
    let [js, js_unconditional, js_true] = half.divergence;
    let row = format!(
        "| right half given the left | {} × {completions} | {} | {unseen:.2}% | {unseen_unconditional:.2}% | \
         {unseen_true:.2}% | {js:.4} | {js_unconditional:.4} | {js_true:.4} | {:.3} |\n",
        example_count(config, &chosen),
        half.patterns,
        js / js_true
    );
    print!("{row}");
    table.push_str(&row);
    eprintln!("({:.0} s)", started.elapsed().as_secs_f64());
    let header = "\n| mosaic | measure | maps | patterns each | JS across seams | JS inside windows | across / inside |\n\
                  |---|---|---|---|---|---|---|\n";
    print!("{header}");
    table.push_str(header);
    for tileable in [false, true] {
        let started = Instant::now();
        let shape = MapShape {
            width,
            height,
            tileable,
        };
        let seams = mosaic_seams(SeamRun { count: maps, ..run }, shape, &reference)?;
        for (measure, scores) in [
            ("2×2 patterns at seams", seams.patterns),
            ("canvas crops", seams.crops),
        ] {
            let size = format!(
                "{width}×{height}{}",
                if tileable { " tileable" } else { "" }
            );
            let row = seam_row(&format!("{size} | {measure} | {maps}"), scores);
            print!("{row}");
            table.push_str(&row);
        }
        eprintln!("({:.0} s)", started.elapsed().as_secs_f64());
    }
    Ok(table)
}

/// A row of the seams tables: the leading columns, then the patterns in each set, the two divergences and their
/// ratio.
fn seam_row(leading: &str, scores: SeamScores) -> String {
    format!(
        "| {leading} | {} | {:.4} | {:.4} | {:.3} |\n",
        scores.patterns,
        scores.seam,
        scores.baseline,
        scores.seam / scores.baseline
    )
}

/// Writes a sheet or an array, the error naming the file: the system's own message ("No such file or directory")
/// does not say which.
fn write_output(config: &ModelConfig, samples: &Samples, out: &Path) -> Result<(), AnyError> {
    write_sheet(config, samples, out)
        .map_err(|e| format!("cannot write {}: {e}", out.display()).into())
}

fn data_sheet(
    config_path: PathBuf,
    count: Option<usize>,
    split: DataSplit,
    out: PathBuf,
) -> Result<(), AnyError> {
    let config = TrainConfig::load(&config_path)?;
    let (data, model) = config.prepare(load_section_with_limits(&config.data, &config.limits)?)?;
    let whole_split = usize::MAX;
    let count = count.unwrap_or(if is_array_path(&out) { whole_split } else { 32 });
    let examples: Samples = data.spread(split, count).into();
    write_output(&model, &examples, &out)?;
    if let Some(labels) = &data.labels {
        // The class of each example, in the sheet's order (row by row), one a line beside the sheet.
        let names: String = data
            .spread_indices(split, count)
            .iter()
            .map(|&e| match labels.of_example[e] {
                Some(class) => format!("{}\n", labels.names[class as usize]),
                None => "(no class)\n".to_owned(),
            })
            .collect();
        let path = out.with_extension("labels.txt");
        std::fs::write(&path, names)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote the examples' classes to {}", path.display());
    }
    eprintln!(
        "wrote {} {} examples of {} to {}",
        example_count(&model, &examples),
        match split {
            DataSplit::Train => "training",
            DataSplit::Test => "held-out",
        },
        config.name,
        out.display()
    );
    Ok(())
}

/// The median seconds of `steps` training steps of a fresh run of `config`, after two warm-up steps; and the run.
fn median_step(
    config: &TrainConfig,
    data: &Dataset,
    steps: u32,
) -> Result<(f64, Trainer), AnyError> {
    let mut trainer = Trainer::new(config.clone(), data.clone())?;
    let mut times = Vec::new();
    for i in 0..steps + 2 {
        let started = Instant::now();
        trainer.train_step()?;
        if i >= 2 {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], trainer))
}

fn bench(
    config_path: PathBuf,
    steps: u32,
    sampling_steps: u32,
    samples: usize,
    candle_ops: bool,
) -> Result<(), AnyError> {
    let config = TrainConfig::load(&config_path)?;
    let batch = config.training.batch;
    let data = load_section_with_limits(&config.data, &config.limits)?;
    let (median, trainer) = median_step(&config, &data, steps)?;
    // The threads the kernels split work over (`RAYON_NUM_THREADS` when set), not the cores there are.
    println!("threads          {}", rayon::current_num_threads());
    println!(
        "training step    {median:.3} s median of {steps} (batch {batch}) = {:.2} steps/s, {:.0} examples/s",
        1.0 / median,
        batch as f64 / median
    );
    if candle_ops {
        use_candle_ops(true);
        let candle = median_step(&config, &data, steps);
        use_candle_ops(false);
        let (candle, _) = candle?;
        println!(
            "candle's ops     {candle:.3} s median of {steps} = {:.2} steps/s: the fused kernels are {:.2}× faster",
            1.0 / candle,
            candle / median
        );
    }
    if samples == 0 {
        return Ok(());
    }
    let weights = trainer.model_weights()?;
    let started = Instant::now();
    sample(&weights, samples, sampling_steps, 0)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "sampling         {samples} samples × {sampling_steps} steps in {seconds:.2} s = {:.2} samples/s",
        samples as f64 / seconds
    );
    Ok(())
}

/// A progress bar on a terminal, a line every few percent otherwise (logs, CI).
struct Reporter {
    terminal: bool,
    last: Instant,
    smoothed: Option<f32>,
}

impl Reporter {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: Instant::now(),
            smoothed: None,
        }
    }

    fn report(&mut self, p: Progress) {
        let smoothed = self.smoothed.map_or(p.loss, |s| 0.98 * s + 0.02 * p.loss);
        self.smoothed = Some(smoothed);
        let interval = if self.terminal { 0.2 } else { 10.0 };
        if self.last.elapsed().as_secs_f64() < interval && p.step != p.steps {
            return;
        }
        self.last = Instant::now();
        let done = f64::from(p.step) / f64::from(p.steps);
        let eta = f64::from(p.steps - p.step) / p.steps_per_second.max(1e-9);
        let filled = (done * 30.0) as usize;
        let stage = match p.stage.count {
            1 => String::new(),
            count => format!("stage {}/{count} ", p.stage.index + 1),
        };
        let line = format!(
            "{stage}[{}{}] {}/{} loss {:.4} (avg {:.4}) |g| {:.2} {:.2} steps/s ETA {:.0} min",
            "#".repeat(filled),
            ".".repeat(30 - filled),
            p.step,
            p.steps,
            p.loss,
            smoothed,
            p.grad_norm,
            p.steps_per_second,
            eta / 60.0
        );
        if self.terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}
