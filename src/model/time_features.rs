//! The sinusoidal features of the time that the U-Net's time embedding starts from, computed here once for the
//! CPU network and the GPU sampler alike: cosines of arguments in the thousands are where a GPU's `cos` and the
//! CPU's part ways, so the GPU reads these very values (a row per step) instead of computing its own.

/// The official factor from t ∈ [0, 1] to the embedding's "timesteps": the diffusion-era frequencies then see t
/// as a step count out of 4000.
pub const TIME_SCALE: f32 = 4000.0;

/// The longest period of the features.
const MAX_PERIOD: f32 = 10_000.0;

/// The `count` features of time `t` (the official `timestep_embedding` of 4000·t): cos(4000·t·fᵢ) for i below
/// half, then the sines, fᵢ = 10⁴^(−i/half), and a zero where `count` is odd.
pub fn time_features(t: f32, count: usize) -> impl Iterator<Item = f32> {
    let half = count / 2;
    let argument = move |i: usize| {
        let frequency = (-(MAX_PERIOD.ln()) * i as f32 / half as f32).exp();
        (t * TIME_SCALE) * frequency
    };
    (0..count).map(move |i| match i {
        i if i < half => argument(i).cos(),
        i if i < 2 * half => argument(i - half).sin(),
        _ => 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosines_then_sines_of_the_scaled_time() {
        let f: Vec<f32> = time_features(0.25, 5).collect();
        // half = 2: frequencies 1 and 10⁻², argument 1000·f.
        let expected = [1000f32.cos(), 10f32.cos(), 1000f32.sin(), 10f32.sin(), 0.0];
        for (a, b) in f.iter().zip(expected) {
            assert!((a - b).abs() < 1e-3, "{f:?}");
        }
        assert!(time_features(0.0, 4).eq([1.0, 1.0, 0.0, 0.0]));
    }
}
