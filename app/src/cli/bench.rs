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
    /// Measure the explorer's interactive requests (swap, one decode, a traversal row)
    /// instead of training.
    #[arg(long)]
    pub explorer: bool,
    /// Measure the GUI's frame time (headless: layout and tessellation, not the GPU
    /// draw) while a PatchVAE trains on the CPU, instead of training throughput.
    #[arg(long)]
    pub ui: bool,
    /// With --ui: seconds to measure.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let channels = args.model.channels.unwrap_or(3);
    let model = super::train::model_config(&args.model, channels, None)?;
    let device = super::resolve_device(args.device)?;
    if args.ui {
        return crate::gui::bench::frame_times(args.seconds, args.json);
    }
    if args.explorer {
        let report = patchwork_core::bench::explorer_latency(&model, &device, args.runs.max(20))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            let f = |(median, worst): (f64, f64)| format!("{median:.2} ms (slowest {worst:.2})");
            println!(
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
