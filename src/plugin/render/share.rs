//! Sharing one frame among every generator: each asks for the steps its own settings allow (its
//! `steps_per_frame`, or what its own GPU budget fits, plus the single steps asked for), and the game-wide
//! [`BfnSettings`](crate::plugin::BfnSettings) cap what they take together: GPU milliseconds, at each job's
//! measured time per step, and steps.
//!
//! Who goes first is decided by age: a generator's claim is its priority times the frames it has waited since it
//! last stepped, plus one. A generator that stepped starts again from its priority, one that waits climbs, so
//! every generator is served within a bounded number of frames (none starves) and a generator of priority 2
//! waits about half as long as one of priority 1. When even the first generator's single step is over the
//! budget, that one step is taken anyway (the frame's allowance): a budget smaller than one step slows the
//! flow down but never stops it. A job whose time per step is not measured yet takes only such an allowance step
//! (its cost is unknown), unless a job of the same model, canvas and batch has been measured.

use std::collections::HashMap;

use bevy::prelude::*;

/// The game-wide caps of one frame, as checked by the main world.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct FrameCaps {
    /// GPU milliseconds for all generators together; applies only where the device has timestamp queries.
    pub gpu_ms: Option<f64>,
    /// Steps for all generators together.
    pub steps: Option<u32>,
}

/// One generator's request for this frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Claim {
    pub entity: Entity,
    /// The most steps its own settings allow this frame.
    pub wants: u32,
    /// Its job's GPU milliseconds per step, if measured.
    pub ms_per_step: Option<f64>,
    /// [`BfnPriority`](crate::plugin::BfnPriority), at least 1.
    pub priority: u32,
}

/// What one frame records.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FrameShare {
    /// Steps per generator, in the order they are recorded; generators that take none are left out.
    pub steps: Vec<(Entity, u32)>,
    /// The GPU milliseconds the steps are expected to take, at the measured times per step (steps of
    /// unmeasured jobs count nothing).
    pub expected_gpu_ms: f64,
    /// Whether the frame holds one step over the budget: the allowance.
    pub allowance: bool,
}

/// The frames each generator has waited since it last stepped, kept across frames.
#[derive(Default)]
pub(crate) struct Waiting(HashMap<Entity, u32>);

