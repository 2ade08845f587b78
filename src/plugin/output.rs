//! A generator's result in the form a game uses: tile grids with their legend, images, height fields, strings.

use std::sync::Arc;

use bevy::asset::RenderAssetUsages;
use bevy::image::Image;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

use crate::model::content::{
    class_symbol, data_units, example_count, example_pixels, example_text, example_variables,
};
use crate::model::{KindConfig, ModelConfig, Samples};

/// One generated tile map: a class per cell and the legend that names the classes.
#[derive(Clone, Debug, PartialEq)]
pub struct TileGrid {
    /// Cells per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Row-major class indices.
    pub tiles: Vec<u32>,
    /// What each class is (a glyph or a name), from the model.
    pub legend: Arc<Vec<String>>,
}

impl TileGrid {
    /// The class at (`x`, `y`).
    pub fn class(&self, x: usize, y: usize) -> u32 {
        self.tiles[y * self.width + x]
    }

    /// The tile at (`x`, `y`) as one character: the first glyph its legend entry lists in parentheses
    /// ("wall (x X c)" → 'x'), else the entry's first character.
    pub fn symbol(&self, x: usize, y: usize) -> char {
        class_symbol(self.glyph(x, y))
    }

    /// The legend entry of the tile at (`x`, `y`).
    pub fn glyph(&self, x: usize, y: usize) -> &str {
        self.legend
            .get(self.class(x, y) as usize)
            .map_or("?", String::as_str)
    }
}

/// One generated height field, in the data's own units where the model knows them.
#[derive(Clone, Debug, PartialEq)]
pub struct HeightField {
    /// Samples per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Row-major heights.
    pub heights: Vec<f32>,
}

/// One generated image, RGBA8.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbaImage {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Row-major RGBA bytes.
    pub rgba: Vec<u8>,
}

impl RgbaImage {
    /// As a Bevy image (sRGB), e.g. for a sprite.
    pub fn to_image(&self) -> Image {
        Image::new(
            Extent3d {
                width: self.width as u32,
                height: self.height as u32,
                depth_or_array_layers: 1,
            },
            TextureDimension::D2,
            self.rgba.clone(),
            TextureFormat::Rgba8UnormSrgb,
            RenderAssetUsages::default(),
        )
    }
}

/// What a generator made, one entry per example of its batch.
#[derive(Clone, Debug, PartialEq)]
pub enum BfnOutput {
    /// Discrete 2-D data: maps.
    Tiles(Vec<TileGrid>),
    /// Discrete 1-D data: names, words.
    Strings(Vec<String>),
    /// Discretised data: images.
    Images(Vec<RgbaImage>),
    /// Continuous one-channel data: terrain.
    HeightFields(Vec<HeightField>),
}

impl BfnOutput {
    /// The samples of a model in their typed form.
    pub fn from_samples(config: &ModelConfig, samples: &Samples) -> Self {
        let image = config.pixel_layout();
        let count = example_count(config, samples);
        let per_example = config.layout.variables();
        match (samples, config.kind) {
            (Samples::Classes(classes), _) if image.height == 1 => Self::Strings(
                classes
                    .chunks_exact(per_example)
                    .map(|c| example_text(config, c))
                    .collect(),
            ),
            (Samples::Classes(classes), _) => {
                let legend = Arc::new(config.legend.clone());
                Self::Tiles(
                    (0..count)
                        .map(|e| TileGrid {
                            width: image.width,
                            height: image.height,
                            tiles: example_variables(config, classes, e).collect(),
                            legend: Arc::clone(&legend),
                        })
                        .collect(),
                )
            }
            (Samples::Values(values), KindConfig::Continuous { .. }) if image.channels == 1 => {
                let metres = data_units(config);
                Self::HeightFields(
                    (0..count)
                        .map(|e| HeightField {
                            width: image.width,
                            height: image.height,
                            heights: example_variables(config, values, e).map(&metres).collect(),
                        })
                        .collect(),
                )
            }
            (Samples::Values(_), _) => Self::Images(
                (0..count)
                    .map(|e| RgbaImage {
                        width: image.width,
                        height: image.height,
                        rgba: example_pixels(config, samples, e).concat(),
                    })
                    .collect(),
            ),
        }
    }
}
