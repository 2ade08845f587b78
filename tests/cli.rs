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
