//! Evaluation of trained models.

pub mod disentangle;
pub mod factors;
pub mod probe;
pub mod quality;
pub mod recon;
pub mod transfer;
