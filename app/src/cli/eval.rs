use std::path::PathBuf;

use clap::{Args, Subcommand};
use patchwork_core::checkpoint;
use patchwork_core::device::DeviceChoice;

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// PSNR and SSIM of reconstructions on the test split.
    Recon(ReconArgs),
    /// The PatchVAE paper's recognition protocol: φ + FC(512) + FC(classes) on labels,
    /// with the first convolutions frozen; top-1 accuracy on the test split.
    Probe(ProbeArgs),
    /// Mixing scenes: transfer one object quadrant between held-out quadrant scenes and
    /// check with a ground-truth judge that it moved and the rest stayed.
    Transfer(TransferArgs),
    /// A model with a class/style split (cycle-vae): a two-layer MLP trained on the style
    /// z and, apart, on the class s to predict the class; s should score high, z near chance.
    Disentangle(DisentangleArgs),
    /// Data with ground-truth factors (reference-style, dsprites): linear regressors from
    /// the latents to each factor, fitted on one half of the test split, mean absolute error
    /// on the other (the reference-based VAE paper's protocol; lower is better).
    Factors(FactorsArgs),
    /// A model with parts (patchvae): per part, over the test split, how often it fires,
    /// how much of an image it covers where it fires, how far its occurrence maps are from
    /// binary, and which parts are dead (the part browser's definitions).
    Parts(PartsArgs),
    /// A model with parts: random part-appearance swaps between test images (a part that
    /// fires in the target, the same part of another image): the share of each swap's pixel
    /// change inside the part's region, and how often a classifier trained on the training
    /// split still names the target's class.
    Swap(SwapArgs),
}

