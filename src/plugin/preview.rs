//! The preview image in the main world: made for each generator once its model is loaded, at the size its batch
//! needs, and (feature `sprite`) shown by the generator's own `Sprite` with no code of the game's.

use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat, TextureUsages};
use bevy::render::renderer::RenderDevice;

use crate::gpu::preview_size;
use crate::plugin::asset::BfnModel;
use crate::plugin::generator::{BfnGenerator, BfnPreview};

/// Gives each generator whose model is loaded a preview image of the right size (again when the batch changes).
/// A size past the device's limits gets no image; the render world reports the error on the generator.
pub(crate) fn attach_previews(
    mut generators: Query<(&BfnGenerator, &mut BfnPreview)>,
    models: Res<Assets<BfnModel>>,
    mut images: ResMut<Assets<Image>>,
    device: Option<Res<RenderDevice>>,
) {
    let Some(device) = device else {
        return;
    };
    let limits = device.limits();
    for (generator, mut preview) in &mut generators {
        let Some(Ok(weights)) = models.get(&generator.model).map(|m| generator.weights(m)) else {
            continue;
        };
        let Ok([width, height]) = preview_size(&limits, weights.config(), generator.batch) else {
            continue;
        };
        let size = Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        if images
            .get(&preview.image)
            .is_some_and(|image| image.texture_descriptor.size == size)
        {
            continue;
        }
        let mut image = Image::new_fill(
            size,
            TextureDimension::D2,
            &[0, 0, 0, 255],
            TextureFormat::Rgba8Unorm,
            RenderAssetUsages::RENDER_WORLD,
        );
        image.texture_descriptor.usage = TextureUsages::STORAGE_BINDING
            | TextureUsages::TEXTURE_BINDING
            | TextureUsages::COPY_DST;
        // Each texel is a map cell or a pixel: scaled up, it must stay a sharp square.
        image.sampler = ImageSampler::nearest();
        preview.image = images.add(image);
    }
}

/// Keeps a generator's `Sprite` on its preview (the image is replaced when the batch changes).
#[cfg(feature = "sprite")]
pub(crate) fn show_previews_on_sprites(
    mut generators: Query<(&BfnPreview, &mut Sprite), Changed<BfnPreview>>,
) {
    for (preview, mut sprite) in &mut generators {
        sprite.image = preview.image.clone();
    }
}
