//! The headless app of the plugin's tests (feature `studio`): the frame_cost example's, every finished result
//! collected.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bevy::prelude::*;
use bevy_bfn::plugin::{BfnFinished, BfnOutput, BfnProgress, BfnSystems};

#[path = "../../examples/common/headless.rs"]
pub mod headless;

/// Finished results, collected from the plugin's messages.
#[derive(Resource, Default)]
pub struct Results(pub Vec<BfnFinished>);

/// One Bevy app on lavapipe at a time: the tests of a file run apps one after the other.
pub fn one_app_at_a_time() -> MutexGuard<'static, ()> {
    static APP: Mutex<()> = Mutex::new(());
    APP.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A headless app with the plugin ([`headless::headless_app`]), collecting every [`BfnFinished`] into [`Results`].
pub fn headless_app(assets: &Path) -> App {
    let mut app = headless::headless_app(assets);
    app.init_resource::<Results>().add_systems(
        Update,
        (|mut finished: MessageReader<BfnFinished>, mut results: ResMut<Results>| {
            results.0.extend(finished.read().cloned());
        })
        // In the frame the plugin sends them, so that a finished progress and its result are seen together.
        .after(BfnSystems::Collect),
    );
    app
}

pub fn progress(app: &App, entity: Entity) -> BfnProgress {
    app.world().get::<BfnProgress>(entity).unwrap().clone()
}

/// One update; fails the test if the app was asked to exit (Bevy's render error handler does so on a wgpu
/// validation error).
pub fn update(app: &mut App) {
    app.update();
    assert!(
        app.should_exit().is_none(),
        "the app is exiting: a render error (see the log)"
    );
}

/// Updates until `done` holds, at most `frames` times; fails the test if it never does.
pub fn update_until(app: &mut App, frames: u32, what: &str, mut done: impl FnMut(&App) -> bool) {
    for _ in 0..frames {
        update(app);
        if done(app) {
            return;
        }
    }
    panic!("{what}: not within {frames} frames");
}

/// The results `entity` has sent so far.
pub fn results_of(app: &App, entity: Entity) -> Vec<BfnOutput> {
    app.world()
        .resource::<Results>()
        .0
        .iter()
        .filter(|r| r.entity == entity)
        .map(|r| r.output.clone())
        .collect()
}
