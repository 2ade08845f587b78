//! Fixed-length arrays read strictly. Serde's own `[T; N]` takes the first N elements of a longer TOML array and
//! drops the rest without a word, so `betas = [0.9, 0.98, 0.5]` would train with two betas the user did not
//! quite write; read through this, an array of any other length is an error that says how many were expected.

use serde::de::{Deserialize, Deserializer, Error};

/// Exactly `N` elements, for `#[serde(deserialize_with = "exactly")]`.
pub(crate) fn exactly<'de, D, T, const N: usize>(deserializer: D) -> Result<[T; N], D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let items = Vec::<T>::deserialize(deserializer)?;
    let found = items.len();
    items
        .try_into()
        .map_err(|_| D::Error::invalid_length(found, &format!("exactly {N} elements").as_str()))
}
