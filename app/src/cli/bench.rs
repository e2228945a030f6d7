use clap::Args;
use patchwork_core::bench::{BenchSettings, run as run_bench};
use patchwork_core::device::DeviceChoice;

use super::ModelArgs;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Timed runs (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let channels = args.model.channels.unwrap_or(3);
    let model = super::train::model_config(&args.model, channels, None)?;
    let device = super::resolve_device(args.device)?;
    let settings = BenchSettings { batch: args.batch, warmup_steps: args.warmup, runs: args.runs, steps_per_run: args.steps };
    let report = run_bench(&model, &device, settings)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} ({} parameters) on {}, batch {}, {}×{}×{}: training {:.1} images/s (median of {} runs: {}), inference {:.3} ms/image",
            report.model,
            report.parameters,
            report.device,
            report.batch,
            model.channels(),
            model.image_size(),
            model.image_size(),
            report.train_images_per_sec,
            report.train_images_per_sec_runs.len(),
            report.train_images_per_sec_runs.iter().map(|v| format!("{v:.1}")).collect::<Vec<_>>().join(", "),
            report.inference_ms_per_image
        );
    }
    Ok(())
}
