//! Command-line interface: the same jobs as the GUI, without a window.

mod bench;
mod eval;
mod model_args;
mod split;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use patchwork_core::device::DeviceChoice;

#[derive(Parser, Debug)]
#[command(name = "patchwork", version, about = "Train part-based and disentangled image models and look inside them while they learn.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Device for the GUI's training runs.
    #[arg(long, default_value = "auto", global = true)]
    pub device: DeviceChoice,
    /// CPU threads for the GUI's training on `flex` (default: one fewer than the machine
    /// has, so the window stays responsive); the explorer's requests use every core
    /// (RAYON_NUM_THREADS sets that pool).
    #[arg(long)]
    pub cpu_threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the explorer window (the default).
    Gui,
    /// Train a model, with a progress bar; metrics go to OUT/metrics.jsonl, the checkpoint to OUT/checkpoint.
    Train(train::TrainArgs),
    /// Evaluate a checkpoint.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Measure training throughput and inference latency.
    Bench(bench::BenchArgs),
    /// List the backends compiled in, the kernel cache folder and the wgpu adapters, and
    /// say which device each --device choice picks.
    Devices,
    /// Write a grid of a data source's images as a PNG: the first images (of each pool, for
    /// two pools), or for the reference-style MNIST each digit's generation steps.
    Preview(PreviewArgs),
    /// A model with a class/style split: the swap grid of test images as a PNG, cell =
    /// Dec(z of its row's image, s of its column's), e.g. with a few-shot run's held-out
    /// classes giving s.
    SwapGrid(split::SwapGridArgs),
    /// A model with a class/style split: new labelled images (each class's s with styles
    /// drawn from N(0, I), the report's data augmentation) written as class folders.
    SampleClasses(split::SampleClassesArgs),
}

#[derive(clap::Args, Debug)]
pub struct PreviewArgs {
    /// The data, as `train --data` takes it.
    #[arg(long)]
    pub data: String,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Images (digits, for the reference-style MNIST) shown.
    #[arg(long, default_value_t = 8)]
    pub count: usize,
}

/// `patchwork preview`: the reference-style MNIST's steps (rows: digit, Canny outline = a
/// reference image, two unlabelled copies) or the first images of each pool or source.
fn preview(args: &PreviewArgs) -> anyhow::Result<()> {
    use patchwork_core::data::pools::PoolIndices;
    use patchwork_core::data::{DataSpec, Split, reference_style};
    let spec: DataSpec = args.data.parse()?;
    let (images, columns) = match &spec {
        DataSpec::ReferenceStyle(base) => {
            let base = base.open(Split::Train, 28)?;
            let steps = reference_style::steps_of(&base, &(0..args.count).collect::<Vec<_>>());
            // One digit per column, its steps down the rows.
            let rows = steps.first().map_or(0, Vec::len);
            ((0..rows).flat_map(|r| steps.iter().map(move |column| column[r].clone())).collect::<Vec<_>>(), steps.len())
        }
        _ => {
            let source = spec.open(Split::Train, 64)?;
            let pools = PoolIndices::of(source.as_ref());
            let shown: Vec<usize> = pools.unlabelled.iter().take(args.count).chain(pools.reference.iter().take(args.count)).copied().collect();
            let images: Vec<_> = shown.iter().map(|&i| patchwork_core::data::fit::resize_crop(&source.get(i).image, 64).to_rgb()).collect();
            (images, args.count.max(1))
        }
    };
    crate::gui::images::save_grid_png(&images, columns, &args.out)?;
    crate::say!("{}: {} images, {columns} per row", args.out.display(), images.len());
    Ok(())
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    // cubecl reads its configuration once, at the first operation that asks for it (CPU
    // ones may, the GUI's first inference on the shipped model): point it at the kernel
    // cache before anything runs. `bench --cold-cache` points it at a throwaway folder.
    if !matches!(&cli.command, Some(Command::Bench(args)) if args.cold_cache) {
        patchwork_core::device::kernel_cache::configure();
    }
    match cli.command {
        None | Some(Command::Gui) => {
            crate::gui::set_training_threads(cli.cpu_threads);
            crate::gui::run_native(cli.device)
        }
        Some(Command::Train(args)) => train::run(args),
        Some(Command::Eval(cmd)) => eval::run(cmd),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Preview(args)) => preview(&args),
        Some(Command::SwapGrid(args)) => split::swap_grid_command(&args),
        Some(Command::SampleClasses(args)) => split::sample_classes_command(&args),
        Some(Command::Devices) => {
            for backend in patchwork_core::device::COMPILED_BACKENDS {
                crate::say!("backend: {backend}");
            }
            crate::say!("cuda: {}", patchwork_core::device::NO_CUDA);
            // Configured before anything opens a GPU device, as `resolve` would.
            let cache = patchwork_core::device::kernel_cache::configure();
            crate::say!("kernel cache: {}", cache.describe());
            let adapters = patchwork_core::device::list_adapters();
            if adapters.is_empty() {
                crate::say!("no wgpu adapter");
            }
            for a in &adapters {
                crate::say!("adapter: {} (driver {})", a.describe(), a.driver);
            }
            for choice in [DeviceChoice::Auto, DeviceChoice::Gpu, DeviceChoice::Cpu] {
                match patchwork_core::device::resolve(choice) {
                    Ok(d) => crate::say!("--device {choice}: {}", d.description),
                    Err(e) => crate::say!("--device {choice}: unavailable: {e}"),
                }
            }
            Ok(())
        }
    }
}

pub(crate) fn resolve_device(choice: DeviceChoice) -> anyhow::Result<patchwork_core::device::ResolvedDevice> {
    patchwork_core::device::resolve(choice).map_err(|e| anyhow::anyhow!("--device {choice}: {e}"))
}

pub(crate) fn default_out_dir(model: &str) -> PathBuf {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    PathBuf::from("runs").join(format!("{model}-{stamp}"))
}

/// Writes a line of a command's output to stdout. A reader that has gone (`| head`) ends
/// the output quietly, as with any Unix tool, rather than in a panic as `println!` would.
pub fn say_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => eprintln!("cannot write to standard output: {e}"),
        _ => {}
    }
}

/// Prints a command's report: as pretty JSON with `--json`, else as the line `line` makes.
pub(crate) fn print_report<T: serde::Serialize>(json: bool, report: &T, line: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        crate::say!("{}", serde_json::to_string_pretty(report)?);
    } else {
        crate::say!("{}", line());
    }
    Ok(())
}

/// What to tell about the unreadable files a data folder skipped: nothing when none, else
/// how many and the first few with why.
pub fn skipped_files_report(skipped: &[(std::path::PathBuf, String)]) -> Vec<String> {
    const LISTED: usize = 10;
    if skipped.is_empty() {
        return vec![];
    }
    let mut lines = vec![format!("{} unreadable file(s) in the data skipped:", skipped.len())];
    lines.extend(skipped.iter().take(LISTED).map(|(path, reason)| format!("  {}: {reason}", path.display())));
    if skipped.len() > LISTED {
        lines.push(format!("  … and {} more", skipped.len() - LISTED));
    }
    lines
}
