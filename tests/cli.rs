//! `bfn-train` as a user runs it: every subcommand has its `--help`, a sample sheet is written from a shipped
//! model, samples and data are written as NumPy arrays that NumPy reads (`pip install numpy`), `eval` scores the
//! step counts asked for, and bad input — a missing or corrupt model file, a setting out
//! of range — ends with an error that names the problem and a failing exit status, never a panic.
#![cfg(feature = "train")]

mod common;
use common::temp_dir;

use std::path::Path;
use std::process::{Command, Output};

fn bfn_train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bfn-train"))
        .args(args)
        .output()
        .expect("bfn-train runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failure the user can act on: a non-zero status, `needle` in the message, no panic.
fn assert_fails_with(args: &[&str], needle: &str) {
    let output = bfn_train(args);
    let message = stderr(&output);
    assert!(!output.status.success(), "{args:?} succeeded");
    assert!(
        !message.contains("panicked"),
        "{args:?} panicked: {message}"
    );
    assert!(
        message.contains(needle),
        "{args:?}: expected {needle:?} in {message}"
    );
}

#[test]
fn every_subcommand_has_its_help() {
    for (subcommand, option) in [
        ("train", "--resume"),
        ("eval", "--repeats"),
        ("bench", "--sampling-steps"),
        ("data-sheet", "--split"),
        ("sample", "--sampler"),
        ("quality", "--samplers"),
        ("seams", "--maps"),
    ] {
        let output = bfn_train(&[subcommand, "--help"]);
        assert!(output.status.success(), "{subcommand} --help failed");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains(&format!("Usage: bfn-train {subcommand}")) && text.contains(option),
            "{subcommand} --help: {text}"
        );
    }
}

