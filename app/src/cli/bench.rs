use clap::Args;
use patchwork_core::bench::{BenchSettings, run as run_bench};
use patchwork_core::device::DeviceChoice;
use patchwork_core::families::{Kind, ModelConfig, Value};

use super::model_args::ModelArgs;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Batch size (default: the family's, 128; mixing-scenes the thesis's 12).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Timed runs, the median is reported (default: the family's, 5; mixing-scenes 3).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Steps per timed run (default: the family's, 5; mixing-scenes 1, an iteration of 4 updates).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Untimed steps first (default: the family's, 3; mixing-scenes 1).
    #[arg(long)]
    pub warmup: Option<usize>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
    /// Measure the explorer's interactive requests (swap, one decode, a traversal row)
    /// instead of training.
    #[arg(long)]
    pub explorer: bool,
    /// Measure the GUI's frame time (headless: layout and tessellation, not the GPU
    /// draw) while a PatchVAE trains on --device, instead of training throughput.
    #[arg(long)]
    pub ui: bool,
    /// Start with an empty kernel cache (a throwaway folder) instead of the user's, so that
    /// the first step's time is a cold start's: every kernel compiled and autotuned.
    #[arg(long)]
    pub cold_cache: bool,
    /// With --ui: seconds to measure.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let model = args.model.model_config(3, None)?;
    // Removed when the benchmark ends: the throwaway cache folder.
    let _cold_cache = match args.cold_cache {
        true => Some(ColdCache::new()?),
        false => None,
    };
    let device = super::resolve_device(args.device)?;
    if args.ui {
        return crate::gui::bench::frame_times(args.seconds, args.json, args.device);
    }
    if args.explorer {
        let report = patchwork_core::bench::explorer_latency(&model, &device, args.runs.unwrap_or(20).max(20))?;
        if args.json {
            crate::say!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            let f = |(median, worst): (f64, f64)| format!("{median:.2} ms (slowest {worst:.2})");
            crate::say!(
                "{} {}×{} on {}, median of {}: swap {}, one decode {}, traversal row of 9 {}",
                report.model,
                report.image_size,
                report.image_size,
                report.device,
                report.repetitions,
                f(report.swap_ms),
                f(report.decode_one_ms),
                f(report.traversal_row_ms)
            );
        }
        return Ok(());
    }
    let info = model.info();
    let settings = BenchSettings {
        batch: args.batch.unwrap_or(info.bench.batch),
        warmup_steps: args.warmup.unwrap_or(info.bench.warmup_steps),
        runs: args.runs.unwrap_or(info.bench.runs),
        steps_per_run: args.steps.unwrap_or(info.bench.steps_per_run),
    };
    let batch = settings.batch;
    // A family that names one (mixing scenes' preset): each of its choices, unless given.
    let each = info.bench_each.and_then(|name| model.settings().iter().find(|s| s.name == name)).filter(|s| !args.model.is_given(s.flag));
    let models: Vec<(ModelConfig, String)> = match each {
        Some(setting) => match setting.kind {
            Kind::Choice(names) => names
                .iter()
                .map(|&name| {
                    let mut m = model.clone();
                    m.set(setting.name, Value::Choice(name)).map(|()| (m, format!(" ({name} {})", setting.label)))
                })
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            _ => vec![(model.clone(), String::new())],
        },
        None => vec![(model.clone(), String::new())],
    };
    for (model, variant) in &models {
        let report = run_bench(model, &device, settings)?;
        if args.json {
            crate::say!("{}", serde_json::to_string_pretty(&report)?);
            continue;
        }
        let what = format!("{}{variant}", report.model);
        let iterations = format!(" = {:.3} iterations/s", report.train_images_per_sec / batch as f64);
        let cache = match report.kernel_cache_bytes_before {
            None => String::new(),
            Some(0) => " (kernel cache cold)".into(),
            Some(bytes) => format!(" (kernel cache warm: {:.1} MB)", bytes as f64 / 1e6),
        };
        crate::say!(
            "{what} ({} parameters) on {}, batch {}, {}×{}×{}: training {:.1} images/s{iterations} (median of {} runs: {}), inference {:.3} ms/image, first step after {:.1} s{cache}",
            report.parameters,
            report.device,
            report.batch,
            model.channels(),
            model.image_size(),
            model.image_size(),
            report.train_images_per_sec,
            report.train_images_per_sec_runs.len(),
            report.train_images_per_sec_runs.iter().map(|v| format!("{v:.1}")).collect::<Vec<_>>().join(", "),
            report.inference_ms_per_image,
            report.first_step_seconds
        );
    }
    Ok(())
}

/// An empty kernel cache folder of this process's, removed when dropped.
struct ColdCache(std::path::PathBuf);

impl ColdCache {
    fn new() -> anyhow::Result<Self> {
        let folder = std::env::temp_dir().join(format!("patchwork-cold-kernels-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).map_err(|e| anyhow::anyhow!("cannot make {}: {e}", folder.display()))?;
        patchwork_core::device::kernel_cache::configure_in(folder.clone());
        Ok(Self(folder))
    }
}

impl Drop for ColdCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
