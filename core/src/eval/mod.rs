//! Evaluation of trained models.

pub mod quality;
pub mod recon;
