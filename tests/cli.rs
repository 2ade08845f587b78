//! `bfn-train` as a user runs it: every subcommand has its `--help`, a sample sheet is written from a shipped
//! model, `eval` scores the step counts asked for, and bad input — a missing or corrupt model file, a setting out
//! of range — ends with an error that names the problem and a failing exit status, never a panic.
#![cfg(feature = "train")]

mod common;
use common::temp_dir;

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
        ("sample", "--seed"),
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
}
