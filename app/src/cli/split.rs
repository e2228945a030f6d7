//! `patchwork swap-grid` and `patchwork sample-classes`: the Factor swap tab's swap grid as a
//! figure, and its sampling as a labelled dataset (the cycle-consistent VAE report's Fig. 4.1
//! and data augmentation, Fig. 4.10), for a model with a class/style split.

use std::path::PathBuf;

use clap::Args;
use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::analysis::split::{labelled_samples, swap_grid};
use patchwork_core::capabilities::Capability;
use patchwork_core::data::{DataSpec, HostImage, SharedSource, Split};
use patchwork_core::device::DeviceChoice;
use rand::{Rng, SeedableRng};

#[derive(Args, Debug)]
pub struct SwapGridArgs {
    /// A checkpoint, or a run folder (its checkpoint/), of a model with a class/style split.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Where the images come from, its test split (default: the data the model trained on).
    #[arg(long)]
    pub data: Option<String>,
    /// Classes whose test images give the columns' s, as 7,8,9 (e.g. the classes a
    /// few-shot run held out); the rows' z then come from the other classes. Default: any.
    #[arg(long)]
    pub columns_from: Option<String>,
    /// Images of each --columns-from class.
    #[arg(long, default_value_t = 2)]
    pub per_class: usize,
    /// Columns, without --columns-from.
    #[arg(long, default_value_t = 6)]
    pub columns: usize,
    #[arg(long, default_value_t = 6)]
    pub rows: usize,
    /// Which images are drawn.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// The PNG to write: a blank corner, the s images along the top, the z images down the
    /// left, cell = Dec(z of its row, s of its column).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct SampleClassesArgs {
    /// A checkpoint, or a run folder (its checkpoint/), of a model with a class/style split.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Labelled data whose images give each class's s (default: the data the model trained
    /// on), its training split.
    #[arg(long)]
    pub data: Option<String>,
    /// New images of each class.
    #[arg(long, default_value_t = 100)]
    pub per_class: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// A new or empty folder: OUT/<class>/<class>-00000.png, which `--data folder:OUT` reads
    /// back with its classes.
    #[arg(long)]
    pub out: PathBuf,
}

/// The model of `checkpoint`, refused unless it has a class/style split, and the source of
/// `data` (default: the one it trained on) at its size.
fn model_and_data(checkpoint: &std::path::Path, data: Option<&str>, device: DeviceChoice, split: Split) -> anyhow::Result<(ExplorableModel, SharedSource)> {
    let device = super::resolve_device(device)?;
    let meta = patchwork_core::checkpoint::read_meta(checkpoint)?;
    let model = ExplorableModel::load(&meta.dir, &device.device)?;
    if !model.offers(Capability::Split) {
        let offering: Vec<String> = patchwork_core::families::FamilyKind::offering(Capability::Split).iter().map(|k| k.to_string()).collect();
        anyhow::bail!("{}: a {} model has no class/style split ({} have one)", meta.dir.display(), model.kind(), offering.join(", "));
    }
    let spec: DataSpec = data.unwrap_or(&meta.config.data).parse()?;
    let source = spec.open(split, model.image_size())?;
    Ok((model, source))
}

/// "7,8,9" as classes.
fn parse_classes(text: &str) -> anyhow::Result<Vec<u32>> {
    text.split(',').map(|c| c.trim().parse::<u32>().map_err(|_| anyhow::anyhow!("--columns-from {text}: expected class numbers, as 7,8,9"))).collect()
}

/// `n` images of `source` drawn from `rng` among those whose label `keep` takes.
fn draw(source: &SharedSource, n: usize, rng: &mut patchwork_core::rng::SeededRng, keep: impl Fn(Option<u32>) -> bool, what: &str) -> anyhow::Result<Vec<HostImage>> {
    let pool: Vec<usize> = (0..source.len()).filter(|&i| keep(source.label(i))).collect();
    if pool.is_empty() {
        anyhow::bail!("{}: no test image {what}", source.info().name);
    }
    Ok((0..n).map(|_| source.get(pool[rng.random_range(0..pool.len())]).image).collect())
}

pub fn swap_grid_command(args: &SwapGridArgs) -> anyhow::Result<()> {
    let (model, source) = model_and_data(&args.checkpoint, args.data.as_deref(), args.device, Split::Test)?;
    let mut rng = patchwork_core::rng::SeededRng::seed_from_u64(args.seed);
    let (columns, rows) = match &args.columns_from {
        Some(text) => {
            let classes = parse_classes(text)?;
            let mut columns = Vec::new();
            for &class in &classes {
                columns.extend(draw(&source, args.per_class, &mut rng, |l| l == Some(class), &format!("of class {class}"))?);
            }
            (columns, draw(&source, args.rows, &mut rng, |l| l.is_some_and(|l| !classes.contains(&l)), &format!("outside classes {text}"))?)
        }
        None => (draw(&source, args.columns, &mut rng, |_| true, "")?, draw(&source, args.rows, &mut rng, |_| true, "")?),
    };
    let grid = swap_grid(&model, &rows, &columns).map_err(|e| anyhow::anyhow!(e))?;
    let (images, figure_columns) = grid.with_headers(Some(&columns), Some(&rows));
    crate::gui::images::save_grid_png(&images, figure_columns, &args.out)?;
    eprintln!("{}: {} rows × {} columns (s along the top, z down the left)", args.out.display(), grid.rows, grid.columns);
    Ok(())
}

pub fn sample_classes_command(args: &SampleClassesArgs) -> anyhow::Result<()> {
    let (model, source) = model_and_data(&args.checkpoint, args.data.as_deref(), args.device, Split::Train)?;
    let samples = labelled_samples(&model, &source, args.per_class, args.seed).map_err(|e| anyhow::anyhow!(e))?;
    let written = patchwork_core::data::folder::write_class_folders(&args.out, &source.info().class_names, &samples)?;
    eprintln!("{}: {written} labelled images, {} of each class; train on them with --data folder:{}", args.out.display(), args.per_class, args.out.display());
    Ok(())
}
