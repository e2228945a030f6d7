//! `patchwork bench`: training throughput and inference latency, after warm-up,
//! median of several timed runs. Synthetic inputs, so decoding never counts.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::Serialize;

use crate::device::ResolvedDevice;
use crate::models::{FamilyVisitor, ModelConfig, Trainable, init_seeded};
use crate::train::step_rng;

#[derive(Debug, Clone, Copy)]
pub struct BenchSettings {
    pub batch: usize,
    pub warmup_steps: usize,
    pub runs: usize,
    pub steps_per_run: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub config: serde_json::Value,
    pub device: String,
    pub batch: usize,
    pub parameters: usize,
    /// Median over runs of training images per second (forward, backward, Adam step).
    pub train_images_per_sec: f64,
    pub train_images_per_sec_runs: Vec<f64>,
    /// Median inference (reconstruction) time per image, in milliseconds, batched.
    pub inference_ms_per_image: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

pub fn run(model: &ModelConfig, device: &ResolvedDevice, settings: BenchSettings) -> anyhow::Result<BenchReport> {
    struct Bench<'a>(&'a ModelConfig, &'a ResolvedDevice, BenchSettings);
    impl FamilyVisitor for Bench<'_> {
        type Output = anyhow::Result<BenchReport>;
        fn visit<M: Trainable>(self) -> Self::Output {
            run_model::<M>(self.0, self.1, self.2)
        }
    }
    model.visit(Bench(model, device, settings))
}

fn run_model<M: Trainable>(model_config: &ModelConfig, device: &ResolvedDevice, s: BenchSettings) -> anyhow::Result<BenchReport> {
    let config = M::config_of(model_config).ok_or_else(|| anyhow::anyhow!("model family mismatch"))?.clone();
    let ad = device.device.clone().autodiff();
    let mut model = init_seeded(&ad, 1, |d| M::build(&config, d));
    let parameters = crate::models::trainable_params(&model);
    let mut optimizer = burn::optim::AdamConfig::new().init();
    let (c, size) = (model_config.channels(), model_config.image_size());
    let shape = [s.batch, c, size, size];
    let mut rng = step_rng(7, 0);
    let data: Vec<f32> = crate::models::family::normal_noise(&mut rng, s.batch * c * size * size).into_iter().map(|v| v.clamp(-1.0, 1.0)).collect();
    let sync = |d: &Device| d.sync().map_err(|e| anyhow::anyhow!("device error: {e:?}"));
    let mut train_step = |model: M, step: u64| -> M {
        let x = Tensor::<4>::from_data(TensorData::new(data.clone(), shape), &ad);
        let loss = model.loss(x, &config, step, &mut step_rng(1, step));
        let grads = GradientsParams::from_grads(loss.total.backward(), &model);
        optimizer.step(1e-4, model, grads)
    };
    for step in 0..s.warmup_steps {
        model = train_step(model, step as u64);
    }
    sync(&ad)?;
    let mut runs = Vec::new();
    for r in 0..s.runs {
        let t = Instant::now();
        for step in 0..s.steps_per_run {
            model = train_step(model, (r * s.steps_per_run + step) as u64);
        }
        sync(&ad)?;
        runs.push((s.steps_per_run * s.batch) as f64 / t.elapsed().as_secs_f64());
    }
    let plain = device.device.clone();
    let eval = model.valid();
    let x = Tensor::<4>::from_data(TensorData::new(data.clone(), shape), &plain);
    for _ in 0..2 {
        let _ = eval.reconstruct(x.clone(), &config, 0).into_data();
    }
    let mut infer = Vec::new();
    for _ in 0..s.runs.max(3) {
        let t = Instant::now();
        let _ = eval.reconstruct(x.clone(), &config, 0).into_data();
        infer.push(t.elapsed().as_secs_f64() * 1000.0 / s.batch as f64);
    }
    Ok(BenchReport {
        model: model_config.kind().into(),
        config: serde_json::to_value(model_config)?,
        device: device.description.clone(),
        batch: s.batch,
        parameters,
        train_images_per_sec: median(runs.clone()),
        train_images_per_sec_runs: runs,
        inference_ms_per_image: median(infer),
    })
}
