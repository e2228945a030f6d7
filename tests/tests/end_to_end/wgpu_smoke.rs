//! The wgpu backend on whatever adapter the machine has (lavapipe in CI) computes what
//! `flex` computes, for the same weights, and trains every family. Kept small: lavapipe is
//! slow.

use burn::module::Module;
use burn::prelude::*;
use patchwork_core::device::{DeviceChoice, resolve};
use patchwork_core::families::beta_vae::{BetaVaeConfig, VaeArch};
use patchwork_core::nn::init_seeded;

/// The wgpu device, or `None` where the user asked to skip it.
fn wgpu_device() -> Option<patchwork_core::device::ResolvedDevice> {
    if std::env::var_os("PATCHWORK_SKIP_WGPU").is_some() {
        eprintln!("PATCHWORK_SKIP_WGPU is set: not testing wgpu");
        return None;
    }
    Some(resolve(DeviceChoice::Gpu).expect("a wgpu adapter (install mesa-vulkan-drivers, or set PATCHWORK_SKIP_WGPU=1)"))
}

#[test]
fn wgpu_forward_matches_flex() {
    let Some(gpu) = wgpu_device() else { return };
    eprintln!("testing on {}", gpu.description);
    let flex = Device::flex();
    let config = BetaVaeConfig::new(VaeArch::Resnet9).with_latent(6).with_channels(1);
    let model = init_seeded(&flex, 3, |d| config.init(d)).valid();
    let on_gpu = model.clone().to_device(&gpu.device);
    let values: Vec<f32> = (0..2 * 32 * 32).map(|i| ((i * 7919 % 255) as f32 / 127.5) - 1.0).collect();
    let x = |d: &Device| Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 1, 32, 32]), d);
    let a = model.encode(x(&flex));
    let b = on_gpu.encode(x(&gpu.device));
    let img_a: Vec<f32> = model.decode_logits(a.mu.clone()).into_data().try_to_vec::<f32>().unwrap();
    let img_b: Vec<f32> = on_gpu.decode_logits(b.mu.clone()).into_data().try_to_vec::<f32>().unwrap();
    let mu_a: Vec<f32> = a.mu.into_data().try_to_vec::<f32>().unwrap();
    let mu_b: Vec<f32> = b.mu.into_data().try_to_vec::<f32>().unwrap();
    let max_diff = |p: &[f32], q: &[f32]| p.iter().zip(q).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(max_diff(&mu_a, &mu_b) < 1e-3, "μ differs by {}", max_diff(&mu_a, &mu_b));
    assert!(max_diff(&img_a, &img_b) < 1e-3, "decoder output differs by {}", max_diff(&img_a, &img_b));
    assert!(mu_a.iter().any(|v| v.abs() > 1e-4), "outputs are not all zero");
}

#[test]
fn every_family_trains_on_wgpu_and_its_kernels_are_cached() {
    use patchwork_core::bench::{BenchSettings, run, smallest_config};
    use patchwork_core::device::kernel_cache::{self, CacheState};
    let Some(gpu) = wgpu_device() else { return };
    eprintln!("training on {}", gpu.description);
    for &kind in patchwork_core::families::FamilyKind::ALL {
        let started = std::time::Instant::now();
        let report = run(&smallest_config(kind), &gpu, BenchSettings { batch: 2, warmup_steps: 1, runs: 1, steps_per_run: 1 }).unwrap_or_else(|e| panic!("{kind} on {}: {e}", gpu.description));
        assert!(report.train_images_per_sec > 0.0 && report.kernel_cache_bytes_before.is_some(), "{kind}: {report:?}");
        eprintln!("{kind}: first step after {:.1} s, {:.1} s in all", report.first_step_seconds, started.elapsed().as_secs_f64());
    }
    // What was tuned (and with SPIR-V compiled) went to the one per-user folder, not the
    // working directory's `target/environment`.
    let cache = kernel_cache::configure();
    assert_eq!(cache.state, CacheState::InUse, "{cache:?}");
    assert!(kernel_cache::folder_size(&cache.folder) > 0, "nothing in {}", cache.folder.display());
}
