//! `patchwork bench`: training throughput and inference latency, after warm-up,
//! median of several timed runs. Synthetic inputs, so decoding never counts.

use std::time::Instant;

use std::sync::Arc;

use burn::prelude::*;
use serde::Serialize;

use crate::data::loader::assemble;
use crate::data::{HostImage, ImageSource, Sample, SharedSource, SourceInfo};
use crate::device::ResolvedDevice;
use crate::families::{FamilyVisitor, ModelConfig, StepInput, Trainable};
use crate::nn::init_seeded;
use crate::train::step_rng;

/// Seeded noise images: the benchmark's data, so decoding files never counts.
struct NoiseSource {
    info: SourceInfo,
    len: usize,
}

/// Classes the noise images are spread over, for families that train on pairs of a class
/// (the cycle VAE).
const NOISE_CLASSES: usize = 10;

impl NoiseSource {
    fn new(len: usize, channels: usize, size: usize) -> Self {
        let class_names = (0..NOISE_CLASSES).map(|c| format!("noise {c}")).collect();
        let info = SourceInfo { name: "noise".into(), channels, size: Some((size, size)), class_names, factor_names: vec![], skipped: vec![] };
        Self { info, len }
    }
}

impl ImageSource for NoiseSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn len(&self) -> usize {
        self.len
    }
    fn get(&self, index: usize) -> Sample {
        use rand::{Rng, SeedableRng};
        let (c, (h, w)) = (self.info.channels, self.info.size.unwrap_or((32, 32)));
        let mut rng = crate::rng::SeededRng::seed_from_u64(index as u64);
        let pixels = (0..c * h * w).map(|_| rng.random::<u8>()).collect();
        Sample { image: HostImage::new(w, h, c, pixels), label: Some((index % NOISE_CLASSES) as u32), factors: vec![] }
    }
}

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
    /// Median over runs of training images per second (forward, backward, Adam step; for
    /// mixing scenes one iteration: 2 generator, 1 discriminator, 1 classifier step, and
    /// "images" are the batch's reference images).
    pub train_images_per_sec: f64,
    pub train_images_per_sec_runs: Vec<f64>,
    /// Median inference (reconstruction) time per image, in milliseconds, batched.
    pub inference_ms_per_image: f64,
    /// Seconds from building the model to the end of its first training step: on a GPU
    /// mostly compiling (and autotuning) kernels, unless the kernel cache has them.
    pub first_step_seconds: f64,
    /// On a GPU, the kernel cache's size in bytes before the run (0: a cold start); `None`
    /// on the CPU, which compiles nothing.
    pub kernel_cache_bytes_before: Option<u64>,
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
    device.run_in_pool(|| model.visit(Bench(model, device, settings)))
}

fn run_model<M: Trainable>(model_config: &ModelConfig, device: &ResolvedDevice, s: BenchSettings) -> anyhow::Result<BenchReport> {
    let config = M::config_of(model_config).ok_or_else(|| anyhow::anyhow!("model family mismatch"))?.clone();
    let kernel_cache_bytes_before = device.is_gpu.then(|| crate::device::kernel_cache::folder_size(&crate::device::kernel_cache::configure().folder));
    let start = Instant::now();
    let ad = device.device.clone().autodiff();
    let mut model = init_seeded(&ad, 1, |d| M::build(&config, d));
    let parameters = crate::nn::trainable_params(&model);
    let mut optimizer = burn::optim::AdamConfig::new().init();
    let (c, size) = (model_config.channels(), model_config.image_size());
    let shape = [s.batch, c, size, size];
    // A pool of noise images; families that prepare from their data (mixing scenes'
    // neighbour index) prepare from it, untimed.
    let pool: SharedSource = Arc::new(NoiseSource::new(s.batch.max(64), c, size));
    let prepared = M::prepare(&config, &pool, "bench", 1, None, &|_, _| {})?;
    let indices: Vec<usize> = (0..s.batch).collect();
    let (data, _) = assemble(&pool, &indices, size, c);
    let sync = |d: &Device| d.sync().map_err(|e| anyhow::anyhow!("device error: {e:?}"));
    let mut train_step = |model: &mut M, step: u64| -> anyhow::Result<()> {
        let x = Tensor::<4>::from_data(TensorData::new(data.clone(), shape), &ad);
        let mut rng = step_rng(1, step);
        let input = StepInput { x, indices: &indices, config: &config, step, lr: 1e-4, lr_factor: 1.0, rng: &mut rng, source: &pool, prepared: &prepared, guard: Default::default() };
        model.train_step(&mut optimizer, input).map(|_| ()).map_err(|e| anyhow::anyhow!("benchmark step failed: {e:?}"))
    };
    // The first step is always taken, and timed from the start.
    train_step(&mut model, 0)?;
    sync(&ad)?;
    let first_step_seconds = start.elapsed().as_secs_f64();
    for step in 1..s.warmup_steps {
        train_step(&mut model, step as u64)?;
    }
    sync(&ad)?;
    let mut runs = Vec::new();
    for r in 0..s.runs {
        let t = Instant::now();
        for step in 0..s.steps_per_run {
            train_step(&mut model, (r * s.steps_per_run + step) as u64)?;
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
        model: model_config.kind().name().into(),
        config: serde_json::to_value(model_config)?,
        device: device.description.clone(),
        batch: s.batch,
        parameters,
        train_images_per_sec: median(runs.clone()),
        train_images_per_sec_runs: runs,
        inference_ms_per_image: median(infer),
        first_step_seconds,
        kernel_cache_bytes_before,
    })
}

