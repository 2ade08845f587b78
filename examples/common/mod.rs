//! What the examples share: space for another result.

use bevy::prelude::*;
use bevy_bfn::plugin::BfnGenerator;

/// Space: every generator starts again with the next seed.
pub fn reseed_on_space(keys: Res<ButtonInput<KeyCode>>, mut generators: Query<&mut BfnGenerator>) {
    if keys.just_pressed(KeyCode::Space) {
        for mut generator in &mut generators {
            generator.seed += 1;
        }
    }
}
