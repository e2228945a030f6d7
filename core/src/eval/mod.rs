//! Evaluation of trained models.

pub mod probe;
pub mod quality;
pub mod recon;
pub mod transfer;
