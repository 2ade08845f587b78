//! What the examples share: drawing a generator's preview with a sprite, and space for another result.

use bevy::prelude::*;
use bevy_bfn::plugin::{BfnGenerator, BfnPreview};

/// Keeps each generator's sprite on its preview image (the plugin creates the image once the model has loaded).
pub fn show_previews(mut generators: Query<(&BfnPreview, &mut Sprite), Changed<BfnPreview>>) {
    for (preview, mut sprite) in &mut generators {
        sprite.image = preview.image.clone();
    }
}

/// Space: every generator starts again with the next seed.
#[allow(dead_code, reason = "the studio and the minimal example take no keys")]
pub fn reseed_on_space(keys: Res<ButtonInput<KeyCode>>, mut generators: Query<&mut BfnGenerator>) {
    if keys.just_pressed(KeyCode::Space) {
        for mut generator in &mut generators {
            generator.seed += 1;
        }
    }
}
