//! The floating-point type the maths runs in.
//!
//! Every formula in [`crate::flow`] is written once, generic over [`Real`], so that one piece of code gives the
//! `f64` reference that is checked against the official implementation and the `f32` path that the GPU kernels
//! reproduce. Only the handful of operations the maths needs are listed: the trait is not a general numeric tower.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point scalar: implemented for `f32` and `f64`.
pub trait Real:
    Copy
    + Debug
    + Display
    + PartialOrd
    + Default
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Machine epsilon: torch's `Categorical` clamps probabilities to `[ε, 1 − ε]` with the ε of their dtype.
    const EPSILON: Self;
    /// The smallest positive normal number.
    const MIN_POSITIVE: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// π.
    const PI: Self;

    /// Converts from `f64`, rounding to nearest.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts an integer count or index (exact below 2²⁴ in `f32`).
    fn from_usize(x: usize) -> Self {
        Self::from_f64(x as f64)
    }
    /// eˣ.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// eˣ − 1, accurate for small x where `exp(x) - 1` cancels.
    fn exp_m1(self) -> Self;
    /// selfᵉ.
    fn powf(self, e: Self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Largest integer not above self.
    fn floor(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Complementary error function, from `libm` (correctly rounded to about 1 ulp), so that tail
    /// probabilities keep their relative precision.
    fn erfc(self) -> Self;
    /// Whether neither infinite nor NaN.
    fn is_finite(self) -> bool;

    /// The larger of the two (self when either is NaN is not a concern here: inputs are checked finite).
    fn max(self, other: Self) -> Self {
        if self >= other { self } else { other }
    }
    /// The smaller of the two.
    fn min(self, other: Self) -> Self {
        if self <= other { self } else { other }
    }
    /// self limited to `[lo, hi]`.
    fn clamp(self, lo: Self, hi: Self) -> Self {
        self.max(lo).min(hi)
    }
}

macro_rules! impl_real {
    ($t:ident, $erfc:path, $expm1:path) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = $t::EPSILON;
            const MIN_POSITIVE: Self = $t::MIN_POSITIVE;
            const INFINITY: Self = $t::INFINITY;
            const PI: Self = std::$t::consts::PI;

            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn exp(self) -> Self {
                $t::exp(self)
            }
            fn ln(self) -> Self {
                $t::ln(self)
            }
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            fn exp_m1(self) -> Self {
                $expm1(self)
            }
            fn powf(self, e: Self) -> Self {
                $t::powf(self, e)
            }
            fn cos(self) -> Self {
                $t::cos(self)
            }
            fn floor(self) -> Self {
                $t::floor(self)
            }
            fn abs(self) -> Self {
                $t::abs(self)
            }
            fn erfc(self) -> Self {
                $erfc(self)
            }
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
        }
    };
}

impl_real!(f32, libm::erfcf, libm::expm1f);
impl_real!(f64, libm::erfc, libm::expm1);
