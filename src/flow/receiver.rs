//! The receiver distribution of the discrete-time loss, shared by discretised and discrete data.
//!
//! Lⁿ at step i is n·KL(p_S(· ∣ x; α) ∥ p_R(· ∣ θ; t, α)), where the receiver p_R = Σ_k p_O(k)·p_S(· ∣ k; α) is a
//! mixture with no closed-form KL. It is estimated by Monte Carlo over sender samples y:
//! E_y[ln p_S(y ∣ x) − ln Σ_k w_k p_S(y ∣ k)].

use crate::flow::Real;
use crate::flow::normal::log_sum_exp;

/// ln w_k for mixture weights p_k as torch's `MixtureSameFamily(Categorical(probs=p), …)` uses them:
/// log-softmax of ln clamp(p_k, ε, 1 − ε), ε the machine epsilon of `F`. Without the clamp a weight that
/// underflows to 0 would make the loss far larger than the reference's (the golden values depend on it).
pub(crate) fn mixture_log_weights<F: Real>(probs: impl Iterator<Item = F>) -> Vec<F> {
    let logs: Vec<F> = probs
        .map(|p| p.clamp(F::EPSILON, F::ONE - F::EPSILON).ln())
        .collect();
    let norm = log_sum_exp(logs.iter().copied());
    logs.into_iter().map(|l| l - norm).collect()
}
