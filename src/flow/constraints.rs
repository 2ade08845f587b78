//! What must stay in a sample: known values (inpainting) and allowed classes, for a batch.
//!
//! A known variable receives the sender's messages from its known value x instead of from a draw of the network's
//! output (AbBFN2's conditioning messages): y ~ N(α(K·e_x − 1), αK·I) for discrete data, y ~ N(x, 1/α) for the
//! Gaussian kinds. Its θ then follows the Bayesian flow of x, as in training, so the network reads an input it
//! has seen, which clamping θ to the one-hot (ChemBFN) would not give it at small t. The few-step samplers get
//! the same by putting x (its one-hot, or its value) in place of the prediction x̂ in their update: for the ODE
//! and SDE steps the map from u = a(t)x + s(t)ε on the flow of x lands on u′ = a(t′)x + s(t′)ε′ on the flow of x
//! again, and the redraw draws from the flow of x (with the run's temperature on its variance). The solvers'
//! start at η stays u ~ N(0, s(η)²) for every variable, as BFN-Solver's: it drops a(η)x, which is negligible at
//! the small η they run from, and keeps a constrained run's noise the unconstrained run's.
//!
//! A strength w ∈ [0, 1] keeps a variable conditioned while the step's time is below w (AbBFN2's soft mask
//! `mask > t`): w = 1 holds it through every step, a smaller w only steers the start, and 0 leaves it free. With
//! w = 1 its θ has followed the flow of x up to the end, where the data are fully sent, so its sample is x itself
//! (the final mode is replaced by x, which a finite β₁ or σ₁ would otherwise leave to the network).
//!
//! Allowed classes (ChemBFN's `token_mask`) restrict discrete variables: a forbidden class gets the logit −∞, so
//! probability 0 in every draw from the output distribution, in the prediction p̂ of the few-step samplers and in
//! the final mode.

use crate::error::{BfnError, Result, check_len};
use crate::flow::{BayesianFlow, DataKind, FlowSpace, Real, Shape};

/// A variable's known value and how strongly it is held.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Known<D> {
    /// The value: a class for discrete data, a value in [−1, 1] otherwise (moved to its bin's centre for
    /// discretised data).
    pub value: D,
    /// w ∈ [0, 1]: the variable is conditioned while t < w.
    pub strength: f64,
}

impl<D> Known<D> {
    /// `value` held to the end (w = 1): the sample keeps it exactly.
    pub fn held(value: D) -> Self {
        Self {
            value,
            strength: 1.0,
        }
    }
}

/// The constraints on every variable of a batch, flattened as θ is (example by example). An empty list puts no
/// constraint of its kind on any variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraints<D> {
    /// Per variable, its known value, if any.
    pub known: Vec<Option<Known<D>>>,
    /// Per variable of discrete data, the classes it may take, if restricted.
    pub allowed: Vec<Option<Vec<u32>>>,
}

impl<D> Default for Constraints<D> {
    fn default() -> Self {
        Self {
            known: Vec::new(),
            allowed: Vec::new(),
        }
    }
}

/// A datum of a model whose kind is known only at run time (a weights file, a GPU job): a class of discrete data
/// or a value of the others, so that one call takes the constraints of any model.
pub trait RuntimeDatum: Copy {
    /// The datum as a class, if it is one.
    fn class(self) -> Option<u32>;
    /// The datum as a value, if it is one.
    fn value(self) -> Option<f32>;
}

impl RuntimeDatum for u32 {
    fn class(self) -> Option<u32> {
        Some(self)
    }

    fn value(self) -> Option<f32> {
        None
    }
}

impl RuntimeDatum for f32 {
    fn class(self) -> Option<u32> {
        None
    }

    fn value(self) -> Option<f32> {
        Some(self)
    }
}

/// A datum of either type, for constraints held where the model's kind is not known yet (a Bevy component).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AnyDatum {
    /// A class of discrete data.
    Class(u32),
    /// A value of continuous or discretised data.
    Value(f32),
}

impl RuntimeDatum for AnyDatum {
    fn class(self) -> Option<u32> {
        match self {
            Self::Class(class) => Some(class),
            Self::Value(_) => None,
        }
    }

    fn value(self) -> Option<f32> {
        match self {
            Self::Value(value) => Some(value),
            Self::Class(_) => None,
        }
    }
}

impl<D: Copy> Constraints<D> {
    /// Known values held to the end (w = 1) for every variable, where `keep` is true.
    pub fn keeping(values: impl IntoIterator<Item = (D, bool)>) -> Self {
        Self {
            known: values
                .into_iter()
                .map(|(value, keep)| keep.then_some(Known::held(value)))
                .collect(),
            allowed: Vec::new(),
        }
    }

    /// These constraints, with `other`'s wherever these set none: a known value of `self` wins over one of
    /// `other`, and so do allowed classes. The two lists must be empty or of one length.
    pub fn or(&self, other: &Self) -> Result<Self> {
        fn either<T: Clone>(
            what: &'static str,
            a: &[Option<T>],
            b: &[Option<T>],
        ) -> Result<Vec<Option<T>>> {
            if a.is_empty() {
                return Ok(b.to_vec());
            }
            if !b.is_empty() {
                check_len(what, b.len(), a.len())?;
            }
            Ok(a.iter()
                .enumerate()
                .map(|(v, x)| x.clone().or_else(|| b.get(v).cloned().flatten()))
                .collect())
        }
        Ok(Self {
            known: either("known values", &self.known, &other.known)?,
            allowed: either("allowed classes", &self.allowed, &other.allowed)?,
        })
    }

