use std::path::PathBuf;

use clap::{Args, Subcommand};
use patchwork_core::checkpoint;
use patchwork_core::device::DeviceChoice;

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// PSNR and SSIM of reconstructions on the test split.
    Recon(ReconArgs),
}

#[derive(Args, Debug)]
pub struct ReconArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Evaluate on this data instead of the checkpoint's (test split).
    #[arg(long)]
    pub data: Option<String>,
    /// At most this many test images.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Recon(args) => {
            let meta = checkpoint::read_meta(&args.checkpoint)?;
            let device = super::resolve_device(args.device)?;
            let source = match &args.data {
                Some(d) => Some(d.parse::<patchwork_core::data::DataSpec>()?.open(patchwork_core::data::Split::Test, meta.config.model.image_size())?),
                None => None,
            };
            let report = patchwork_core::eval::recon::evaluate(&meta, &device.device, source, args.limit)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{} on {} (test split, {} images, {}): PSNR {:.2} dB, SSIM {:.4}",
                    args.checkpoint.display(),
                    args.data.as_deref().unwrap_or(&meta.config.data),
                    report.images,
                    device.description,
                    report.psnr,
                    report.ssim
                );
            }
            Ok(())
        }
    }
}
