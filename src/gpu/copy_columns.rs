//! Host side of `shaders/copy_columns.wgsl`.

use crate::gpu::kernel::{Compiler, Dispatch, Kernel, grid, uniform_with, wgsl};
use crate::gpu::kernel_source::KernelSource;

const SOURCE: &str = include_str!("../../shaders/copy_columns.wgsl");
/// Invocations per workgroup.
const WORKGROUP: u32 = 256;

/// The column-block copy.
#[derive(Clone, Debug)]
pub(crate) struct CopyColumns {
    kernel: Kernel,
}

/// A block of `columns` columns in a buffer of rows: stride and first column.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Columns<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub stride: u32,
    pub offset: u32,
}

impl CopyColumns {
    /// The pipeline from `compiler`.
    pub fn build<C: Compiler>(compiler: &mut C) -> Result<Self, C::Error> {
        Ok(Self {
            kernel: compiler.kernel(&KernelSource::new(
                "copy_columns",
                &[wgsl::DISPATCH, SOURCE],
                "main",
                &[],
                None,
            ))?,
        })
    }

    /// Binds the copy of `columns` columns of `rows` rows from `x` to `y`.
    pub fn call(
        &self,
        device: &wgpu::Device,
        x: Columns,
        y: Columns,
        rows: u32,
        columns: u32,
    ) -> Dispatch {
        let dims = uniform_with(
            device,
            "copy dims",
            &[rows, columns, x.stride, x.offset, y.stride, y.offset, 0, 0],
        );
        self.kernel.bind(
            device,
            &[x.buffer, y.buffer, &dims],
            grid(rows as usize * columns as usize, WORKGROUP),
        )
    }
}
