//! The U-Net kernels' speed against candle's own operations, forward and back, at the U-Net's sizes (128 channels,
//! 16×16, batch 32): `cargo test --release --features train --lib unet_fused_speed -- --ignored --nocapture`.

use std::time::Instant;

use candle_core::{Device, Result, Tensor, Var};

/// The median of five timings, in milliseconds, of `f` on `inputs`, forward only and forward and back (the
/// gradient of Σ r ⊙ f(inputs) for a fixed r), after one untimed run.
fn time(inputs: &[Var], f: &dyn Fn(&[Tensor]) -> Result<Tensor>) -> (f64, f64) {
    let tensors: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&tensors).unwrap();
    let r = Tensor::randn(0f32, 1.0, y.shape(), &Device::Cpu).unwrap();
    let median = |run: &dyn Fn()| {
        run();
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[2]
    };
    let forward = median(&|| {
        f(&tensors).unwrap();
    });
    let both = median(&|| {
        (f(&tensors).unwrap() * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
    });
    (forward, both)
}

fn var(shape: &[usize]) -> Var {
    Var::randn(0f32, 1.0, shape, &Device::Cpu).unwrap()
}

#[test]
#[ignore = "a benchmark: run it with --ignored --nocapture"]
fn unet_fused_speed() {
    // As the trainer does: otherwise every fresh tensor, candle's or ours, is page faults.
    crate::train::keep_freed_memory();
    let (batch, channels, size) = (32, 128, 16);
    let image = [batch, channels, size, size];
    let conv = |kernel: usize| {
        vec![
            var(&image),
            var(&[channels, channels, kernel, kernel]),
            var(&[channels]),
        ]
    };
    let norm = vec![var(&image), var(&[channels]), var(&[channels])];
    type Op<'a> = &'a dyn Fn(&[Tensor]) -> Result<Tensor>;
    let conv_candle = |stride: usize, padding: usize| {
        move |t: &[Tensor]| {
            t[0].conv2d(&t[1], padding, stride, 1, 1)?
                .broadcast_add(&t[2].reshape((1, channels, 1, 1))?)
        }
    };
    let conv_fused = |stride: usize, padding: usize| {
        move |t: &[Tensor]| super::conv2d(&t[0], &t[1], Some(&t[2]), stride, padding)
    };
    let norm_candle = |silu: bool| {
        move |t: &[Tensor]| {
            let grouped = t[0].reshape((batch, 32, ()))?;
            let centred = grouped.broadcast_sub(&grouped.mean_keepdim(2)?)?;
            let variance = centred.sqr()?.mean_keepdim(2)?;
            let z = centred
                .broadcast_div(&(variance + 1e-5)?.sqrt()?)?
                .reshape(t[0].shape())?
                .broadcast_mul(&t[1].reshape((1, channels, 1, 1))?)?
                .broadcast_add(&t[2].reshape((1, channels, 1, 1))?)?;
            if silu {
                candle_nn::ops::silu(&z)
            } else {
                Ok(z)
            }
        }
    };
    let norm_fused =
        |silu: bool| move |t: &[Tensor]| super::group_norm(&t[0], &t[1], &t[2], 32, 1e-5, silu);
    let (conv_candle_1, conv_fused_1) = (conv_candle(1, 1), conv_fused(1, 1));
    let (conv_candle_2, conv_fused_2) = (conv_candle(2, 1), conv_fused(2, 1));
    let (conv_candle_0, conv_fused_0) = (conv_candle(1, 0), conv_fused(1, 0));
    let (norm_candle_plain, norm_fused_plain) = (norm_candle(false), norm_fused(false));
    let (norm_candle_silu, norm_fused_silu) = (norm_candle(true), norm_fused(true));
    let upsample_candle = |t: &[Tensor]| t[0].upsample_nearest2d(2 * size, 2 * size);
    let upsample_fused = |t: &[Tensor]| super::upsample_nearest2x(&t[0]);
    let cases: Vec<(&str, Vec<Var>, Op, Op)> = vec![
        ("conv 3×3", conv(3), &conv_candle_1, &conv_fused_1),
        ("conv 3×3 stride 2", conv(3), &conv_candle_2, &conv_fused_2),
        ("conv 1×1", conv(1), &conv_candle_0, &conv_fused_0),
        (
            "group norm",
            norm.clone(),
            &norm_candle_plain,
            &norm_fused_plain,
        ),
        (
            "group norm + SiLU",
            norm,
            &norm_candle_silu,
            &norm_fused_silu,
        ),
        (
            "upsample 2×",
            vec![var(&image)],
            &upsample_candle,
            &upsample_fused,
        ),
    ];
    println!(
        "forward and back less the loss's own cost (Σ r ⊙ y and its gradient, timed on its own), in ms, median of 5"
    );
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7}",
        "", "loss", "candle fwd", "fused fwd", "candle f+b", "fused f+b", "fwd ×", "f+b ×"
    );
    let identity = |t: &[Tensor]| Ok(t[0].clone());
    for (name, inputs, candle, fused) in cases {
        let output = fused(
            &inputs
                .iter()
                .map(|v| v.as_tensor().clone())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let (_, loss) = time(&[var(output.dims())], &identity);
        let (candle_forward, candle_both) = time(&inputs, candle);
        let (fused_forward, fused_both) = time(&inputs, fused);
        let (candle_both, fused_both) = (candle_both - loss, fused_both - loss);
        println!(
            "{name:<20} {loss:>10.2} {candle_forward:>10.2} {fused_forward:>10.2} {candle_both:>10.2} {fused_both:>10.2} {:>7.2} {:>7.2}",
            candle_forward / fused_forward,
            candle_both / fused_both
        );
    }
}