#[derive(Args, Debug)]
pub struct PartsArgs {
    /// A checkpoint, or a run folder (its checkpoint/).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Data (default: the checkpoint's); its test split.
    #[arg(long)]
    pub data: Option<String>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SwapArgs {
    /// A checkpoint, or a run folder (its checkpoint/).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Labelled data (default: the checkpoint's): the judge trains on its training split,
    /// the swaps are between its test images.
    #[arg(long)]
    pub data: Option<String>,
    /// (source, target, part) triples to swap.
    #[arg(long, default_value_t = 1000)]
    pub swaps: usize,
    /// Epochs of the judge's training.
    #[arg(long, default_value_t = 4)]
    pub judge_epochs: usize,
    /// The judge trains on at most this many training images.
    #[arg(long)]
    pub train_limit: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FactorsArgs {
    /// A checkpoint, or a run folder (its checkpoint/).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Data with factors (default: the checkpoint's); its test split.
    #[arg(long)]
    pub data: Option<String>,
    /// Which latents: e (target factors), z (common factors) or all. Default: e for a model
    /// trained against a reference pool, all otherwise.
    #[arg(long)]
    pub features: Option<patchwork_core::eval::factors::Features>,
    /// At most this many test images, both halves together.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DisentangleArgs {
    /// A checkpoint, or a run folder (its checkpoint/).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Labelled data (default: the checkpoint's), train and test splits.
    #[arg(long)]
    pub data: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Hidden units of the MLP (the report does not say).
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    #[arg(long)]
    pub train_limit: Option<usize>,
    #[arg(long)]
    pub test_limit: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TransferArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Scene pairs to transfer.
    #[arg(long, default_value_t = 500)]
    pub pairs: usize,
    /// Training scenes for the judge.
    #[arg(long, default_value_t = 4000)]
    pub judge_scenes: usize,
    #[arg(long, default_value_t = 4)]
    pub judge_epochs: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// conv1, conv1-3 or conv1-5 (all of φ frozen).
    #[arg(long, default_value = "conv1-5")]
    pub regime: String,
    /// Labelled data (default: the checkpoint's): fashion-mnist, mnist, idx:PATH, cifar:PATH.
    #[arg(long)]
    pub data: Option<String>,
    /// Paper: 90.
    #[arg(long, default_value_t = 90)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-2)]
    pub lr: f64,
    /// Divide the learning rate by 10 every this many epochs.
    #[arg(long, default_value_t = 30)]
    pub lr_step: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// At most this many training images.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// At most this many test images.
    #[arg(long)]
    pub test_limit: Option<usize>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    #[arg(long)]
    pub json: bool,
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
        EvalCommand::Parts(args) => {
            let device = super::resolve_device(args.device)?;
            let data = args.data.as_deref().map(str::parse::<patchwork_core::data::DataSpec>).transpose()?;
            let r = patchwork_core::eval::parts::parts(&args.checkpoint, data.as_ref(), &device)?;
            super::print_report(args.json, &r, || {
                let mut out = format!(
                    "{} parts on {} (test split, {} images, {}×{} locations, {}): {} of {} dead {:?}; {:.1}% of probabilities in [0.1, 0.9]; live parts cover {:.1}% of the grid where they fire; temperature {}\n  part  fires at  in images  area where firing  in [0.1, 0.9]",
                    args.checkpoint.display(),
                    r.data,
                    r.images,
                    r.grid,
                    r.grid,
                    device.description,
                    r.dead.len(),
                    r.parts.len(),
                    r.dead,
                    100.0 * r.uncertain_share,
                    100.0 * r.mean_live_area,
                    r.temperature.map_or_else(|| "not logged".to_string(), |t| format!("{t:.3}"))
                );
                for p in &r.parts {
                    out += &format!(
                        "\n  {:>4}  {:>7.2}%  {:>8.1}%  {:>16.1}%  {:>12.1}%{}",
                        p.part,
                        100.0 * p.firing_rate,
                        100.0 * p.image_rate,
                        100.0 * p.area_when_firing,
                        100.0 * p.uncertain_rate,
                        if p.dead { "  dead" } else { "" }
                    );
                }
                out
            })
        }
        EvalCommand::Swap(args) => {
            use patchwork_core::eval::parts::{SwapSettings, swaps};
            let device = super::resolve_device(args.device)?;
            let data = args.data.as_deref().map(str::parse::<patchwork_core::data::DataSpec>).transpose()?;
            let settings = SwapSettings { swaps: args.swaps, judge_epochs: args.judge_epochs, train_limit: args.train_limit, seed: args.seed };
            let r = swaps(&args.checkpoint, data.as_ref(), &device, &settings, &|line| eprintln!("{line}"))?;
            super::print_report(args.json, &r, || {
                format!(
                    "{} part swaps on {} ({} swaps, {}): {:.1}% of the pixel change inside the swapped part's region, which covers {:.1}% of the image; mean change {:.4} per value\n  judge (trained on the training split, {:.1}% on test images): target's class kept in {:.1}% of swaps, {:.1}% on the targets' reconstructions",
                    args.checkpoint.display(),
                    r.data,
                    r.swaps,
                    device.description,
                    100.0 * r.inside_share,
                    100.0 * r.region_share,
                    r.mean_change,
                    r.judge_accuracy,
                    r.class_kept,
                    r.class_of_reconstruction
                )
            })
        }
        EvalCommand::Recon(args) => {
            let meta = checkpoint::read_meta(&args.checkpoint)?;
            let device = super::resolve_device(args.device)?;
            let source = match &args.data {
                Some(d) => Some(d.parse::<patchwork_core::data::DataSpec>()?.open(patchwork_core::data::Split::Test, meta.config.model.image_size())?),
                None => None,
            };
            for line in source.as_ref().map(|s| super::skipped_files_report(&s.info().skipped)).unwrap_or_default() {
                eprintln!("{line}");
            }
            let report = patchwork_core::eval::recon::evaluate(&meta, &device.device, source, args.limit)?;
            super::print_report(args.json, &report, || {
                format!(
                    "{} on {} (test split, {} images, {}): PSNR {:.2} dB, SSIM {:.4} (floor: a flat image of each input's mean colour scores PSNR {:.2} dB)",
                    args.checkpoint.display(),
                    args.data.as_deref().unwrap_or(&meta.config.data),
                    report.images,
                    device.description,
                    report.psnr,
                    report.ssim,
                    report.flat_psnr
                )
            })
        }
        EvalCommand::Disentangle(args) => {
            use patchwork_core::eval::disentangle::{DisentangleSettings, run};
            let device = super::resolve_device(args.device)?;
            let data = args.data.as_deref().map(str::parse::<patchwork_core::data::DataSpec>).transpose()?;
            let settings = DisentangleSettings { epochs: args.epochs, hidden: args.hidden, train_limit: args.train_limit, test_limit: args.test_limit, seed: args.seed, ..DisentangleSettings::default() };
            let r = run(&args.checkpoint, data.as_ref(), &device, &settings)?;
            super::print_report(args.json, &r, || {
                format!(
                    "{} on {} ({} classes, chance {:.1}%; MLP of {} hidden units, {} epochs, {} train / {} test images, {}):\n  {}: train {:.2}%, test {:.2}% (lower is better)\n  {}: train {:.2}%, test {:.2}% (higher is better)",
                    args.checkpoint.display(),
                    r.data,
                    r.classes,
                    r.chance,
                    settings.hidden,
                    settings.epochs,
                    r.train_images,
                    r.test_images,
                    device.description,
                    r.unspecified_name,
                    r.unspecified.train,
                    r.unspecified.test,
                    r.specified_name,
                    r.specified.train,
                    r.specified.test
                ) + &r.held_out.as_ref().map_or(String::new(), |h| {
                    let classes: Vec<String> = h.classes.iter().map(u32::to_string).collect();
                    format!(
                        "\n  held out of training ({}, {} test images): {} test {:.2}%, {} test {:.2}% (the other classes': {:.2}%)",
                        classes.join(", "),
                        h.test_images,
                        r.unspecified_name,
                        h.unspecified_test,
                        r.specified_name,
                        h.specified_test,
                        h.specified_test_seen
                    )
                })
            })
        }
        EvalCommand::Factors(args) => {
            use patchwork_core::eval::factors::{FactorsSettings, run};
            let device = super::resolve_device(args.device)?;
            let data = args.data.as_deref().map(str::parse::<patchwork_core::data::DataSpec>).transpose()?;
            let r = run(&args.checkpoint, data.as_ref(), &device, &FactorsSettings { features: args.features, limit: args.limit })?;
            super::print_report(args.json, &r, || {
                let rows: Vec<String> = r.factors.iter().map(|f| format!("  {:<6} MAE {:.3}  (predicting the mean: {:.3})", f.factor, f.mae, f.constant_mae)).collect();
                format!(
                    "{} on {} ({} features, {}-d; fitted on {} test images, scored on {}; targets on [0, 1]; {}):\n{}\n  average MAE {:.3} (lower is better)",
                    args.checkpoint.display(),
                    r.data,
                    r.features.name(),
                    r.dims,
                    r.fit_images,
                    r.test_images,
                    device.description,
                    rows.join("\n"),
                    r.average
                )
            })
        }
        EvalCommand::Transfer(args) => {
            use patchwork_core::eval::transfer::{TransferSettings, evaluate};
            let device = super::resolve_device(args.device)?;
            let model = patchwork_core::analysis::explorable::ExplorableModel::load(&args.checkpoint, &device.device)?;
            let settings = TransferSettings { pairs: args.pairs, judge_scenes: args.judge_scenes, judge_epochs: args.judge_epochs, seed: args.seed };
            let report = evaluate(&model, &settings, &|message| {
                if !args.json {
                    eprintln!("{message}");
                }
            })?;
            super::print_report(args.json, &report, || {
                format!(
                    "{} on held-out quadrant scenes ({} transfers, {}):\n  model:       transferred {:.1}%, kept {:.1}%\n  collage:     transferred {:.1}%, kept {:.1}%  (the judge's ceiling)\n  no transfer: transferred {:.1}%, kept {:.1}%  (reference reconstruction)\n  judge accuracy on test quadrants {:.1}%; reconstruction PSNR {:.2} dB\n  pixel share (0 = the reference's reconstruction, 1 = the object's): transferred quadrant {:.3}, kept quadrants {:.3}\n  judge trained on the model's reconstructions ({:.1}% on reconstructed test quadrants, {:.1}% on those with an object):\n    model transferred {:.1}%, kept {:.1}%; no transfer {:.1}%, {:.1}%",
                    args.checkpoint.display(),
                    report.pairs,
                    device.description,
                    report.model.transferred,
                    report.model.kept,
                    report.collage.transferred,
                    report.collage.kept,
                    report.no_transfer.transferred,
                    report.no_transfer.kept,
                    report.judge_accuracy,
                    report.recon_psnr,
                    report.pixel_share.transferred,
                    report.pixel_share.kept,
                    report.reconstruction_judge.accuracy,
                    report.reconstruction_judge.object_accuracy,
                    report.reconstruction_judge.model.transferred,
                    report.reconstruction_judge.model.kept,
                    report.reconstruction_judge.no_transfer.transferred,
                    report.reconstruction_judge.no_transfer.kept
                )
            })
        }
        EvalCommand::Probe(args) => {
            use patchwork_core::eval::probe::{ProbeRegime, ProbeSettings, run};
            let meta = checkpoint::read_meta(&args.checkpoint)?;
            let device = super::resolve_device(args.device)?;
            let regime: ProbeRegime = args.regime.parse().map_err(|e: String| anyhow::anyhow!("--regime: {e}"))?;
            let data: patchwork_core::data::DataSpec = args.data.as_deref().unwrap_or(&meta.config.data).parse()?;
            let settings = ProbeSettings {
                epochs: args.epochs,
                batch: args.batch,
                lr: args.lr,
                lr_step_epochs: args.lr_step,
                seed: args.seed,
                train_limit: args.train_limit,
                test_limit: args.test_limit,
                ..ProbeSettings::paper(regime)
            };
            let report = run(&meta, &data, &device, &settings, |epoch, loss| {
                if !args.json {
                    eprintln!("epoch {epoch}/{}: train loss {loss:.4}", settings.epochs);
                }
            })?;
            super::print_report(args.json, &report, || {
                format!(
                    "{} ({}) probe {} on {} ({} train / {} test images, {} epochs, {}): top-1 {:.2}%",
                    args.checkpoint.display(),
                    report.model,
                    regime.name(),
                    report.data,
                    report.train_images,
                    report.test_images,
                    report.epochs,
                    device.description,
                    report.top1
                )
            })
        }
    }
}
