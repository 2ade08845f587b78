//! The random masks of known cells that a model with a context input is trained on: the shapes a game paints
//! and keeps — half a map, a rectangle, all but a rectangle (a region regenerated), a border, brush strokes,
//! scattered cells — so that whatever a designer holds, the network has seen its like.

use crate::flow::{CounterRng, Stream};

/// Mixed into the run's seed for the masks, so that they draw other numbers than the training noise.
const CONTEXT_KEY: u64 = 0xC0_47E7_7A5C_0001;

/// Draws per example: the share coin, the family, and the family's own numbers.
const DRAWS: u32 = 64;

/// The masks of one training run.
#[derive(Clone, Copy, Debug)]
pub struct ContextMasks {
    rng: CounterRng,
    /// The share of examples with a mask; the rest know nothing.
    share: f64,
}

/// One mask's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Half,
    Rectangle,
    AllButRectangle,
    Border,
    Strokes,
    Scattered,
}

const FAMILIES: [Family; 6] = [
    Family::Half,
    Family::Rectangle,
    Family::AllButRectangle,
    Family::Border,
    Family::Strokes,
    Family::Scattered,
];

impl ContextMasks {
    /// The masks of a run seeded `seed`, a mask on a `share` of the examples.
    pub fn new(seed: u64, share: f64) -> Self {
        Self {
            rng: CounterRng::new(seed ^ CONTEXT_KEY),
            share,
        }
    }

    /// Which cells of a `height` × `width` canvas row `row` of the batch at `step` knows (row-major): a drawn
    /// family's shape, or none. A resumed run draws the same masks.
    pub fn cells(&self, step: u32, row: usize, height: usize, width: usize) -> Vec<bool> {
        let mut known = vec![false; height * width];
        let base = row as u32 * DRAWS;
        let uniform = |k: u32| -> f64 { self.rng.uniform(step, Stream::Output, base + k) };
        if uniform(0) >= self.share {
            return known;
        }
        let below = |k: u32, n: usize| ((uniform(k) * n as f64) as usize).min(n.saturating_sub(1));
        let family = FAMILIES[below(1, FAMILIES.len())];
        let mut set = |y: usize, x: usize| known[y * width + x] = true;
        match family {
            Family::Half => {
                // Left, right, top or bottom, cut between a quarter and three quarters of the way.
                let side = below(2, 4);
                let extent = if side < 2 { width } else { height };
                let cut = extent / 4 + below(3, extent / 2 + 1);
                for y in 0..height {
                    for x in 0..width {
                        let along = if side < 2 { x } else { y };
                        if (along < cut) == (side % 2 == 0) {
                            set(y, x);
                        }
                    }
                }
            }
            Family::Rectangle | Family::AllButRectangle => {
                let (h, w) = (1 + below(2, height), 1 + below(3, width));
                let (y0, x0) = (below(4, height - h + 1), below(5, width - w + 1));
                let outside = family == Family::AllButRectangle;
                for y in 0..height {
                    for x in 0..width {
                        let inside = (y0..y0 + h).contains(&y) && (x0..x0 + w).contains(&x);
                        if inside != outside {
                            set(y, x);
                        }
                    }
                }
            }
            Family::Border => {
                let ring = 1 + below(2, 3);
                for y in 0..height {
                    for x in 0..width {
                        if y < ring || x < ring || y + ring >= height || x + ring >= width {
                            set(y, x);
                        }
                    }
                }
            }
            Family::Strokes => {
                // One to three random walks of a brush one or three cells wide.
                for stroke in 0..1 + below(2, 3) {
                    let k = 8 + 16 * stroke as u32;
                    let radius = below(k, 2);
                    let (mut y, mut x) = (below(k + 1, height), below(k + 2, width));
                    let length = height.max(width) / 2 + below(k + 3, height.max(width));
                    for i in 0..length {
                        for dy in 0..=2 * radius {
                            for dx in 0..=2 * radius {
                                let (yy, xx) = (
                                    (y + dy).saturating_sub(radius),
                                    (x + dx).saturating_sub(radius),
                                );
                                if yy < height && xx < width {
                                    set(yy, xx);
                                }
                            }
                        }
                        // Steps right, left, down or up, drawn afresh every other cell.
                        match below(k + 4 + (i as u32 / 2) % 12, 4) {
                            0 => x = (x + 1).min(width - 1),
                            1 => x = x.saturating_sub(1),
                            2 => y = (y + 1).min(height - 1),
                            _ => y = y.saturating_sub(1),
                        }
                    }
                }
            }
            Family::Scattered => {
                let p = 0.02 + 0.18 * uniform(2);
                let rng = self.rng;
                for (cell, known) in known.iter_mut().enumerate() {
                    let u: f64 = rng.uniform(step, Stream::Sender, base * 4096 + cell as u32);
                    *known = u < p;
                }
            }
        }
        known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_take_every_shape_on_their_share_and_repeat_from_the_seed() {
        let masks = ContextMasks::new(7, 0.5);
        let (height, width) = (16, 12);
        let mut empty = 0;
        let mut shares = Vec::new();
        for row in 0..400 {
            let cells = masks.cells(3, row, height, width);
            assert_eq!(
                cells,
                masks.cells(3, row, height, width),
                "the same draw twice"
            );
            let known = cells.iter().filter(|&&k| k).count();
            if known == 0 {
                empty += 1;
            } else {
                shares.push(known as f64 / cells.len() as f64);
            }
        }
        // About half the rows know nothing; the others know from a few cells to most of the canvas.
        assert!(
            (150..250).contains(&empty),
            "{empty} of 400 rows know nothing"
        );
        let (least, most) = shares
            .iter()
            .fold((1f64, 0f64), |(l, m), &s| (l.min(s), m.max(s)));
        assert!(
            least < 0.1 && most > 0.7,
            "known shares from {least} to {most}"
        );
        assert_ne!(
            masks.cells(4, 0, height, width),
            masks.cells(5, 0, height, width)
        );
        let none = ContextMasks::new(7, 0.0);
        assert!((0..50).all(|row| none.cells(1, row, height, width).iter().all(|&k| !k)));
    }
}
