//! Cross-crate tests, linked as one binary: each test binary statically links burn, wgpu
//! and eframe, so one binary instead of four saves three large links in CI.

mod common;
mod cycle;
mod faults;
mod fuzz_checkpoints;
mod fuzz_images;
mod mixing;
mod patchvae;
mod registry;
mod run_folder;
mod training;
mod wgpu_smoke;