    /// The same constraints with every known value passed through `datum`, for a model whose kind is known only at
    /// run time (allowed classes carry over as they are, so that no known value needs no type). Fails with
    /// [`BfnError::Config`] where `datum` gives none: a value for discrete data, or a class for the others.
    pub fn retyped<T>(&self, datum: impl Fn(D) -> Option<T>) -> Result<Constraints<T>> {
        let known = self
            .known
            .iter()
            .map(|known| {
                known
                    .map(|Known { value, strength }| {
                        let value = datum(value).ok_or_else(|| {
                            BfnError::Config(
                                "a known value of another type than the model's data (classes for discrete \
                                 data, values for the others)"
                                    .into(),
                            )
                        })?;
                        Ok(Known { value, strength })
                    })
                    .transpose()
            })
            .collect::<Result<_>>()?;
        Ok(Constraints {
            known,
            allowed: self.allowed.clone(),
        })
    }

    /// Checks the constraints against the kind and the batch and makes them ready for a run. Fails with
    /// [`BfnError::ShapeMismatch`] for a list of another length than the batch, the kind's error for an invalid
    /// value ([`BfnError::ClassOutOfRange`], [`BfnError::NotFinite`], [`BfnError::DataOutOfRange`]),
    /// [`BfnError::StrengthOutOfRange`], and for allowed classes [`BfnError::ClassOutOfRange`],
    /// [`BfnError::NoAllowedClass`] or [`BfnError::Config`] where the data are not discrete.
    pub(crate) fn conditioning<F: Real, K>(&self, kind: &K, shape: Shape) -> Result<Conditioning<D>>
    where
        K: DataKind<F>,
        K::Flow: BayesianFlow<F, Datum = D>,
    {
        let mut known = Vec::with_capacity(self.known.len());
        if !self.known.is_empty() {
            check_len("known values", self.known.len(), shape.len())?;
        }
        for constraint in &self.known {
            known.push(match *constraint {
                None => None,
                Some(Known { value, strength }) => {
                    kind.flow().check_datum(value)?;
                    if !(0.0..=1.0).contains(&strength) {
                        return Err(BfnError::StrengthOutOfRange(strength));
                    }
                    Some(Known {
                        value: kind.nearest_output(value),
                        strength,
                    })
                }
            });
        }
        Ok(Conditioning {
            known,
            forbidden: self.forbidden(kind.flow().flow_space(), shape)?,
        })
    }

    /// One flag per variable and class, true where the class is forbidden; empty where nothing is.
    fn forbidden(&self, space: FlowSpace, shape: Shape) -> Result<Vec<bool>> {
        if self.allowed.is_empty() {
            return Ok(Vec::new());
        }
        let FlowSpace::Logits { classes, .. } = space else {
            return Err(BfnError::Config(
                "allowed classes constrain discrete data only".into(),
            ));
        };
        check_len("allowed classes", self.allowed.len(), shape.len())?;
        let mut forbidden = vec![false; shape.len() * classes as usize];
        for (variable, (allowed, forbidden)) in self
            .allowed
            .iter()
            .zip(forbidden.chunks_exact_mut(classes as usize))
            .enumerate()
        {
            let Some(allowed) = allowed else { continue };
            if allowed.is_empty() {
                return Err(BfnError::NoAllowedClass { variable });
            }
            forbidden.fill(true);
            for &class in allowed {
                if class >= classes {
                    return Err(BfnError::ClassOutOfRange { class, classes });
                }
                forbidden[class as usize] = false;
            }
        }
        Ok(forbidden)
    }
}

/// Checked constraints, as a sampling run applies them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Conditioning<D> {
    known: Vec<Option<Known<D>>>,
    forbidden: Vec<bool>,
}

impl<D: Copy> Conditioning<D> {
    /// No constraint: the run is the unconstrained sampler's, bit for bit.
    pub(crate) fn none() -> Self {
        Self {
            known: Vec::new(),
            forbidden: Vec::new(),
        }
    }

    /// Whether any variable has a known value.
    pub(crate) fn knows_any(&self) -> bool {
        self.known.iter().any(Option::is_some)
    }

    /// Variable v's known value if it is conditioned at time t (t < w).
    pub(crate) fn at(&self, v: usize, t: f64) -> Option<D> {
        self.known
            .get(v)
            .copied()
            .flatten()
            .filter(|known| t < known.strength)
            .map(|known| known.value)
    }

    /// Variable v's value if it is held to the end (w = 1): the sample.
    pub(crate) fn hard(&self, v: usize) -> Option<D> {
        self.known
            .get(v)
            .copied()
            .flatten()
            .filter(|known| known.strength == 1.0)
            .map(|known| known.value)
    }

    /// Per variable, its checked known value, if any; empty where none is known (the GPU job encodes them).
    #[cfg(feature = "gpu")]
    pub(crate) fn known(&self) -> &[Option<Known<D>>] {
        &self.known
    }

    /// Per variable and class, whether the class is forbidden; empty where none is (the GPU job encodes them).
    #[cfg(feature = "gpu")]
    pub(crate) fn forbidden(&self) -> &[bool] {
        &self.forbidden
    }

    /// Gives the forbidden classes of every variable the logit −∞ in `output` (K logits per variable).
    pub(crate) fn forbid<F: Real>(&self, output: &mut [F]) {
        for (logit, &forbidden) in output.iter_mut().zip(&self.forbidden) {
            if forbidden {
                *logit = -F::INFINITY;
            }
        }
    }
}
