//! Evaluation of trained models.

pub mod disentangle;
pub mod factors;
pub mod judge;
pub mod parts;
pub mod probe;
pub mod quality;
pub mod recon;
pub mod transfer;
