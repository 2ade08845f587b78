//! Sampling to files and measuring what comes out (feature `train`): what `bfn-train sample`, `eval` and `quality`
//! do, apart from training. CPU sample sheets, arrays and mosaics with the user's constraints, the held-out
//! negative ELBO, and the measures that judge a model by what a game needs: pattern statistics and seams, the
//! nearest-class check of conditional models, walkable regions of tile maps, precision and recall of images,
//! slopes and curvature of height fields; with the `.npy` files and plots they are written to.

pub mod eval;
pub mod game_measures;
pub mod nearest_class;
pub mod npy;
pub mod plot;
pub mod quality;
pub mod sample_array;
pub mod sample_mosaic;
pub mod sample_sheet;
pub mod seams;
pub mod user_constraints;

pub use eval::{Evaluation, evaluate};
pub use quality::{Quality, quality};
