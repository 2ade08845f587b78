//! Fused CPU kernels, each with its own backward pass, for the network's operations that candle would build out of
//! many small ones: tanh-GELU, the attention softmax, LayerNorm and the linear layers' bias; and, for the
//! convolutional U-Net, the convolution, GroupNorm (with its SiLU) and nearest upsampling, whose backward passes
//! candle runs as slow direct loops.
//!
//! candle builds GELU, softmax and LayerNorm out of a handful of tensor operations, every one a pass over
//! megabytes of activations into a fresh allocation, and their backward passes out of twice as many; the gradient
//! of a bias or a gain broadcast over [batch, tokens] is a strided reduction. On the dungeon network (4 × 96, 256
//! tokens, batch 16) all that took about half of a training step (`perf`, 2026-12-02). candle-nn's own fused
//! softmax and LayerNorm have no backward pass, so gradients would stop at them. Here each operation is one pass
//! forward and one back over rows of the last dimension, and each is tested against the tensor expression it
//! replaces, values and gradients.

mod candle_ops;
mod conv2d;
mod gelu;
mod group_norm;
mod layer_norm;
mod linear;
mod resample;
mod softmax;
#[cfg(test)]
mod speed;

pub use conv2d::conv2d;
pub use gelu::gelu;
pub use group_norm::group_norm;
pub use layer_norm::layer_norm;
pub use linear::linear;
pub use resample::upsample_nearest2x;
pub use softmax::scaled_softmax;

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// Whether the U-Net's operations run as candle's own compositions (see [`use_candle_ops`]).
static CANDLE_OPS: AtomicBool = AtomicBool::new(false);

/// Makes the U-Net's convolution, GroupNorm and nearest upsampling run as candle's own operations (`on`) or as the
/// fused kernels (the default), for the whole process: what `bfn-bench training` measures the fused kernels
/// against. The two agree to rounding (their tests), so a run may switch between them.
pub fn use_candle_ops(on: bool) {
    CANDLE_OPS.store(on, Ordering::Relaxed);
}

/// Whether [`use_candle_ops`] is on.
fn candle_ops() -> bool {
    CANDLE_OPS.load(Ordering::Relaxed)
}

/// An operation on the rows (the last dimension) of an f32 tensor, with the gradient of its argument.
trait RowOp: Clone + Send + Sync + 'static {
    /// The name candle's errors give the operation.
    const NAME: &'static str;
    /// Whether [`RowOp::backward`] reads the operation's argument (`true`) or its result (`false`).
    const BACKWARD_READS_ARGUMENT: bool;

    /// Writes the result row `y` of the argument row `x`.
    fn forward(&self, x: &[f32], y: &mut [f32]);

    /// Writes the argument's gradient row `dx` from the saved row (the argument or the result, as
    /// [`RowOp::BACKWARD_READS_ARGUMENT`] says) and the result's gradient row `dy`.
    fn backward(&self, saved: &[f32], dy: &[f32], dx: &mut [f32]);
}

/// `op` applied to `x`, with `op`'s backward pass on the gradient tape.
fn apply<O: RowOp>(x: &Tensor, op: O) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Forward(op))
}

/// The candle operation that runs a [`RowOp`] forward and puts its [`Backward`] on the tape.
struct Forward<O>(O);

/// The candle operation that runs a [`RowOp`]'s backward pass.
struct Backward<O>(O);

impl<O: RowOp> CustomOp1 for Forward<O> {
    fn name(&self) -> &'static str {
        O::NAME
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = rows_of(O::NAME, storage, layout)?;
        let width = row_width(layout);
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(width)
            .zip(x.par_chunks(width))
            .for_each(|(y, x)| self.0.forward(x, y));
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let saved = if O::BACKWARD_READS_ARGUMENT { arg } else { res };
        let grad = saved
            .contiguous()?
            .apply_op2_no_bwd(&grad_res.contiguous()?, &Backward(self.0.clone()))?;
        Ok(Some(grad))
    }
}

