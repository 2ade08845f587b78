//! The rows of a conditional model's class embedding that a batch asks for.

use candle_core::{Result, Tensor};

/// The rows of `embedding` ([classes + 1, features], the last row "no class") for `labels`, one per example of
/// `batch` or empty for no class anywhere, as [batch, features]; `None` for a model without classes asked for
/// none. Both networks add them where the time enters, so that the class steers every layer.
pub(crate) fn class_rows(
    embedding: Option<&Tensor>,
    labels: &[Option<u32>],
    batch: usize,
) -> Result<Option<Tensor>> {
    let Some(embedding) = embedding else {
        return match labels.iter().flatten().next() {
            Some(label) => candle_core::bail!("class {label} asked of a model without classes"),
            None => Ok(None),
        };
    };
    let no_class = embedding.dim(0)? as u32 - 1;
    if !labels.is_empty() && labels.len() != batch {
        candle_core::bail!("{} labels for a batch of {batch}", labels.len());
    }
    let rows = (0..batch)
        .map(|b| match labels.get(b).copied().flatten() {
            Some(label) if label >= no_class => {
                candle_core::bail!("class {label} asked of a model with {no_class} classes")
            }
            label => Ok(label.unwrap_or(no_class)),
        })
        .collect::<Result<Vec<u32>>>()?;
    let rows = Tensor::from_vec(rows, batch, embedding.device())?;
    embedding.index_select(&rows, 0).map(Some)
}
