//! Patchwork's core: data sources, models, losses, the training runtime, evaluation
//! and checkpoints. No GUI code lives here.

pub mod analysis;
pub mod atomic;
pub mod bench;
pub mod capabilities;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod eval;
pub mod families;
pub mod memory;
pub mod mixing;
pub mod nn;
pub mod rng;
pub mod train;

#[cfg(test)]
mod flex_conv_check;
