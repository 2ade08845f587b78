//! The examples' `--screenshot`: once what they show is done, a picture of the window, then exit.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};

/// Call once a frame after the content is done: a few frames for the last previews and panels to settle, then
/// the picture, then time to save it, then the exit.
pub fn picture_then_exit(
    frames_since_done: &mut u32,
    path: PathBuf,
    commands: &mut Commands,
    exit: &mut MessageWriter<AppExit>,
) {
    *frames_since_done += 1;
    if *frames_since_done == 10 {
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(path));
    }
    if *frames_since_done == 60 {
        exit.write(AppExit::Success);
    }
}
