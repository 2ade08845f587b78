//! Host side of the constraints buffer of `shaders/bfn_step.wgsl`: the [`Constraints`] of a job, checked as the
//! CPU sampler checks them and laid out in words. Per variable, its known value (a class, or a value's `f32`
//! bits) and its strength w (`f32` bits; 0 for a free variable, which no time is below, so that an all-zero
//! buffer is the unconstrained run); then, for discrete data, ⌈K/32⌉ words per variable with one bit per
//! forbidden class.

use crate::error::Result;
use crate::flow::{BayesianFlow, Constraints, DataKind, Known, RuntimeDatum, Shape};
use crate::model::Kind;

/// Words of the constraints buffer of a job of `kind` with `variables` variables.
pub(crate) fn constraint_words(kind: &Kind, variables: usize) -> usize {
    let mask = match kind {
        Kind::Discrete(k) => k.classes().div_ceil(32) as usize,
        _ => 0,
    };
    variables * (2 + mask)
}

/// The buffer's words for `constraints` on a job of `kind` sampling `shape`; fails as
/// [`Sampler::start_constrained`](crate::flow::Sampler::start_constrained) does, and with
/// [`crate::BfnError::Config`] for known values of the other type than the kind's data.
pub(crate) fn encode_constraints<D: RuntimeDatum>(
    kind: &Kind,
    shape: Shape,
    constraints: &Constraints<D>,
) -> Result<Vec<u32>> {
    let mut words = vec![0; constraint_words(kind, shape.len())];
    let (known, masks) = words.split_at_mut(2 * shape.len());
    match kind {
        Kind::Continuous(k) => encode_values(k, shape, constraints, known)?,
        Kind::Discretised(k) => encode_values(k, shape, constraints, known)?,
        Kind::Discrete(k) => {
            let conditioning = constraints
                .retyped(RuntimeDatum::class)?
                .conditioning::<f32, _>(k, shape)?;
            encode_known(conditioning.known(), |class| class, known);
            let classes = k.classes() as usize;
            let per_variable = classes.div_ceil(32);
            for (forbidden, mask) in conditioning
                .forbidden()
                .chunks_exact(classes)
                .zip(masks.chunks_exact_mut(per_variable))
            {
                for (class, _) in forbidden.iter().enumerate().filter(|(_, f)| **f) {
                    mask[class / 32] |= 1 << (class % 32);
                }
            }
        }
    }
    Ok(words)
}

/// The known values of a kind whose data are values (continuous, discretised).
fn encode_values<K, D: RuntimeDatum>(
    kind: &K,
    shape: Shape,
    constraints: &Constraints<D>,
    words: &mut [u32],
) -> Result<()>
where
    K: DataKind<f32>,
    K::Flow: BayesianFlow<f32, Datum = f32>,
{
    let conditioning = constraints
        .retyped(RuntimeDatum::value)?
        .conditioning::<f32, _>(kind, shape)?;
    encode_known(conditioning.known(), f32::to_bits, words);
    Ok(())
}

fn encode_known<D: Copy>(known: &[Option<Known<D>>], bits: fn(D) -> u32, words: &mut [u32]) {
    for (known, words) in known.iter().zip(words.chunks_exact_mut(2)) {
        if let Some(Known { value, strength }) = *known {
            words.copy_from_slice(&[bits(value), strength_bits(strength)]);
        }
    }
}

/// w as the `f32` s with t < s exactly when t < w for every `f32` time t — the smallest `f32` ≥ w — so that the
/// GPU conditions at the very steps the CPU does; s = 1, which also holds the sample, only for w = 1 (a w a hair
/// below 1 becomes the `f32` below 1).
fn strength_bits(w: f64) -> u32 {
    let s = w as f32;
    let s = if f64::from(s) < w { s.next_up() } else { s };
    let s = if s == 1.0 && w < 1.0 {
        s.next_down()
    } else {
        s
    };
    s.to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Discrete;

    #[test]
    fn known_values_and_forbidden_classes_take_their_words() {
        let kind = Kind::Discrete(Discrete::new(3.0, 40).unwrap());
        let shape = Shape::new(1, 2).unwrap();
        let constraints = Constraints {
            known: vec![
                None,
                Some(Known {
                    value: 7u32,
                    strength: 1.0,
                }),
            ],
            allowed: vec![Some(vec![0, 33]), None],
        };
        let words = encode_constraints(&kind, shape, &constraints).unwrap();
        let all_but = |bits: u32| !bits;
        assert_eq!(
            words,
            [
                0,
                0,
                7,
                1f32.to_bits(),
                all_but(1),
                all_but(1 << 1) & 0xff,
                0,
                0
            ],
            "two words per variable, then 2 mask words each (40 classes)"
        );
        let none = encode_constraints(&kind, shape, &Constraints::<f32>::default()).unwrap();
        assert!(none.iter().all(|&w| w == 0), "no constraint: all zeros");
        let values = Constraints {
            known: vec![
                Some(Known {
                    value: 0.5f32,
                    strength: 1.0,
                }),
                None,
            ],
            allowed: Vec::new(),
        };
        assert!(encode_constraints(&kind, shape, &values).is_err());
    }

    #[test]
    fn a_strength_conditions_at_the_same_f32_times_as_on_the_cpu() {
        for w in [0.0, 0.3, 0.5, 1.0 - 1e-12, 1.0] {
            let s = f32::from_bits(strength_bits(w));
            assert!(f64::from(s) >= w || w == 1.0 - 1e-12);
            assert!(f64::from(s.next_down()) < w, "{w}: the smallest f32 above");
            assert_eq!(s == 1.0, w == 1.0, "{w}: held to the end only at w = 1");
        }
    }
}