impl Waiting {
    /// Shares the frame among `claims` under `caps`, and counts the frame for those that got no step. Claims of
    /// generators not seen this frame are forgotten.
    pub fn share(&mut self, caps: FrameCaps, claims: &[Claim]) -> FrameShare {
        self.0
            .retain(|entity, _| claims.iter().any(|c| c.entity == *entity));
        let mut order: Vec<&Claim> = claims.iter().filter(|c| c.wants > 0).collect();
        // The longest-waiting first, weighted by priority; ties by entity index (the order generators were spawned
        // in, where no index was reused), so that the order is reproducible.
        let standing = |claim: &Claim| {
            let waited = self.0.get(&claim.entity).copied().unwrap_or(0);
            u64::from(claim.priority.max(1)) * (u64::from(waited) + 1)
        };
        order.sort_by(|a, b| {
            standing(b)
                .cmp(&standing(a))
                .then(a.entity.index_u32().cmp(&b.entity.index_u32()))
        });
        let mut share = FrameShare::default();
        let mut ms_left = caps.gpu_ms;
        let mut steps_left = caps.steps.unwrap_or(u32::MAX);
        for claim in order {
            let fits_ms = match (ms_left, claim.ms_per_step) {
                (None, _) => u32::MAX,
                (Some(left), Some(ms)) if ms > 0.0 => {
                    (left / ms).floor().clamp(0.0, f64::from(u32::MAX)) as u32
                }
                // Unmeasured: its cost is not known.
                (Some(_), _) => 0,
            };
            let mut steps = claim.wants.min(fits_ms).min(steps_left);
            if steps == 0 && share.steps.is_empty() && steps_left > 0 {
                steps = 1;
                share.allowance = true;
            }
            if steps == 0 {
                continue;
            }
            let ms = claim.ms_per_step.unwrap_or(0.0) * f64::from(steps);
            share.expected_gpu_ms += ms;
            ms_left = ms_left.map(|left| left - ms);
            steps_left -= steps;
            share.steps.push((claim.entity, steps));
            if share.allowance {
                break;
            }
        }
        for claim in claims {
            let waited = self.0.entry(claim.entity).or_default();
            if share
                .steps
                .iter()
                .any(|(entity, _)| *entity == claim.entity)
            {
                *waited = 0;
            } else if claim.wants > 0 {
                *waited = waited.saturating_add(1);
            }
        }
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(index: u32, wants: u32, ms_per_step: Option<f64>) -> Claim {
        Claim {
            entity: Entity::from_raw_u32(index).unwrap(),
            wants,
            ms_per_step,
            priority: 1,
        }
    }

    /// Frames of `claims` under `caps`, each generator's steps taken off what it still needs (`wants` per frame,
    /// `total` in all); returns the frame at which each finished and checks every frame against the caps.
    fn run_to_the_end(caps: FrameCaps, claims: &[Claim], total: u32) -> Vec<usize> {
        let mut waiting = Waiting::default();
        let mut left: Vec<u32> = vec![total; claims.len()];
        let mut finished = vec![0; claims.len()];
        for frame in 1..10_000 {
            let now: Vec<Claim> = claims
                .iter()
                .zip(&left)
                .map(|(c, left)| Claim {
                    wants: c.wants.min(*left),
                    ..*c
                })
                .collect();
            let share = waiting.share(caps, &now);
            let steps: u32 = share.steps.iter().map(|(_, s)| s).sum();
            if let Some(cap) = caps.steps {
                assert!(
                    steps <= cap,
                    "frame {frame}: {steps} steps over the cap {cap}"
                );
            }
            if let Some(budget) = caps.gpu_ms
                && !share.allowance
            {
                assert!(
                    share.expected_gpu_ms <= budget + 1e-9,
                    "frame {frame}: {share:?}"
                );
            }
            if share.allowance {
                assert_eq!(steps, 1, "the allowance is one step: {share:?}");
            }
            for (entity, taken) in share.steps {
                let i = claims.iter().position(|c| c.entity == entity).unwrap();
                left[i] -= taken;
                if left[i] == 0 {
                    finished[i] = frame;
                }
            }
            if left.iter().all(|l| *l == 0) {
                return finished;
            }
        }
        panic!("not every generator finished: {left:?} steps left");
    }

    #[test]
    fn without_caps_every_generator_takes_what_it_asks() {
        let claims = [claim(1, 4, None), claim(2, 7, Some(3.0))];
        let share = Waiting::default().share(FrameCaps::default(), &claims);
        assert_eq!(share.steps.len(), 2);
        assert!(share.steps.contains(&(claims[0].entity, 4)));
        assert!(share.steps.contains(&(claims[1].entity, 7)));
        assert!(!share.allowance);
    }

    #[test]
    fn sixteen_generators_under_a_step_cap_all_finish_and_share_evenly() {
        let claims: Vec<Claim> = (1..=16).map(|i| claim(i, 4, Some(0.5))).collect();
        let caps = FrameCaps {
            gpu_ms: None,
            steps: Some(8),
        };
        let finished = run_to_the_end(caps, &claims, 50);
        // 800 steps at 8 a frame take 100 frames; an even share finishes them all near the end.
        let (first, last) = (
            finished.iter().min().unwrap(),
            finished.iter().max().unwrap(),
        );
        assert_eq!(*last, 100, "{finished:?}");
        assert!(
            *first >= 90,
            "one generator was served ahead of the others: {finished:?}"
        );
    }

    #[test]
    fn a_gpu_budget_is_never_exceeded_but_for_the_allowance_and_nobody_starves() {
        // Costs from 0.3 to 2.6 ms a step under 2 ms: the dearest never fits and lives on the allowance.
        let claims: Vec<Claim> = (1..=12)
            .map(|i| claim(i, 4, Some(0.3 + 0.2 * f64::from(i) - 0.2)))
            .collect();
        let caps = FrameCaps {
            gpu_ms: Some(2.0),
            steps: None,
        };
        let finished = run_to_the_end(caps, &claims, 30);
        assert!(finished.iter().all(|f| *f > 0));
    }

    #[test]
    fn an_unmeasured_job_waits_for_an_allowance_step() {
        let claims = [claim(1, 4, Some(0.5)), claim(2, 4, None)];
        let caps = FrameCaps {
            gpu_ms: Some(2.0),
            steps: None,
        };
        let mut waiting = Waiting::default();
        // Equal standing: the lower entity first, which takes the whole budget; the unmeasured job waits.
        let first = waiting.share(caps, &claims);
        assert_eq!(first.steps, vec![(claims[0].entity, 4)]);
        // Having waited, it goes first, and as nothing is recorded yet it takes one step, over the budget.
        let second = waiting.share(caps, &claims);
        assert_eq!(second.steps, vec![(claims[1].entity, 1)]);
        assert!(second.allowance);
    }

    #[test]
    fn a_higher_priority_is_served_more_often_but_the_lower_is_not_starved() {
        let high = Claim {
            priority: 3,
            ..claim(1, 1, Some(1.0))
        };
        let low = claim(2, 1, Some(1.0));
        let caps = FrameCaps {
            gpu_ms: None,
            steps: Some(1),
        };
        let mut waiting = Waiting::default();
        let mut served = [0; 2];
        for _ in 0..400 {
            for (entity, _) in waiting.share(caps, &[high, low]).steps {
                served[usize::from(entity == low.entity)] += 1;
            }
        }
        // Priority 3 against 1: the low one waits until its standing passes 3, so it steps every fourth frame.
        assert_eq!(served, [300, 100]);
    }
}
