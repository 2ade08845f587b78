//! A linear layer applied to [..., inputs] as one two-dimensional product, with the bias added by a fused kernel.
//!
//! candle-nn's `Linear` multiplies a [batch, tokens, inputs] tensor by the weight broadcast over the batch, so its
//! weight gradient is a batch of products summed by a strided reduction, and the gradient of its broadcast bias
//! is another; flattened to [rows, inputs], the weight gradient is one product and the bias gradient one pass
//! down the columns.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use candle_nn::Linear;
use rayon::prelude::*;

use super::{column_sums, row_width, rows_of, vector_of};

/// `layer` applied to the last dimension of `x`: x·Wᵀ + b.
pub fn linear(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let mut dims = x.dims().to_vec();
    let inputs = dims.pop().unwrap_or(1);
    let rows = dims.iter().product::<usize>();
    let product = x.reshape((rows, inputs))?.matmul(&layer.weight().t()?)?;
    let output = match layer.bias() {
        Some(bias) => product.apply_op2(bias, AddBias)?,
        None => product,
    };
    dims.push(layer.weight().dim(0)?);
    output.reshape(dims)
}

/// x + b, b added to every row.
struct AddBias;

/// Σ over the rows of a [rows, width] tensor: the gradient of [`AddBias`]'s bias.
struct ColumnSums;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "add-bias"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        bias_storage: &CpuStorage,
        bias_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = rows_of(self.name(), x_storage, x_layout)?;
        let width = row_width(x_layout);
        let bias = vector_of(self.name(), bias_storage, bias_layout, width)?;
        let mut y = x.to_vec();
        y.par_chunks_mut(width)
            .for_each(|row| row.iter_mut().zip(bias).for_each(|(y, b)| *y += b));
        Ok((CpuStorage::F32(y), x_layout.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let bias_grad = grad_res.contiguous()?.apply_op1_no_bwd(&ColumnSums)?;
        Ok((Some(grad_res.clone()), Some(bias_grad)))
    }
}

impl CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "column-sums"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let rows = rows_of(self.name(), storage, layout)?;
        let width = row_width(layout);
        let sums = column_sums(rows.len() / width, width, |row, sums| {
            let row = &rows[row * width..(row + 1) * width];
            sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        });
        Ok((CpuStorage::F32(sums), Shape::from(width)))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Module;
    use candle_nn::Linear;

    use super::super::reference::assert_matches;

    #[test]
    fn equals_candle_nns_linear_in_values_and_all_three_gradients() {
        let layer = |t: &[candle_core::Tensor]| Linear::new(t[1].clone(), Some(t[2].clone()));
        assert_matches(
            &[&[3, 5, 24], &[24, 24], &[24]],
            1e-5,
            |t| super::linear(&layer(t), &t[0]),
            |t| layer(t).forward(&t[0]),
        );
    }
}
