//! AdamW with decoupled weight decay, global gradient-norm clipping and an exponential moving average of the
//! weights (the official BFN training recipe), optionally averaged again over the run's tail. Written here rather
//! than taken from candle-nn because its state (moments, step, averaged weights) must go into checkpoints for a
//! resumed run to continue exactly.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use candle_nn::VarMap;

use crate::model::parameters::LABEL_EMBEDDING;
use crate::train::config::TrainingSection;

/// One parameter and its optimiser state.
pub struct Slot {
    /// The parameter's name (official GPT naming).
    pub name: String,
    /// The parameter.
    pub var: Var,
    /// First moment.
    pub m: Tensor,
    /// Second moment.
    pub v: Tensor,
    /// Moving average of the parameter.
    pub ema: Tensor,
    /// Mean of `ema` over the steps since `average_from`, once that step is reached.
    pub tail: Option<Tensor>,
    decays: bool,
    /// This parameter's learning rate over the run's.
    lr_scale: f64,
}

impl Slot {
    /// The weights a model file gets: the tail mean once there is one, the moving average before.
    pub fn averaged(&self) -> &Tensor {
        self.tail.as_ref().unwrap_or(&self.ema)
    }
}

/// A checkpoint's state of one parameter.
pub struct SlotState {
    /// The parameter.
    pub param: Tensor,
    /// First moment.
    pub m: Tensor,
    /// Second moment.
    pub v: Tensor,
    /// Moving average.
    pub ema: Tensor,
    /// Tail mean, present once the run has passed `average_from`.
    pub tail: Option<Tensor>,
}

/// The optimiser over every parameter of a [`VarMap`], in name order (so that runs are reproducible).
pub struct Optimizer {
    slots: Vec<Slot>,
    betas: [f64; 2],
    weight_decay: f64,
    grad_clip: f64,
    ema_decay: f64,
    average_from: Option<u32>,
    /// Optimiser steps taken.
    pub step: u32,
}

impl Optimizer {
    /// Zero moments, the average equal to the initial weights.
    pub fn new(varmap: &VarMap, settings: &TrainingSection) -> Result<Self> {
        let data = varmap
            .data()
            .lock()
            .expect("the VarMap lock is never poisoned");
        let mut named: Vec<(String, Var)> =
            data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = named
            .into_iter()
            .map(|(name, var)| {
                // As the official `get_optim_groups`: decay the weights of linear layers, not biases or norms —
                // nor the class embedding, which decay would pull back towards "no class".
                let label = name == LABEL_EMBEDDING;
                let decays = name.ends_with(".weight") && var.rank() == 2 && !label;
                let lr_scale = match settings.label_learning_rate {
                    Some(rate) if label => rate / settings.learning_rate,
                    _ => 1.0,
                };
                Ok(Slot {
                    m: var.zeros_like()?,
                    v: var.zeros_like()?,
                    ema: var.as_tensor().copy()?.detach(),
                    tail: None,
                    name,
                    var,
                    decays,
                    lr_scale,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            slots,
            betas: settings.betas,
            weight_decay: settings.weight_decay,
            grad_clip: settings.grad_clip,
            ema_decay: settings.ema_decay,
            average_from: settings.average_from,
            step: 0,
        })
    }

    /// The parameters and their state.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// How many moving averages the tail mean holds after `step` steps; none before `average_from`. The count
    /// follows from the step, so a checkpoint needs only the mean.
    pub fn tail_length(&self, step: u32) -> Option<u32> {
        self.average_from
            .filter(|&from| step >= from)
            .map(|from| step - from + 1)
    }

    /// Restores a checkpoint's state: `state(name)` gives every parameter's.
    pub fn restore(
        &mut self,
        step: u32,
        mut state: impl FnMut(&str) -> Result<SlotState>,
    ) -> Result<()> {
        for slot in &mut self.slots {
            let SlotState {
                param,
                m,
                v,
                ema,
                tail,
            } = state(&slot.name)?;
            slot.var.set(&param)?;
            (slot.m, slot.v, slot.ema, slot.tail) = (m, v, ema, tail);
        }
        self.step = step;
        Ok(())
    }

    /// One step at learning rate `lr`: clip the gradients to the global norm, AdamW, then update the average.
    /// Returns the gradient norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<f64> {
        let mut squared = 0.0;
        for slot in &self.slots {
            if let Some(g) = grads.get(&slot.var) {
                squared += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
        }
        let norm = squared.sqrt();
        let clip = if norm > self.grad_clip {
            self.grad_clip / norm
        } else {
            1.0
        };
        self.step += 1;
        let [beta1, beta2] = self.betas;
        let correction1 = 1.0 - beta1.powi(self.step as i32);
        let correction2 = 1.0 - beta2.powi(self.step as i32);
        // The average warms up as (1 + s)/(10 + s) so that short runs are not dominated by the initial weights.
        let s = f64::from(self.step);
        let ema_decay = self.ema_decay.min((1.0 + s) / (10.0 + s));
        let tail_length = self.tail_length(self.step).map(f64::from);
        // Everything here is detached: gradients and parameters carry their autograd history, and the moments
        // and averages built from them would otherwise chain every step's graph to the next (the first digits
        // run grew to 24 GiB this way before the kernel killed it).
        for slot in &mut self.slots {
            let Some(g) = grads.get(&slot.var) else {
                continue;
            };
            let g = (g.detach() * clip)?;
            slot.m = ((&slot.m * beta1)? + (&g * (1.0 - beta1))?)?;
            slot.v = ((&slot.v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let update = ((&slot.m / correction1)? / ((&slot.v / correction2)?.sqrt()? + 1e-8)?)?;
            let decay = if slot.decays {
                1.0 - lr * self.weight_decay
            } else {
                1.0
            };
            let next =
                ((slot.var.as_tensor().detach() * decay)? - (update * (lr * slot.lr_scale))?)?;
            slot.var.set(&next)?;
            slot.ema = ((&slot.ema * ema_decay)? + (next * (1.0 - ema_decay))?)?;
            // The tail mean as a running mean, starting from the first moving average it takes in.
            if let Some(count) = tail_length {
                let mean = slot.tail.as_ref().unwrap_or(&slot.ema);
                slot.tail = Some((mean + ((&slot.ema - mean)? / count)?)?);
            }
        }
        Ok(norm)
    }
}

/// The learning rate at `step` (from 0): linear warm-up, then constant or a cosine decay to a tenth (at
/// `lr_decay_steps` or the run's end), held there after.
pub fn learning_rate(settings: &TrainingSection, step: u32) -> f64 {
    let peak = settings.learning_rate;
    if step < settings.warmup {
        return peak * f64::from(step + 1) / f64::from(settings.warmup);
    }
    if !settings.cosine_decay {
        return peak;
    }
    let decay_end = settings.lr_decay_steps.unwrap_or(settings.steps);
    let span = f64::from(decay_end.saturating_sub(settings.warmup).max(1));
    let progress = (f64::from(step - settings.warmup) / span).min(1.0);
    peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}
