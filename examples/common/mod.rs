//! What the examples share: drawing a generator's preview with a sprite.

use bevy::prelude::*;
use bevy_bfn::plugin::BfnPreview;

/// Keeps each generator's sprite on its preview image (the plugin creates the image once the model has loaded).
pub fn show_previews(mut generators: Query<(&BfnPreview, &mut Sprite), Changed<BfnPreview>>) {
    for (preview, mut sprite) in &mut generators {
        sprite.image = preview.image.clone();
    }
}