/// How long the explorer's interactive requests take (one image each, as the views send
/// them), in milliseconds: median and slowest of the timed repetitions after warm-up.
#[derive(Debug, Clone, Serialize)]
pub struct ExplorerLatency {
    pub model: String,
    pub device: String,
    pub image_size: usize,
    pub repetitions: usize,
    /// Swap view: analyse source and target, decode the swapped code.
    pub swap_ms: (f64, f64),
    /// Swap view with the analyses cached: decode one edited code (a part switched off,
    /// another part picked) — also what a Traverse slider costs.
    pub decode_one_ms: (f64, f64),
    /// Traverse view: one row (9 codes) of the traversal grid.
    pub traversal_row_ms: (f64, f64),
}

fn timed(repetitions: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..3 {
        f();
    }
    let times: Vec<f64> = (0..repetitions.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let worst = times.iter().copied().fold(0.0, f64::max);
    (median(times), worst)
}

/// Measures the explorer's requests on a freshly initialised model of `model`'s shape
/// (the weights do not change the cost).
pub fn explorer_latency(model: &ModelConfig, device: &ResolvedDevice, repetitions: usize) -> anyhow::Result<ExplorerLatency> {
    use crate::analysis::explorable::{ExplorableModel, ModelOrigin};
    use crate::analysis::traverse::{traversal_values, traverse_image};
    let explorable = ExplorableModel::untrained(model, &device.device, ModelOrigin::LiveRun(None))?;
    let (c, size) = (model.channels(), model.image_size());
    let image = |k: u8| crate::data::HostImage::new(size, size, c, (0..size * size * c).map(|i| (i as u8).wrapping_mul(k)).collect());
    let (a, b) = (image(3), image(7));
    let values = traversal_values(3.0, 9);
    let (swap_ms, decode_one_ms, traversal_row_ms) = match explorable.parts() {
        Some(_) => {
            let analyses = explorable.analyse_parts(&[a.clone(), b.clone()]).unwrap_or_default();
            let (sa, tb) = (analyses[0].code.clone(), analyses[1].code.clone());
            let swap = timed(repetitions, || {
                let an = explorable.analyse_parts(&[a.clone(), b.clone()]).unwrap_or_default();
                let code = an[1].code.with_appearance_from(&an[0].code, 0, 1);
                let _ = explorable.decode_part_codes(&[code]);
            });
            let one = timed(repetitions, || {
                let _ = explorable.decode_part_codes(&[tb.with_appearance_from(&sa, 2, 3).with_parts_off(&[1])]);
            });
            let row = timed(repetitions, || {
                let _ = explorable.decode_part_codes(&crate::analysis::traverse::appearance_row(&tb, 0, 0, &values));
            });
            (swap, one, row)
        }
        None => {
            let codes = explorable.encode_latents(std::slice::from_ref(&a)).unwrap_or_default();
            let mu = codes.first().map(|c| c.mu.clone()).ok_or_else(|| anyhow::anyhow!("{}: neither parts nor a latent space to time", model.kind()))?;
            // β-VAE has no swap: its nearest request is re-encoding and decoding an image.
            let swap = timed(repetitions, || {
                let _ = traverse_image(&explorable, &b, 0, &[0.0]);
            });
            let one = timed(repetitions, || {
                let _ = explorable.decode_latents(std::slice::from_ref(&mu));
            });
            let row = timed(repetitions, || {
                let _ = explorable.decode_latents(&crate::analysis::traverse::latent_row(&mu, 0, &values));
            });
            (swap, one, row)
        }
    };
    Ok(ExplorerLatency {
        model: model.kind().name().to_string(),
        device: device.description.clone(),
        image_size: size,
        repetitions,
        swap_ms,
        decode_one_ms,
        traversal_row_ms,
    })
}

/// `kind`'s smallest network, where it has a size or width to set (32×32 images, width 4,
/// latent 4): for checking that a family trains on a device, quickly.
pub fn smallest_config(kind: crate::families::FamilyKind) -> ModelConfig {
    let default = kind.default_config(kind.info().needs_channels.unwrap_or(1));
    let mut config = default.clone();
    for (name, value) in [("image_size", 32), ("width", 4), ("latent", 4)] {
        let _ = config.set(name, crate::families::Value::Count(value));
    }
    if config.validate().is_ok() { config } else { default }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_benchmarks_on_noise_images() {
        let device = crate::device::resolve(crate::device::DeviceChoice::Cpu).unwrap();
        for &kind in crate::families::FamilyKind::ALL {
            let report = run(&smallest_config(kind), &device, BenchSettings { batch: 4, warmup_steps: 1, runs: 1, steps_per_run: 1 }).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(report.train_images_per_sec > 0.0, "{kind}");
            assert!(report.first_step_seconds > 0.0 && report.kernel_cache_bytes_before.is_none(), "{kind}: {report:?}");
        }
    }
}