impl<O: RowOp> CustomOp2 for Backward<O> {
    fn name(&self) -> &'static str {
        O::NAME
    }

    fn cpu_fwd(
        &self,
        saved_storage: &CpuStorage,
        saved_layout: &Layout,
        dy_storage: &CpuStorage,
        dy_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if saved_layout.shape() != dy_layout.shape() {
            bail!(
                "{}: gradient of shape {:?} for a result of shape {:?}",
                O::NAME,
                dy_layout.shape(),
                saved_layout.shape()
            );
        }
        let saved = rows_of(O::NAME, saved_storage, saved_layout)?;
        let dy = rows_of(O::NAME, dy_storage, dy_layout)?;
        let width = row_width(saved_layout);
        let mut dx = vec![0f32; saved.len()];
        dx.par_chunks_mut(width)
            .zip(saved.par_chunks(width).zip(dy.par_chunks(width)))
            .for_each(|(dx, (saved, dy))| self.0.backward(saved, dy, dx));
        Ok((CpuStorage::F32(dx), saved_layout.shape().clone()))
    }
}

/// The elements of a contiguous f32 tensor, or an error naming the operation.
fn rows_of<'a>(op: &str, storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(all) = storage else {
        bail!("{op}: f32 tensors only, got {:?}", storage.dtype());
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&all[start..end]),
        None => bail!("{op}: the tensor is not contiguous"),
    }
}

/// The length of the last dimension (1 for a scalar), never 0 so that chunking an empty tensor is well defined.
fn row_width(layout: &Layout) -> usize {
    layout.shape().dims().last().copied().unwrap_or(1).max(1)
}

/// The elements of a one-dimensional f32 tensor of length `width` (a gain or a bias), or an error naming the
/// operation.
fn vector_of<'a>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
    width: usize,
) -> Result<&'a [f32]> {
    if layout.shape().dims() != [width] {
        bail!(
            "{op}: a vector of {width} expected, got shape {:?}",
            layout.shape()
        );
    }
    rows_of(op, storage, layout)
}

/// Rows per block of a column sum. The blocks are fixed and their sums are added in order, so that the result does
/// not depend on how rayon shares the work among threads: a resumed run must repeat an uninterrupted one bit for bit.
const ROWS_PER_BLOCK: usize = 64;

/// Σ over `rows` rows of the vectors (of `len`) that `add_row` adds row by row into an accumulator.
fn column_sums(rows: usize, len: usize, add_row: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let blocks: Vec<Vec<f32>> = (0..rows.div_ceil(ROWS_PER_BLOCK))
        .into_par_iter()
        .map(|block| {
            let mut sums = vec![0f32; len];
            let start = block * ROWS_PER_BLOCK;
            (start..rows.min(start + ROWS_PER_BLOCK)).for_each(|row| add_row(row, &mut sums));
            sums
        })
        .collect();
    blocks
        .into_iter()
        .fold(vec![0f32; len], |mut total, block| {
            total.iter_mut().zip(block).for_each(|(t, b)| *t += b);
            total
        })
}

/// Σ f(aᵢ, bᵢ) over two slices of the same length, in f64: f32 lanes over blocks of 256 so that the loop
/// vectorises, the blocks' sums added in f64 so that a long sum (a GroupNorm group, a channel over a batch of
/// pixels) keeps its precision. The order is fixed, so the result is the same bits on any number of threads.
fn accurate_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    const LANES: usize = 8;
    const BLOCK: usize = 256;
    let mut total = 0f64;
    for (a, b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let mut lanes = [0f32; LANES];
        let (mut a, mut b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        for (a, b) in (&mut a).zip(&mut b) {
            for ((lane, &a), &b) in lanes.iter_mut().zip(a).zip(b) {
                *lane += f(a, b);
            }
        }
        let tail: f32 = a
            .remainder()
            .iter()
            .zip(b.remainder())
            .map(|(&a, &b)| f(a, b))
            .sum();
        total += lanes.iter().map(|&l| f64::from(l)).sum::<f64>() + f64::from(tail);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::column_sums;

    #[test]
    fn column_sums_are_the_same_bits_on_any_number_of_threads_and_right() {
        let (rows, width) = (1000, 7);
        // Magnitudes from 10⁻² to 10², so that the order of the additions shows in the last bits.
        let values: Vec<f32> = (0..rows * width)
            .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 10f32.powi((i % 5) as i32 - 2))
            .collect();
        let sums = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                column_sums(rows, width, |row, sums| {
                    let row = &values[row * width..(row + 1) * width];
                    sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                })
            })
        };
        let one = sums(1);
        for threads in [2, 3, 8] {
            assert_eq!(sums(threads), one, "{threads} threads");
        }
        for (column, &sum) in one.iter().enumerate() {
            let exact: f64 = (0..rows).map(|r| values[r * width + column] as f64).sum();
            assert!(
                (sum as f64 - exact).abs() < 1e-3,
                "column {column}: {sum} against {exact}"
            );
        }
    }
}

