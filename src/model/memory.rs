//! Estimates of the memory a network run takes, made before anything is allocated so that a run too large for
//! the machine is refused with the figure instead of dying on a failed allocation part-way through.

use crate::model::ModelConfig;

/// The machine's total RAM in bytes, from `/proc/meminfo`; `None` where there is no such file (not Linux) or it
/// does not say.
pub fn total_ram() -> Option<u64> {
    parse_meminfo(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Copies of the parameters a training run holds: the weights, their gradients, AdamW's two moments, the
/// moving average and its tail mean.
const TRAINING_COPIES: u128 = 6;

/// Bytes a run of the network on `batch` examples takes, roughly: the weights (`parameters` of them, six copies
/// when `training`), plus the activations that the architecture keeps (`NetworkConfig::activation_bytes`): one
/// layer's at a time when sampling, every layer's when training, with the attention scores. An estimate, not a
/// bound: it is there to refuse what cannot fit, by orders of magnitude, with a figure the user can act on.
pub fn network_bytes(
    config: &ModelConfig,
    parameters: usize,
    batch: usize,
    training: bool,
) -> u128 {
    let copies = if training { TRAINING_COPIES } else { 1 };
    let positions = config.layout.tokens() as u128;
    copies * parameters as u128 * 4
        + batch as u128 * config.network.activation_bytes(positions, training)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_total_from_meminfo() {
        let text = "MemTotal:       16318396 kB\nMemFree:         1234 kB\n";
        assert_eq!(parse_meminfo(text), Some(16_318_396 * 1024));
        assert_eq!(parse_meminfo("MemFree: 12 kB\n"), None);
        assert_eq!(parse_meminfo("MemTotal: lots kB\n"), None);
    }
}
