//! Host side of `shaders/matmul.wgsl`: the network's linear layers, C = epilogue(A·B + bias).
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
}

/// The matmul pipelines, one per epilogue.
#[derive(Clone, Debug)]
pub struct Matmul {
    kernels: [Kernel; 3],
}

/// Where A, B and C are and how they are shaped: A [m, k] with row stride `lda`, B [k, n], C's block [m, n] at
/// column `c_offset` of rows of stride `ldc`.
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
    /// Compiles the three pipelines.
    pub fn new(device: &wgpu::Device) -> Self {
        let Ok(matmul) = Self::build(&mut &*device);
        matmul
    }

    /// The three pipelines from `compiler`.
    pub(crate) fn build<C: Compiler>(compiler: &mut C) -> Result<Self, C::Error> {
        let [store, gelu, accumulate] = [Epilogue::Store, Epilogue::Gelu, Epilogue::Accumulate]
            .map(|epilogue| {
                compiler.kernel(&KernelSource::new(
                    "matmul",
                    &[SOURCE],
                    "main",
                    &[("EPILOGUE", format!("{}u", epilogue as u32))],
                    None,
                ))
            });
        Ok(Self {
            kernels: [store?, gelu?, accumulate?],
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
            ],
        );
        self.kernels[epilogue as usize].bind(
            device,
            &[buffers.a, buffers.b, buffers.bias, buffers.c, &dims],
            [shape.n.div_ceil(TILE), shape.m.div_ceil(TILE), 1],
        )
    }
}
