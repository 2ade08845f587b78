//! Samples (or data) as a NumPy array for measurements outside the crate: the raw values in the data's own units
//! and the data's pixel layout, where a sheet only shows them.

use crate::measure::npy::npy_bytes;
use crate::model::content::{data_units, example_count, example_variables};
use crate::model::{ModelConfig, Samples};

/// The shape of `count` examples: `[count, height, width, channels]` of [`ModelConfig::pixel_layout`], without
/// the height of sequences (height 1: names, words) and without the channels of one-channel data (maps, grey
/// images, terrain), so that every axis is one the data have.
pub fn array_shape(config: &ModelConfig, count: usize) -> Vec<usize> {
    let image = config.pixel_layout();
    let mut shape = vec![count];
    if image.height > 1 {
        shape.push(image.height);
    }
    shape.push(image.width);
    if image.channels > 1 {
        shape.push(image.channels);
    }
    shape
}

/// The `.npy` file of `samples`: classes as `<u4`, values as `<f4` through [`data_units`], C order.
pub fn array_bytes(config: &ModelConfig, samples: &Samples) -> Vec<u8> {
    let count = example_count(config, samples);
    let shape = array_shape(config, count);
    match samples {
        Samples::Values(values) => {
            let to_data = data_units(config);
            let data: Vec<f32> = (0..count)
                .flat_map(|e| example_variables(config, values, e))
                .map(to_data)
                .collect();
            npy_bytes(&shape, &data)
        }
        Samples::Classes(classes) => {
            let data: Vec<u32> = (0..count)
                .flat_map(|e| example_variables(config, classes, e))
                .collect();
            npy_bytes(&shape, &data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: &str, height: usize, width: usize, channels: usize) -> ModelConfig {
        let json = format!(
            r#"{{"kind":{kind},"layout":{{"height":{height},"width":{width},"channels":{channels}}},
            "network":{{"layers":1,"heads":1,"width":8,"positions":"grid"}}}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn only_the_axes_the_data_have_are_written() {
        let discrete = r#"{"type":"discrete","beta_1":1.0,"classes":4}"#;
        let discretised = r#"{"type":"discretised","sigma_1":0.03,"bins":16}"#;
        assert_eq!(array_shape(&config(discrete, 1, 8, 1), 5), [5, 8]);
        assert_eq!(array_shape(&config(discrete, 16, 12, 1), 3), [3, 16, 12]);
        assert_eq!(
            array_shape(&config(discretised, 16, 16, 4), 2),
            [2, 16, 16, 4]
        );
    }

    #[test]
    fn values_are_written_in_the_data_units_after_the_header() {
        let config = config(r#"{"type":"discretised","sigma_1":0.03,"bins":2}"#, 1, 3, 1);
        // Two levels: the bin centres ±½ are the bytes 0 and 255.
        let bytes = array_bytes(&config, &Samples::Values(vec![-0.5, 0.5, 0.5]));
        let header = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        let data: Vec<f32> = bytes[header..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(data, [0.0, 255.0, 255.0]);
        assert!(String::from_utf8_lossy(&bytes[..header]).contains("'shape': (1, 3)"));
    }
}