#[cfg(test)]
mod reference {
    //! The check every fused operation passes: values and gradients equal to the tensor expression it replaces.

    use candle_core::{Device, Result, Tensor, Var};

    /// Spread, irregular values in about [−4, 4] (a golden-ratio sequence from `start`), so that every branch of a
    /// kernel is hit.
    fn values(start: usize, count: usize) -> Vec<f32> {
        (start..start + count)
            .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 8.0 * ((i % 7) as f32 / 6.0 + 0.1))
            .collect()
    }

    /// Asserts that `fused` and `expression` agree on inputs of the given shapes, in values and in the gradient of
    /// Σ r ⊙ f(inputs) for an irregular `r` (shaped as the output) with respect to every input, to `tolerance`
    /// relative to the largest magnitude of each.
    pub fn assert_matches(
        shapes: &[&[usize]],
        tolerance: f32,
        fused: impl Fn(&[Tensor]) -> Result<Tensor>,
        expression: impl Fn(&[Tensor]) -> Result<Tensor>,
    ) {
        let var = |start: usize, shape: &[usize]| {
            Var::from_vec(values(start, shape.iter().product()), shape, &Device::Cpu).unwrap()
        };
        let inputs: Vec<Var> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| var(1000 * i, s))
            .collect();
        let tensors: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
        let run = |f: &dyn Fn(&[Tensor]) -> Result<Tensor>| values_and_gradients(&tensors, f);
        for ((what, a), (_, b)) in run(&fused).into_iter().zip(run(&expression)) {
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(
                scale > 1e-3,
                "{what}: the expression's are all about 0, nothing is compared"
            );
            let worst = a
                .iter()
                .zip(&b)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                worst <= tolerance * scale,
                "{what}: fused and expression differ by {worst} (largest magnitude {scale})"
            );
            assert!(a.iter().all(|v| v.is_finite()), "{what}: not finite");
        }
    }

    /// The values of `f(inputs)` and the gradients of Σ r ⊙ f(inputs) for an irregular `r` with respect to every
    /// input, flattened and named.
    fn values_and_gradients(
        inputs: &[Tensor],
        f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    ) -> Vec<(String, Vec<f32>)> {
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let y = f(inputs).unwrap();
        let r = Tensor::from_vec(values(7, y.elem_count()), y.shape(), &Device::Cpu).unwrap();
        let grads = (&y * r).unwrap().sum_all().unwrap().backward().unwrap();
        let mut outputs = vec![("values".to_string(), flat(&y))];
        for (i, t) in inputs.iter().enumerate() {
            let grad = grads
                .get(t)
                .unwrap_or_else(|| panic!("input {i} has no gradient"));
            outputs.push((format!("gradient of input {i}"), flat(grad)));
        }
        outputs
    }

    /// Asserts that `fused`'s values and gradients (as [`assert_matches`] takes them) are the same bits on one
    /// thread and on three: a resumed training run must repeat an uninterrupted one bit for bit.
    pub fn assert_same_bits_on_any_number_of_threads(
        shapes: &[&[usize]],
        fused: impl Fn(&[Tensor]) -> Result<Tensor> + Sync,
    ) {
        let inputs: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(i, shape)| {
                let values = values(1000 * i, shape.iter().product());
                Var::from_vec(values, *shape, &Device::Cpu)
                    .unwrap()
                    .as_tensor()
                    .clone()
            })
            .collect();
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| values_and_gradients(&inputs, &fused))
        };
        let one = on(1);
        for ((what, a), (_, b)) in one.iter().zip(on(3)) {
            let same =
                a.len() == b.len() && a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{what}: not the same bits on 1 and 3 threads");
        }
    }
}
