//! Host side of `shaders/matmul.wgsl`: the networks' linear layers, C = epilogue(A·B + bias), and the U-Net's 3×3
//! convolutions as implicit GEMM over the same tiles.
//!
//! Public so that it can be measured on its own (`bfn-bench` reports its TFLOP/s) and reused: a [`Matmul`]
//! compiles once per device, [`Matmul::call`] binds one product to its buffers, and the [`Dispatch`] it returns
//! is recorded as often as needed.

use crate::gpu::kernel::{Compiler, Dispatch, Kernel, uniform_with};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/matmul.wgsl");
/// Rows and columns of C per workgroup.
pub(crate) const TILE: u32 = 64;

/// What happens to A·B + bias before it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epilogue {
    /// Stored as it is.
    Store = 0,
    /// tanh-GELU, the MLP's activation.
    Gelu = 1,
    /// Added to C: the residual connection.
    Accumulate = 2,
    /// SiLU, the U-Net's time embedding's activation.
    Silu = 3,
}

const EPILOGUES: [Epilogue; 4] = [
    Epilogue::Store,
    Epilogue::Gelu,
    Epilogue::Accumulate,
    Epilogue::Silu,
];

/// The matmul pipelines, one per epilogue, for matrices and for convolutions.
#[derive(Clone, Debug)]
pub struct Matmul {
    dense: [Kernel; 4],
    conv: [Kernel; 4],
}

/// A 3×3 convolution with padding 1 read as A (see `shaders/matmul.wgsl`): A's rows are the output cells, its
/// columns 9 × `in_channels` taps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Rows of the input canvas.
    pub in_height: u32,
    /// Columns of the input canvas.
    pub in_width: u32,
    /// 1, or 2 to halve the canvas.
    pub stride: u32,
    /// Input channels.
    pub in_channels: u32,
    /// Whether the input is doubled (nearest) before the convolution.
    pub upsample: bool,
}

impl ConvShape {
    /// Rows and columns of the output canvas.
    pub fn out_size(&self) -> (u32, u32) {
        let factor = if self.upsample { 2 } else { 1 };
        let side = |cells: u32| (cells * factor - 1) / self.stride + 1;
        (side(self.in_height), side(self.in_width))
    }
}

/// Where A, B and C are and how they are shaped: A [m, k] at column `a_offset` of rows of stride `lda` (or a
/// convolution's unfolded input, `conv`), B [k, n], C's block [m, n] at column `c_offset` of rows of stride `ldc`.
#[derive(Clone, Copy, Debug)]
pub struct MatmulShape {
    /// Rows of A and C.
    pub m: u32,
    /// Columns of B and C.
    pub n: u32,
    /// Columns of A, rows of B.
    pub k: u32,
    /// Row stride of A.
    pub lda: u32,
    /// Row stride of C.
    pub ldc: u32,
    /// First column of C's block.
    pub c_offset: u32,
    /// First column of A's block.
    pub a_offset: u32,
    /// The convolution A unfolds, if any.
    pub conv: Option<ConvShape>,
}

impl MatmulShape {
    /// Dense A [m, k] and C [m, n].
    pub fn dense(m: u32, n: u32, k: u32) -> Self {
        Self {
            m,
            n,
            k,
            lda: k,
            ldc: n,
            c_offset: 0,
            a_offset: 0,
            conv: None,
        }
    }
}

/// The buffers of a matmul.
pub struct MatmulBuffers<'a> {
    /// A, f32.
    pub a: &'a wgpu::Buffer,
    /// B [k, n], f32.
    pub b: &'a wgpu::Buffer,
    /// n biases.
    pub bias: &'a wgpu::Buffer,
    /// C, read too for [`Epilogue::Accumulate`].
    pub c: &'a wgpu::Buffer,
}

impl Matmul {
    /// Compiles the pipelines.
    pub fn new(device: &wgpu::Device) -> Self {
        let Ok(matmul) = Self::build(&mut &*device);
        matmul
    }

    /// The pipelines from `compiler`, all asked for before any is given up on.
    pub(crate) fn build<C: Compiler>(compiler: &mut C) -> Result<Self, C::Error> {
        let mut kernels = |conv: bool| {
            EPILOGUES.map(|epilogue| {
                compiler.kernel(&KernelSource::new(
                    "matmul",
                    &[SOURCE],
                    "main",
                    &[
                        ("EPILOGUE", format!("{}u", epilogue as u32)),
                        ("CONV", conv.to_string()),
                    ],
                    None,
                ))
            })
        };
        let [dense, conv] = [kernels(false), kernels(true)];
        let all = |[a, b, c, d]: [Result<Kernel, C::Error>; 4]| Ok([a?, b?, c?, d?]);
        Ok(Self {
            dense: all(dense)?,
            conv: all(conv)?,
        })
    }

    /// Binds one matmul.
    pub fn call(
        &self,
        device: &wgpu::Device,
        buffers: MatmulBuffers,
        shape: MatmulShape,
        epilogue: Epilogue,
    ) -> Dispatch {
        let (conv, (out_height, out_width)) = match shape.conv {
            Some(conv) => (conv, conv.out_size()),
            None => (
                ConvShape {
                    in_height: 0,
                    in_width: 0,
                    stride: 1,
                    in_channels: 1,
                    upsample: false,
                },
                (0, 0),
            ),
        };
        let dims = uniform_with(
            device,
            "matmul dims",
            &[
                shape.m,
                shape.n,
                shape.k,
                shape.lda,
                shape.ldc,
                shape.c_offset,
                shape.a_offset,
                conv.in_height,
                conv.in_width,
                out_height,
                out_width,
                conv.stride,
                conv.in_channels,
                u32::from(conv.upsample),
                0,
                0,
            ],
        );
        let kernels = if shape.conv.is_some() {
            &self.conv
        } else {
            &self.dense
        };
        kernels[epilogue as usize].bind(
            device,
            &[buffers.a, buffers.b, buffers.bias, buffers.c, &dims],
            [shape.n.div_ceil(TILE), shape.m.div_ceil(TILE), 1],
        )
    }
}
