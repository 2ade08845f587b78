//! The studio example in a real window under Xvfb (on lavapipe): it must generate every shipped model, draw the
//! panels and save a screenshot that is not blank.
#![cfg(all(feature = "studio", feature = "train"))]

use std::path::PathBuf;
use std::process::Command;

fn studio_binary() -> PathBuf {
    // tests run from target/<profile>/deps/; cargo builds the examples into target/<profile>/examples/.
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join("studio"))
        .unwrap()
}

#[test]
fn studio_window_shows_panels_and_content() {
    let binary = studio_binary();
    assert!(
        binary.exists(),
        "{} is missing: `cargo test --features studio,train` builds it",
        binary.display()
    );
    let shot = std::env::temp_dir().join(format!("bevy_bfn_studio_{}.png", std::process::id()));
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(&binary)
        .args(["--steps", "20", "--screenshot"])
        .arg(&shot)
        .status()
        .expect("xvfb-run (apt-get install xvfb xauth), which ./scripts/test installs");
    assert!(status.success(), "the studio exited with {status}");

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (1280, 800));
    let channels = info.line_size / info.width as usize;
    let colours: std::collections::HashSet<&[u8]> = pixels[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| &p[..3])
        .collect();
    // A blank or single-colour window has a handful of colours; panels with text and five generated previews
    // have hundreds.
    assert!(
        colours.len() > 200,
        "the screenshot has only {} colours",
        colours.len()
    );
    let keep = std::env::var_os("BFN_STUDIO_SCREENSHOT");
    if let Some(path) = keep {
        std::fs::copy(&shot, path).unwrap();
    }
    std::fs::remove_file(shot).ok();
}