#[test]
fn a_shipped_model_samples_a_text_sheet() {
    let out = temp_dir("cli-sample").join("names.txt");
    let output = bfn_train(&[
        "sample",
        "--model",
        "assets/models/names.safetensors",
        "--steps",
        "10",
        "--seed",
        "3",
        "--count",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let sheet = std::fs::read_to_string(&out).unwrap();
    assert_eq!(sheet.lines().count(), 5, "{sheet}");
    assert!(
        sheet
            .lines()
            .all(|name| name.chars().all(|c| c == ' ' || c.is_ascii_lowercase())),
        "{sheet}"
    );
}

/// A `.npy` file as NumPy reads it: its type string, shape, and least and greatest element; checked to be byte for
/// byte what `numpy.save` writes for the same array.
fn numpy_summary(path: &Path) -> (String, Vec<usize>, f64, f64) {
    let script = "import io, numpy, sys; a = numpy.load(sys.argv[1]); b = io.BytesIO(); numpy.save(b, a); \
                  same = b.getvalue() == open(sys.argv[1], 'rb').read(); \
                  print(same, a.dtype.str, ','.join(map(str, a.shape)), float(a.min()), float(a.max()))";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "numpy could not read {} (pip install numpy): {}",
        path.display(),
        stderr(&output)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    let ["True", dtype, shape, min, max] = fields[..] else {
        panic!("not the file numpy.save writes, or an unexpected summary: {text:?}");
    };
    let shape = shape.split(',').map(|n| n.parse().unwrap()).collect();
    (
        dtype.to_owned(),
        shape,
        min.parse().unwrap(),
        max.parse().unwrap(),
    )
}

/// `bfn-train sample` of `count` samples of a shipped model in a few steps, to `.npy`, as NumPy reads it.
fn sampled_array(model: &str, count: &str) -> (String, Vec<usize>, f64, f64) {
    let out = temp_dir(&format!("cli-npy-{model}")).join("samples.npy");
    let output = bfn_train(&[
        "sample",
        "--model",
        &format!("assets/models/{model}.safetensors"),
        "--steps",
        "4",
        "--count",
        count,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    numpy_summary(&out)
}

#[test]
fn samples_are_written_as_numpy_arrays_of_the_data_layout() {
    let (dtype, shape, _, max) = sampled_array("names", "3");
    assert_eq!((dtype.as_str(), shape.as_slice()), ("<u4", &[3, 8][..]));
    assert!(max < 27.0, "27 classes: ' ' and a-z, got up to {max}");
    let (dtype, shape, _, max) = sampled_array("dungeon", "2");
    assert_eq!(
        (dtype.as_str(), shape.as_slice()),
        ("<u4", &[2, 16, 16][..])
    );
    assert!(max < 9.0, "one of the dungeon's 9 classes, got {max}");
    // RGBA sprites keep their channels as a last axis; their values are on the sheets' byte scale.
    let (dtype, shape, min, max) = sampled_array("sprites", "1");
    assert_eq!(
        (dtype.as_str(), shape.as_slice()),
        ("<f4", &[1, 16, 16, 4][..])
    );
    assert!(
        (0.0..=255.0).contains(&min) && (0.0..=255.0).contains(&max) && max > 1.0,
        "{min}..{max}"
    );
    assert_eq!(
        (min % 17.0, max % 17.0),
        (0.0, 0.0),
        "16 levels are 17 apart"
    );
    // Terrain in metres through the model's normalisation, not in model units.
    let (dtype, shape, min, _) = sampled_array("terrain", "1");
    assert_eq!(
        (dtype.as_str(), shape.as_slice()),
        ("<f4", &[1, 16, 16][..])
    );
    assert!(
        min > 100.0,
        "heights of the Jacksboro fault in metres, got {min}"
    );
}

#[test]
fn data_sheets_write_the_whole_held_out_split_as_numpy_arrays() {
    let out = temp_dir("cli-npy-data").join("digits.npy");
    let output = bfn_train(&[
        "data-sheet",
        "--config",
        "configs/digits.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("wrote 297 held-out examples"),
        "{}",
        stderr(&output)
    );
    let (dtype, shape, min, max) = numpy_summary(&out);
    assert_eq!(
        (dtype.as_str(), shape.as_slice()),
        ("<f4", &[297, 8, 8][..])
    );
    assert_eq!(
        (min, max),
        (0.0, 255.0),
        "the lowest and highest of 17 levels"
    );
}

/// A finished run resumed with a new default sampler and steps in its config writes its model file again with them
/// and the same weights (they are chosen by measuring the trained model, `docs/sampling.md`); any other change to
/// the config is still refused.
#[test]
fn a_finished_run_resumed_takes_new_sampling_defaults() {
    let dir = temp_dir("cli-defaults");
    let model = dir.join("tiny.safetensors");
    let config = |model_extra: &str, learning_rate: &str| -> String {
        let text = format!(
            "name = \"tiny\"\noutput = \"{}\"\n[data]\nsource = \"digits\"\n\
             [model]\nsigma_1 = 0.0316\nlayers = 1\nheads = 2\nwidth = 16\npositions = \"grid\"\n{model_extra}\n\
             [training]\nsteps = 3\nbatch = 8\nlearning_rate = {learning_rate}\nwarmup = 1\nweight_decay = 0.0\n\
             betas = [0.9, 0.98]\ngrad_clip = 1.0\nema_decay = 0.9\nloss = \"continuous\"\nseed = 3\n\
             checkpoint_every = 100\n",
            model.display()
        );
        let path = dir.join("tiny.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let output = bfn_train(&["train", "--config", &config("", "1e-3")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let trained = bevy_bfn::model::Weights::load(&model).unwrap();
    assert_eq!(trained.config().sampling_steps, None);

    let defaults = config("sampling_steps = 7\nsampler = \"sde2\"", "1e-3");
    let output = bfn_train(&["train", "--config", &defaults, "--resume"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rewritten = bevy_bfn::model::Weights::load(&model).unwrap();
    assert_eq!(rewritten.config().sampling_steps, Some(7));
    assert_eq!(
        rewritten.config().sampler.map(|s| s.to_string()),
        Some("sde2".to_owned())
    );
    assert_eq!(rewritten.tensors(), trained.tensors(), "the same weights");

    assert_fails_with(
        &["train", "--config", &config("", "2e-3"), "--resume"],
        "different configuration",
    );
}

/// `quality` scores each sampler at each n against the held-out split: a table row per pair, the Markdown file and
/// the plot; a sampler sampled in fewer steps than it needs scores worse than in many.
#[test]
fn quality_scores_every_sampler_at_every_step_count() {
    let out = temp_dir("cli-quality").join("names.png");
    let output = bfn_train(&[
        "quality",
        "--model",
        "assets/models/names.safetensors",
        "--samplers",
        "standard,ode2",
        "--steps",
        "1,30",
        "--count",
        "64",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = std::fs::read_to_string(out.with_extension("md")).unwrap();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.starts_with("| standard") || l.starts_with("| ode2"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 4, "{table}");
    let bigrams = |sampler: &str, steps: &str| -> f64 {
        let row = rows
            .iter()
            .find(|r| r[1] == sampler && r[2] == steps)
            .unwrap();
        row[3].parse().unwrap()
    };
    for sampler in ["standard", "ode2"] {
        assert!(
            bigrams(sampler, "1") > bigrams(sampler, "30"),
            "{sampler}: one step should be further from the data than thirty\n{table}"
        );
    }
    let png = std::fs::read(&out).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

/// `quality`'s table has what a game needs, per kind, and a sampler in one step scores worse on it than in many:
/// maps fall apart into walkable fragments, images are speckle, heights are too smooth. `--level-size` adds whole
/// levels beside the Crawl vaults of at least 32 × 32 cells, whose numbers an independent check of ours found:
/// 256 vaults, 88% of their cells inside, 84% of walkable cells in the largest region on average.
#[test]
fn quality_measures_what_a_game_needs() {
    let dir = temp_dir("cli-quality-game");
    // The game columns of each row, by steps; the 20-step row's checked against `scripts/npy-game.py`, which
    // shares no code with the crate, on the same samples (`sample`, same seed) and the same split (`data-sheet`).
    let game = |model: &str, extra: &[&str]| -> (String, Vec<Vec<f64>>) {
        let out = dir.join(format!("{model}.png"));
        let model_path = format!("assets/models/{model}.safetensors");
        let mut args = vec![
            "quality",
            "--model",
            &model_path,
            "--samplers",
            "standard",
            "--steps",
            "1,20",
            "--count",
            "24",
            "--seed",
            "5",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let output = bfn_train(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let table = std::fs::read_to_string(out.with_extension("md")).unwrap();
        let rows: Vec<Vec<f64>> = table
            .lines()
            .filter(|l| l.starts_with("| standard"))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                cells[5..].iter().map(|c| c.parse().unwrap()).collect()
            })
            .collect();
        let numpy = numpy_game_measures(&dir, model, extra.contains(&"train"));
        assert!(
            rows[1]
                .iter()
                .zip(&numpy)
                .all(|(ours, theirs)| (ours - theirs).abs() <= 0.0051),
            "{model}: the table's 20-step row {:?}, NumPy's {numpy:?}\n{table}",
            rows[1]
        );
        (table, rows)
    };
    let (table, maps) = game("dungeon", &["--level-size", "32x32", "--levels", "2"]);
    assert!(table.contains("one walkable region (data 0."), "{table}");
    let [one, twenty] = [&maps[0], &maps[1]];
    assert!(
        twenty[1] > one[1],
        "largest region's share grows with steps: {table}"
    );
    let vaults = table
        .lines()
        .find(|l| l.starts_with("| Crawl vaults"))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = vaults.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(cells[1], "256", "{table}");
    let [inside, _, largest] = [cells[2], cells[3], cells[4]].map(|c| c.parse::<f64>().unwrap());
    assert!(
        (inside - 0.88).abs() < 0.01 && (largest - 0.84).abs() < 0.01,
        "{table}"
    );
    assert!(table.contains("| samples 32×32 | 2 |"), "{table}");

    let (table, images) = game("sprites", &[]);
    for row in &images {
        let [precision, recall, energy] = [row[0], row[1], row[2]];
        assert!(
            (0.0..=1.0).contains(&precision) && (0.0..=1.0).contains(&recall),
            "{table}"
        );
        assert!(energy > 0.0, "{table}");
    }
    assert!(images[0][2] > images[1][2], "one step is speckle: {table}");

    // One step of continuous data is the network's first guess, far too smooth; twenty come close to the data.
    let (table, heights) = game("terrain", &["--split", "train"]);
    for measure in [0, 1] {
        assert!(
            (heights[1][measure] - 1.0).abs() < (heights[0][measure] - 1.0).abs(),
            "{table}"
        );
    }
}

/// `scripts/npy-game.py`'s numbers for 24 samples of `model` at 20 standard steps (`quality`'s sampler, whatever
/// the file's own) from seed 5 against its held-out split (or training split), in the order of `quality`'s game
/// columns.
fn numpy_game_measures(dir: &Path, model: &str, train_split: bool) -> Vec<f64> {
    let samples = dir.join(format!("{model}-samples.npy"));
    let data = dir.join(format!("{model}-data.npy"));
    let model_path = format!("assets/models/{model}.safetensors");
    let output = bfn_train(&[
        "sample",
        "--model",
        &model_path,
        "--sampler",
        "standard",
        "--steps",
        "20",
        "--count",
        "24",
        "--seed",
        "5",
        "--out",
        samples.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let config = format!("configs/{model}.toml");
    let mut args = vec![
        "data-sheet",
        "--config",
        &config,
        "--out",
        data.to_str().unwrap(),
    ];
    if train_split {
        args.extend(["--split", "train"]);
    }
    let output = bfn_train(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let what = match model {
        "dungeon" => "maps",
        "sprites" => "images",
        _ => "heights",
    };
    let output = Command::new("python3")
        .arg("scripts/npy-game.py")
        .arg(what)
        .args([&samples, &data])
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    // The numbers that follow these words, in the table's order; a ratio to the data's is printed as "(1.2345×)".
    let words: &[(&str, bool)] = match what {
        "maps" => &[("one region", false), ("largest region", false)],
        "images" => &[("precision", false), ("recall", false), ("energy", true)],
        _ => &[("slope spread", true), ("curvature spread", true)],
    };
    let first_line = text.lines().next().unwrap_or_default();
    words
        .iter()
        .map(|&(word, ratio)| {
            let after = first_line
                .split(word)
                .nth(1)
                .unwrap_or_else(|| panic!("no {word} in {text}"));
            let number = match after.split_once('(') {
                Some((_, rest)) if ratio => rest.split('×').next().unwrap(),
                _ => after.trim_start().split([',', ' ']).next().unwrap(),
            };
            number
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{word} in {text}"))
        })
        .collect()
}

/// The sampler is chosen by name; one the model's file does not name needs its steps, and an unknown one is named.
#[test]
fn sample_takes_a_sampler_by_name() {
    let out = temp_dir("cli-sampler").join("names.txt");
    let output = bfn_train(&[
        "sample",
        "--model",
        "assets/models/names.safetensors",
        "--sampler",
        "ode2",
        "--steps",
        "8",
        "--count",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("ode2, 8 steps"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 4);
    let model = "assets/models/names.safetensors";
    let path = out.to_str().unwrap();
    assert_fails_with(
        &[
            "sample",
            "--model",
            model,
            "--sampler",
            "ode3",
            "--out",
            path,
        ],
        "unknown sampler \"ode3\"",
    );
    assert_fails_with(
        &[
            "sample",
            "--model",
            model,
            "--sampler",
            "ode2",
            "--out",
            path,
        ],
        "give --steps as well",
    );
}

#[test]
fn eval_scores_the_step_counts_asked_for() {
    let output = bfn_train(&[
        "eval",
        "--model",
        "assets/models/names.safetensors",
        "--steps",
        "5,40",
        "--repeats",
        "1",
        "--draws",
        "2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("n = "))
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(rows, ["5", "40"], "{report}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = temp_dir("cli-errors");
    let out = dir.join("x.png");
    let out = out.to_str().unwrap();
    assert_fails_with(
        &[
            "sample",
            "--model",
            "no/such/model.safetensors",
            "--out",
            out,
        ],
        "no/such/model.safetensors",
    );
    // A model file cut short, as a failed download leaves it.
    let bytes = std::fs::read("assets/models/dungeon.safetensors").unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails_with(
        &[
            "sample",
            "--model",
            truncated.to_str().unwrap(),
            "--out",
            out,
        ],
        "not a complete safetensors file",
    );
    assert!(!std::path::Path::new(out).exists(), "a sheet was written");
    assert_fails_with(
        &["bench", "--config", "configs/digits.toml", "--steps", "0"],
        "--steps",
    );
    assert_fails_with(
        &[
            "eval",
            "--model",
            "assets/models/names.safetensors",
            "--steps",
            "10,0",
        ],
        "--steps",
    );
    assert_fails_with(
        &["train", "--config", "no/such/config.toml"],
        "no/such/config.toml",
    );
    let names = "assets/models/names.safetensors";
    let array = dir.join("no-such-folder").join("samples.npy");
    let array = array.to_str().unwrap();
    assert_fails_with(
        &["sample", "--model", names, "--steps", "2", "--out", array],
        &format!("cannot write {array}"),
    );
    assert_fails_with(
        &["sample", "--model", names, "--count", "0", "--out", array],
        "--count",
    );
    assert_fails_with(
        &[
            "data-sheet",
            "--config",
            "configs/digits.toml",
            "--count",
            "0",
            "--out",
            array,
        ],
        "--count",
    );
}

/// A `.npy` file as the crate's reader reads it: shape and elements.
fn read_array(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let array = bevy_bfn::measure::npy::read_npy(&std::fs::read(path).unwrap()).unwrap();
    (array.shape, array.values)
}

/// `bfn-train sample` of `model` in a few steps with `extra` arguments, to `.npy`: the array read back.
fn sample_known(model: &str, extra: &[&str]) -> (Vec<usize>, Vec<f64>) {
    // Tests run in parallel: each call its own file.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = temp_dir("cli-known").join(format!("{model}-{call}.npy"));
    let model = format!("assets/models/{model}.safetensors");
    let mut args = vec![
        "sample",
        "--model",
        &model,
        "--steps",
        "4",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = bfn_train(&args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    read_array(&out)
}

/// Writes known values as a `.npy` file of `<f4` (−1 and NaN mark free cells) and returns its path.
fn known_file(name: &str, shape: &[usize], values: &[f32]) -> String {
    let path = temp_dir("cli-known-files").join(name);
    std::fs::write(&path, bevy_bfn::measure::npy::npy_bytes(shape, values)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A dungeon map that keeps a wall down column 3, a door at (10, 5) and water at row 12, column 14; the rest free.
fn dungeon_known() -> Vec<f32> {
    (0..256)
        .map(|v| match (v / 16, v % 16) {
            (_, 3) => 2.0,
            (5, 10) => 3.0,
            (12, 14) => 4.0,
            _ => -1.0,
        })
        .collect()
}

#[test]
fn a_dungeon_sample_keeps_every_known_cell() {
    let known = dungeon_known();
    let file = known_file("dungeon.npy", &[16, 16], &known);
    let (shape, classes) = sample_known("dungeon", &["--known", &file, "--count", "3"]);
    assert_eq!(shape, [3, 16, 16]);
    let mut kept = 0;
    for (v, &class) in classes.iter().enumerate() {
        let wanted = known[v % 256];
        if wanted >= 0.0 {
            assert_eq!(
                class,
                f64::from(wanted),
                "cell {} of sample {}",
                v % 256,
                v / 256
            );
            kept += 1;
        }
    }
    assert_eq!(kept, 3 * 18);
    // Walls only where nothing is known: water and doors everywhere else are gone.
    let (_, classes) = sample_known(
        "dungeon",
        &["--known", &file, "--count", "2", "--allowed", "wall,.,0"],
    );
    for (v, &class) in classes.iter().enumerate() {
        let wanted = known[v % 256];
        if wanted >= 0.0 {
            assert_eq!(class, f64::from(wanted));
        } else {
            assert!([0.0, 1.0, 2.0].contains(&class), "class {class} at {v}");
        }
    }
}

#[test]
fn a_leading_count_axis_gives_each_sample_its_own_known_cells() {
    let first = dungeon_known();
    let second: Vec<f32> = (0..256).map(|v| if v < 16 { 5.0 } else { -1.0 }).collect();
    let both = [first.clone(), second.clone()].concat();
    let file = known_file("two.npy", &[2, 16, 16], &both);
    let (shape, classes) = sample_known("dungeon", &["--known", &file]);
    assert_eq!(shape, [2, 16, 16], "the file's count, with --count unset");
    for (v, &class) in classes.iter().enumerate() {
        if both[v] >= 0.0 {
            assert_eq!(class, f64::from(both[v]), "variable {v}");
        }
    }
    assert_fails_with(
        &[
            "sample",
            "--model",
            "assets/models/dungeon.safetensors",
            "--known",
            &file,
            "--count",
            "3",
            "--out",
            "x.npy",
        ],
        "constraints for 2 samples",
    );
}

#[test]
fn terrain_keeps_known_heights_in_metres() {
    let metres: Vec<f32> = (0..256)
        .map(|v| {
            if v % 5 == 0 {
                300.0 + v as f32 * 2.5
            } else {
                f32::NAN
            }
        })
        .collect();
    let file = known_file("terrain.npy", &[16, 16], &metres);
    let (shape, heights) = sample_known("terrain", &["--known", &file, "--count", "2"]);
    assert_eq!(shape, [2, 16, 16]);
    for (v, &height) in heights.iter().enumerate() {
        let wanted = metres[v % 256];
        if !wanted.is_nan() {
            // Metres to model units and back in f32: within a few ulps of 1000 m.
            assert!(
                (height - f64::from(wanted)).abs() < 1e-3,
                "{height} for {wanted}"
            );
        }
    }
}

#[test]
fn an_ascii_map_and_a_png_are_known_values_too() {
    // A wall across row 2 with a door in it, the rest free ('?').
    let mut text = String::new();
    for row in 0..16 {
        let line: String = (0..16)
            .map(|c| match (row, c) {
                (2, 7) => '+',
                (2, _) => 'x',
                _ => '?',
            })
            .collect();
        text.push_str(&line);
        text.push('\n');
    }
    let dir = temp_dir("cli-known-forms");
    let ascii = dir.join("map.txt");
    std::fs::write(&ascii, &text).unwrap();
    let (_, classes) = sample_known(
        "dungeon",
        &["--known", ascii.to_str().unwrap(), "--count", "2"],
    );
    for example in 0..2 {
        let row: Vec<f64> = classes[example * 256 + 32..][..16].to_vec();
        let mut wanted = vec![2.0; 16];
        wanted[7] = 3.0;
        assert_eq!(row, wanted);
    }
    // The same as a PNG of the sheets' colours, free cells in the free colour given.
    let weights = bevy_bfn::model::Weights::load("assets/models/dungeon.safetensors").unwrap();
    let palette = bevy_bfn::model::content::palette(weights.config());
    let rgba: Vec<u8> = (0..256)
        .flat_map(|v| match (v / 16, v % 16) {
            (2, 7) => palette[3],
            (2, _) => palette[2],
            _ => [0, 255, 0, 255],
        })
        .collect();
    let png = dir.join("map.png");
    std::fs::write(
        &png,
        bevy_bfn::model::content::png_bytes(16, 16, &rgba).unwrap(),
    )
    .unwrap();
    let png = png.to_str().unwrap();
    let (_, from_png) = sample_known(
        "dungeon",
        &["--known", png, "--free-colour", "00ff00", "--count", "2"],
    );
    assert_eq!(from_png[32..48], classes[32..48]);
    // With the default free colour, green is no class's colour: an error naming the pixel.
    assert_fails_with(
        &[
            "sample",
            "--model",
            "assets/models/dungeon.safetensors",
            "--known",
            png,
            "--out",
            "x.npy",
        ],
        "pixel (0, 0) is #00ff00",
    );
}

#[test]
fn size_draws_maps_larger_than_the_canvas() {
    let (shape, classes) = sample_known("dungeon", &["--size", "40x24", "--count", "2"]);
    assert_eq!(shape, [2, 24, 40]);
    assert!(classes.iter().all(|&c| (0.0..9.0).contains(&c)));
    // A known file for the big map is of its shape, and its cells are kept.
    let known: Vec<f32> = (0..24 * 40)
        .map(|v| if v % 40 == 39 { 2.0 } else { -1.0 })
        .collect();
    let file = known_file("big.npy", &[24, 40], &known);
    let (shape, classes) = sample_known(
        "dungeon",
        &[
            "--size",
            "40x24",
            "--tileable",
            "--known",
            &file,
            "--count",
            "1",
        ],
    );
    assert_eq!(shape, [1, 24, 40]);
    assert!((0..24).all(|row| classes[row * 40 + 39] == 2.0));
}

#[test]
fn bad_constraints_are_clear_errors() {
    let dungeon = "assets/models/dungeon.safetensors";
    let terrain = "assets/models/terrain.safetensors";
    let out = temp_dir("cli-known-errors").join("x.npy");
    let out = out.to_str().unwrap();
    let fails = |model: &str, extra: &[&str], needle: &str| {
        let mut args = vec!["sample", "--model", model, "--steps", "2", "--out", out];
        args.extend_from_slice(extra);
        assert_fails_with(&args, needle);
    };
    let with = |name: &str, shape: &[usize], value: f32| {
        let mut values = vec![-1.0; shape.iter().product()];
        values[17] = value;
        known_file(name, shape, &values)
    };
    fails(
        dungeon,
        &["--known", &with("small.npy", &[8, 8], 1.0)],
        "known values of shape [8, 8], but the model's examples have shape [16, 16]",
    );
    fails(
        dungeon,
        &["--known", &with("nine.npy", &[16, 16], 9.0)],
        "class 9 at [1, 1] is out of range: the model has 9 classes",
    );
    fails(
        dungeon,
        &["--known", &with("nan.npy", &[16, 16], f32::NAN)],
        "NaN at [1, 1]: a map of classes marks a free cell with -1",
    );
    fails(
        dungeon,
        &["--known", &with("half.npy", &[16, 16], 2.5)],
        "2.5 at [1, 1] is not a class",
    );
    let mut heights = vec![f32::NAN; 256];
    heights[3] = 5000.0;
    fails(
        terrain,
        &["--known", &known_file("high.npy", &[16, 16], &heights)],
        "value 5000 at [0, 3] is out of the data's range 236 to 1076",
    );
    fails(dungeon, &["--allowed", ","], "--allowed names no class");
    fails(dungeon, &["--allowed", "wall,grass"], "no class \"grass\"");
    fails(
        terrain,
        &["--allowed", "wall"],
        "--allowed restricts classes",
    );
    fails(dungeon, &["--strength", "1.5"], "--strength 1.5");
    let ascii = temp_dir("cli-known-errors").join("map.txt");
    std::fs::write(&ascii, "?".repeat(16) + "\n").unwrap();
    let ascii = ascii.to_str().unwrap();
    fails(terrain, &["--known", ascii], "an ASCII map gives classes");
    fails(
        dungeon,
        &["--known", ascii],
        "an ASCII map of 1 lines of 16 characters",
    );
    // A GPT draws larger maps as mosaics of its canvas (a U-Net draws any size it can halve, tests/unet.rs).
    fails(
        "tests/fixtures/gpt-dungeon.safetensors",
        &["--size", "12x40"],
        "a map of 12×40 is smaller than the model's canvas of 16×16",
    );
    fails(
        "assets/models/names.safetensors",
        &["--size", "32x32"],
        "a sequence model",
    );
    fails(dungeon, &["--size", "64by48"], "is not a size WIDTHxHEIGHT");
    fails(
        dungeon,
        &["--known", "no/such/file.npy"],
        "no/such/file.npy",
    );
}

#[test]
fn seams_prints_both_tables() {
    let out = temp_dir("cli-seams").join("seams.md");
    let output = bfn_train(&[
        "seams",
        "--model",
        "assets/models/dungeon.safetensors",
        "--count",
        "4",
        "--completions",
        "2",
        "--maps",
        "1",
        "--size",
        "24x20",
        "--steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 7, "{table}");
    // 4 maps, 2 completions each, 15 patterns straddling the boundary of each.
    assert!(
        rows[1].starts_with("| right half given the left | 4 × 2 | 120 |"),
        "{table}"
    );
    let half: Vec<&str> = rows[1]
        .trim_matches('|')
        .split('|')
        .map(str::trim)
        .collect();
    let unseen: Vec<f64> = half[3..6]
        .iter()
        .map(|u| u.trim_end_matches('%').parse().unwrap())
        .collect();
    assert!(unseen.iter().all(|u| (0.0..=100.0).contains(u)), "{table}");
    assert_eq!(
        unseen[2], 0.0,
        "the true completions are held-out patterns: {table}"
    );
    let [js, js_unconditional, js_true, ratio] =
        [half[6], half[7], half[8], half[9]].map(|x| x.parse::<f64>().unwrap());
    for js in [js, js_unconditional, js_true] {
        assert!(
            js > 0.0 && js <= 1.0,
            "a divergence out of (0, 1] bits: {table}"
        );
    }
    assert!(
        (ratio - js / js_true).abs() <= 0.01 * ratio + 1e-3,
        "{table}"
    );
    for (row, start) in rows[3..].iter().zip([
        "| 24×20 | 2×2 patterns at seams | 1 |",
        "| 24×20 | canvas crops | 1 |",
        "| 24×20 tileable | 2×2 patterns at seams | 1 |",
        "| 24×20 tileable | canvas crops | 1 |",
    ]) {
        assert!(row.starts_with(start), "{table}");
    }
    // Every row's numbers: patterns counted, two Jensen–Shannon divergences in bits, in (0, 1] (a sample of a few
    // maps is never exactly the held-out maps' distribution), and their ratio.
    for row in &rows[3..] {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let [patterns, seam, baseline, ratio] = cells[cells.len() - 4..] else {
            unreachable!()
        };
        let patterns: usize = patterns.parse().unwrap();
        let [seam, baseline, ratio] = [seam, baseline, ratio].map(|x| x.parse::<f64>().unwrap());
        assert!(patterns > 0, "no patterns: {row}");
        for js in [seam, baseline] {
            assert!(
                js > 0.0 && js <= 1.0,
                "a divergence out of (0, 1] bits: {row}"
            );
        }
        assert!(
            (ratio - seam / baseline).abs() <= 0.01 * ratio + 1e-3,
            "the ratio is not the divergences': {row}"
        );
    }
    assert_fails_with(
        &[
            "seams",
            "--model",
            "assets/models/terrain.safetensors",
            "--count",
            "1",
            "--steps",
            "1",
        ],
        "maps of classes",
    );
}

#[test]
fn class_and_guidance_are_checked() {
    let dir = temp_dir("cli-class");
    let out = dir.join("x.npy");
    let out = out.to_str().unwrap();
    let plain = "assets/models/digits.safetensors";
    assert_fails_with(
        &["sample", "--model", plain, "--class", "3", "--out", out],
        "has no classes",
    );
    // A tiny conditional digits model, two steps of training.
    let model = dir.join("conditional.safetensors");
    let config = dir.join("conditional.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"c\"\noutput = \"{}\"\n[data]\nsource = \"digits\"\nlabels = true\n[model]\n\
             sigma_1 = 0.0316\nlayers = 1\nheads = 2\nwidth = 16\npositions = \"grid\"\n[training]\n\
             steps = 2\nbatch = 8\nlearning_rate = 1e-3\nwarmup = 1\nweight_decay = 0.0\n\
             betas = [0.9, 0.98]\ngrad_clip = 1.0\nema_decay = 0.9\nlabel_dropout = 0.15\n\
             loss = \"continuous\"\nseed = 1\ncheckpoint_every = 100\n",
            model.display()
        ),
    )
    .unwrap();
    let trained = bfn_train(&["train", "--config", config.to_str().unwrap()]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let model = model.to_str().unwrap();
    let sample = |extra: &[&str]| {
        let mut args = vec![
            "sample", "--model", model, "--steps", "3", "--count", "2", "--out", out,
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |extra: &[&str], needle: &str| {
        let args = sample(extra);
        assert_fails_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle);
    };
    run(&["--class", "ten"], "0, 1, 2, 3, 4, 5, 6, 7, 8, 9");
    run(&["--class", "3", "--guidance=-1"], "--guidance");
    run(&["--class", "3", "--guidance", "NaN"], "--guidance");
    run(&["--class", "3", "--size", "16x16"], "--size");
    let args = sample(&["--class", "3", "--guidance", "1.5"]);
    let output = bfn_train(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("class 3 at guidance 1.5"),
        "{}",
        stderr(&output)
    );
    let evaluated = bfn_train(&[
        "eval",
        "--model",
        model,
        "--steps",
        "5",
        "--repeats",
        "1",
        "--draws",
        "2",
    ]);
    let printed = String::from_utf8_lossy(&evaluated.stdout);
    assert!(printed.contains("given the true class"), "{printed}");
}

/// `data-sheet` of labelled data writes each example's class beside the sheet, in the sheet's order: the class of
/// each example written, found by its values among the labelled digits (an order-free fingerprint, so that the
/// sheet's layout does not matter).
#[test]
fn data_sheet_shows_the_examples_classes() {
    use bevy_bfn::train::dataset::{DataSection, Examples};
    let out = temp_dir("cli-data-sheet-labels").join("digits.npy");
    let output = bfn_train(&[
        "data-sheet",
        "--config",
        "configs/digits-conditional.toml",
        "--count",
        "40",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let labels = std::fs::read_to_string(out.with_extension("labels.txt")).unwrap();
    let classes: Vec<&str> = labels.lines().collect();
    let sheet = bevy_bfn::measure::npy::read_npy(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(sheet.shape[0], 40);
    assert_eq!(classes.len(), 40, "{labels}");
    let digits = bevy_bfn::train::datasets::load_section(&DataSection {
        spec: bevy_bfn::train::DataSpec::Digits,
        labels: true,
    })
    .unwrap();
    let digit_labels = digits.labels.as_ref().unwrap();
    let Examples::Values(values) = &digits.examples else {
        panic!("digits are values")
    };
    // An example's bins, sorted: the sheet writes a value as its bin's level on 0–255.
    let bins = digits.bins.expect("digits are on bins");
    let fingerprint = |bins: Vec<i64>| {
        let mut bins = bins;
        bins.sort_unstable();
        bins
    };
    let per_example = values.len() / digits.count;
    let mut classes_of = std::collections::HashMap::<Vec<i64>, Vec<String>>::new();
    for (e, example) in values.chunks_exact(per_example).enumerate() {
        let example: Vec<i64> = example
            .iter()
            .map(|&v| i64::from(bevy_bfn::flow::discretised_normal::bin_of(v, bins)))
            .collect();
        let class = digit_labels.of_example[e].map_or("(no class)".to_owned(), |c| {
            digit_labels.names[c as usize].clone()
        });
        classes_of
            .entry(fingerprint(example))
            .or_default()
            .push(class);
    }
    let distinct: std::collections::BTreeSet<&str> = classes.iter().copied().collect();
    assert!(distinct.len() > 5, "the sheet shows many digits: {labels}");
    for (e, (example, class)) in sheet
        .values
        .chunks_exact(sheet.values.len() / 40)
        .zip(&classes)
        .enumerate()
    {
        let levels = example
            .iter()
            .map(|level| (level * f64::from(bins - 1) / 255.0).round() as i64);
        let found = classes_of
            .get(&fingerprint(levels.collect()))
            .unwrap_or_else(|| panic!("example {e} of the sheet is not a digit of the data"));
        assert!(
            found.iter().any(|c| c == class),
            "example {e} is labelled {class}, but it is a {found:?}"
        );
    }
    // The unlabelled config of the same data writes none.
    let plain = temp_dir("cli-data-sheet-plain").join("digits.png");
    let output = bfn_train(&[
        "data-sheet",
        "--config",
        "configs/digits.toml",
        "--count",
        "4",
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!plain.with_extension("labels.txt").exists());
}

/// The GPT model files, all written before models named their network, sample exactly as they did before the
/// U-Net seam: the same bytes as `tests/fixtures/recorded/*.npy`, written by the commit before it (bf8e05b) with
/// these very commands. The GPT dungeon and terrain models the U-Nets replaced stay as
/// `tests/fixtures/gpt-dungeon.safetensors` and `gpt-terrain.safetensors`.
#[test]
fn gpt_files_sample_as_they_did_before_the_unet_seam() {
    let dir = temp_dir("recorded");
    for (model, class) in [
        ("digits", None),
        ("dungeon", None),
        ("names", None),
        ("sprites", None),
        ("terrain", None),
        ("digits-conditional", Some("7")),
        ("names-conditional", Some("female")),
        ("sprites-conditional", Some("wall")),
    ] {
        let out = dir.join(format!("{model}.npy"));
        let path = match model {
            "dungeon" | "terrain" => format!("tests/fixtures/gpt-{model}.safetensors"),
            model => format!("assets/models/{model}.safetensors"),
        };
        let mut args = vec!["sample", "--model", &path, "--steps", "8", "--count", "3"];
        args.extend(["--seed", "11", "--out", out.to_str().unwrap()]);
        if let Some(class) = class {
            args.extend(["--class", class]);
        }
        let output = bfn_train(&args);
        assert!(output.status.success(), "{model}: {}", stderr(&output));
        let recorded = std::fs::read(format!("tests/fixtures/recorded/{model}.npy")).unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            recorded,
            "{model}: not the samples of before"
        );
    }
}

/// `sample --size` on a U-Net model draws each map as one canvas of the map's size (a GPT's as a mosaic), with
/// constraints placed on it; a size the U-Net cannot halve and a file with a tensor of the wrong shape are errors
/// that name the problem.
#[test]
fn sample_size_on_a_unet_model_draws_the_whole_map_in_one_pass() {
    use bevy_bfn::measure::npy::read_npy;
    let dir = temp_dir("cli-unet");
    let model = dir.join("unet.safetensors");
    let weights = common::unet_dungeon();
    weights.save(&model).unwrap();
    let model = model.to_str().unwrap();
    // A wall across the top row of a 40 × 24 level.
    let known = dir.join("wall.txt");
    let mut rows = vec!["x".repeat(40)]; // x: wall, class 2
    rows.extend(std::iter::repeat_n("?".repeat(40), 23));
    std::fs::write(&known, rows.join("\n")).unwrap();
    let out = dir.join("level.npy");
    let output = bfn_train(&[
        "sample",
        "--model",
        model,
        "--size",
        "40x24",
        "--steps",
        "4",
        "--count",
        "2",
        "--known",
        known.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let array = read_npy(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(array.shape, [2, 24, 40]);
    // The same seed drawn directly on the 40 × 24 canvas gives the same maps: one pass, no windows.
    let whole = weights.with_canvas(40, 24).unwrap();
    let placed = whole
        .config()
        .place_constraints(
            &bevy_bfn::measure::user_constraints::user_constraints(
                whole.config(),
                &bevy_bfn::measure::user_constraints::UserInput {
                    known: Some(&known),
                    free: bevy_bfn::measure::user_constraints::FreeMarks {
                        colour: [255, 0, 255],
                        character: '?',
                    },
                    strength: 1.0,
                    allowed: None,
                },
            )
            .unwrap()
            .constraints,
            2,
        )
        .unwrap();
    let direct = bevy_bfn::measure::sample_sheet::sample_guided(
        &whole,
        2,
        4,
        0,
        bevy_bfn::flow::SamplingMethod::Standard,
        &placed,
        Default::default(),
    )
    .unwrap();
    let bevy_bfn::model::Samples::Classes(classes) = direct else {
        panic!("classes")
    };
    let read: Vec<u32> = array.values.iter().map(|&v| v as u32).collect();
    assert_eq!(read, classes);
    assert!(classes[..40].iter().all(|&c| c == 2), "the wall is kept");
    assert_fails_with(
        &[
            "sample", "--model", model, "--size", "41x24", "--out", "x.npy",
        ],
        "multiples of 2",
    );
    let mut tensors = weights.tensors().clone();
    let conv = "input_blocks.1.0.in_layers.2.weight";
    tensors.get_mut(conv).unwrap().shape.push(1);
    let broken = common::model_file(weights.config(), &tensors);
    let path = dir.join("broken.safetensors");
    std::fs::write(&path, broken).unwrap();
    assert_fails_with(
        &[
            "sample",
            "--model",
            path.to_str().unwrap(),
            "--out",
            "x.npy",
        ],
        conv,
    );
}
