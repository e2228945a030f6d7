//! Command-line interface: the same jobs as the GUI, without a window.

mod bench;
mod eval;
mod train;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
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
    /// List the wgpu adapters and say which device `auto` picks.
    Devices,
}

/// Model settings shared by `train` and `bench`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model family: beta-vae, patchvae or mixing-scenes (default: that of --config or
    /// --init, else beta-vae).
    #[arg(long)]
    pub model: Option<String>,
    /// Architecture (beta-vae: resnet9, higgins, mlp).
    #[arg(long)]
    pub arch: Option<String>,
    /// Image size the model sees (28, 32 or 64; resnet9 and higgins take 32 or 64).
    #[arg(long)]
    pub size: Option<usize>,
    /// Latent dimensions.
    #[arg(long)]
    pub latent: Option<usize>,
    /// KL weight β.
    #[arg(long)]
    pub beta: Option<f64>,
    /// Image channels (1 = grey, 3 = RGB); default: the data's.
    #[arg(long)]
    pub channels: Option<usize>,
    /// Capacity-annealed objective (Burgess et al.) with γ = 1000, C_max = 25, ramp 1e5 steps.
    #[arg(long)]
    pub capacity: bool,
    /// Reconstruction loss: mse or bernoulli.
    #[arg(long)]
    pub recon: Option<String>,
    /// The PatchVAE paper's weighted loss L_w (reconstruction error of each 8×8 patch
    /// weighted by the input's Laplacian magnitude there); beta-vae and patchvae.
    #[arg(long)]
    pub weighted: bool,
    /// patchvae: number of parts N (default 16).
    #[arg(long)]
    pub parts: Option<usize>,
    /// patchvae: appearance dimensions per part d_p (default 6).
    #[arg(long)]
    pub part_dim: Option<usize>,
    /// patchvae: weight of the occurrence KL (code default 10; the paper's Table 6: 0.3).
    #[arg(long)]
    pub beta_occ: Option<f64>,
    /// patchvae: weight of the appearance KL (default 1).
    #[arg(long)]
    pub beta_app: Option<f64>,
    /// patchvae: prior occurrence probability (default 1/N).
    #[arg(long)]
    pub prior: Option<f64>,
    /// patchvae: occurrence sampling: bernoulli, categorical or hard (straight-through).
    #[arg(long)]
    pub sampling: Option<String>,
    /// patchvae: the GAN variant (a discriminator on reconstructions, weight β_g = 1).
    #[arg(long)]
    pub gan: bool,
    /// patchvae: temperature schedule: compounding (official code, default) or exponential (paper).
    #[arg(long)]
    pub temperature_schedule: Option<String>,
    /// mixing-scenes: network size, small (fewer, wider layers; 48-d chunks; for a CPU) or full (the thesis's).
    #[arg(long)]
    pub preset: Option<String>,
    /// mixing-scenes ablations (thesis Table 4.5): drop the reconstruction term of L_G.
    #[arg(long)]
    pub no_rec: bool,
    /// mixing-scenes: drop the adversarial term of L_G.
    #[arg(long)]
    pub no_adv: bool,
    /// mixing-scenes: drop the classifier term of L_G.
    #[arg(long)]
    pub no_cls: bool,
    /// mixing-scenes: warm-up steps of the plain autoencoder (direct L1 reconstruction, no
    /// mixing, no judges) before Algorithm 1's iterations start (default 0, the thesis's
    /// schedule); a warm-up step costs about a sixth of a mixing iteration.
    #[arg(long)]
    pub rec_warmup: Option<u64>,
    /// mixing-scenes, not in the thesis: weight of a collage term in warm-up steps — the
    /// batch's codes mixed chunk-wise with the next image's under random 1–3-quadrant
    /// masks, decoded and pulled towards the pixel collages by L1, so each chunk learns its
    /// own quadrant. Needs --rec-warmup.
    #[arg(long)]
    pub warmup_collage: Option<f64>,
    /// mixing-scenes: Algorithm 1's threshold τ on the index's distance scale (default: the
    /// third quantile of the stored neighbour distances).
    #[arg(long)]
    pub tau: Option<f64>,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None | Some(Command::Gui) => {
            crate::gui::set_training_threads(cli.cpu_threads);
            crate::gui::run_native(cli.device)
        }
        Some(Command::Train(args)) => train::run(args),
        Some(Command::Eval(cmd)) => eval::run(cmd),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Devices) => {
            let adapters = patchwork_core::device::list_adapters();
            if adapters.is_empty() {
                println!("no wgpu adapter");
            }
            for a in &adapters {
                println!("adapter: {} (driver {})", a.describe(), a.driver);
            }
            for choice in [DeviceChoice::Auto, DeviceChoice::Gpu, DeviceChoice::Cpu] {
                match patchwork_core::device::resolve(choice) {
                    Ok(d) => println!("--device {choice}: {}", d.description),
                    Err(e) => println!("--device {choice}: unavailable: {e}"),
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
