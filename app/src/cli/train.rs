use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use patchwork_core::data::DataSpec;
use patchwork_core::device::DeviceChoice;
use patchwork_core::models::ModelConfig;
use patchwork_core::models::beta_vae::{BetaVaeConfig, Capacity, ReconLoss, VaeArch};
use patchwork_core::models::mixing_scenes::{MixingPreset, MixingScenesConfig};
use patchwork_core::models::patch_vae::{OccurrenceSampling, PatchVaeConfig, TemperatureSchedule};
use patchwork_core::train::{LrSchedule, RunSpec, RunStart, TrainCommand, TrainConfig, TrainEvent, spawn};

use super::ModelArgs;

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Data: fashion-mnist, mnist, dsprites, scenes[:N], folder:PATH, idx:PATH or cifar:PATH
    /// (default: scenes for mixing-scenes, fashion-mnist otherwise).
    #[arg(long)]
    pub data: Option<String>,
    #[arg(long)]
    pub epochs: Option<u64>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule: constant (the papers') or cosine (annealed from --lr to
    /// --lr-min over the run's steps: its epochs, or --max-steps when that ends it first).
    #[arg(long)]
    pub lr_schedule: Option<String>,
    /// Where a cosine schedule ends (default 0).
    #[arg(long)]
    pub lr_min: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many steps.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Stop after this many minutes of wall time from the start (data and neighbour index
    /// included), saving the checkpoint as at any other end; for runs on a lent or
    /// scheduled machine.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Run folder (default runs/MODEL-TIMESTAMP).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A TrainConfig JSON (as saved in a checkpoint's config.json); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Start a new run from the weights of the checkpoint in this folder (fine-tuning; or a
    /// run continued at another batch size): its config.json is the starting point, as
    /// with --config, and flags change it, except for the network's shape; the step count,
    /// the optimizer and the schedule (--max-steps, --rec-warmup) start afresh.
    #[arg(long, conflicts_with_all = ["config", "resume"])]
    pub init: Option<PathBuf>,
    /// Continue the checkpoint in this folder with its own settings; --epochs, --max-steps,
    /// --minutes, --lr, --beta, --beta-occ, --beta-app and --rec-warmup may change (e.g.
    /// `--rec-warmup N` at the step the run reached ends a mixing-scenes warm-up there).
    /// Without --epochs or --max-steps it ends where the checkpoint's run was to end;
    /// --epochs alone lifts the checkpoint's --max-steps. Give --out the checkpoint's run
    /// folder to continue its metrics.jsonl.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

/// The model family the flags ask for, by its canonical name (`ModelConfig::kind`):
/// `--model`, else the base config's, else beta-vae. A `--model` that contradicts the base
/// config is refused rather than silently replacing it.
pub(crate) fn model_family(args: &ModelArgs, base: Option<&ModelConfig>) -> anyhow::Result<&'static str> {
    let asked = match args.model.as_deref() {
        None => return Ok(base.map_or("beta-vae", ModelConfig::kind)),
        Some("beta-vae" | "vae") => "beta-vae",
        Some("patchvae" | "patch-vae") => "patchvae",
        Some("mixing-scenes" | "mixing") => "mixing-scenes",
        Some(other) => anyhow::bail!("--model {other}: expected beta-vae, patchvae or mixing-scenes"),
    };
    match base {
        Some(b) if b.kind() != asked => anyhow::bail!("--model {asked}: the config it starts from (--config or --init) holds a {} model", b.kind()),
        _ => Ok(asked),
    }
}

/// Builds a model config from flags, on top of `base` when given.
pub(crate) fn model_config(args: &ModelArgs, data_channels: usize, base: Option<ModelConfig>) -> anyhow::Result<ModelConfig> {
    match model_family(args, base.as_ref())? {
        "beta-vae" => {
            let patch_only = args.gan
                || args.parts.is_some()
                || args.part_dim.is_some()
                || args.beta_occ.is_some()
                || args.beta_app.is_some()
                || args.prior.is_some()
                || args.sampling.is_some()
                || args.temperature_schedule.is_some();
            if patch_only {
                anyhow::bail!("--gan, --parts, --part-dim, --beta-occ, --beta-app, --prior, --sampling and --temperature-schedule are patchvae settings");
            }
            let mut c = match base {
                Some(ModelConfig::BetaVae(c)) => c,
                _ => BetaVaeConfig::new(VaeArch::Resnet9).with_channels(data_channels),
            };
            if let Some(a) = &args.arch {
                c.arch = match a.as_str() {
                    "resnet9" => VaeArch::Resnet9,
                    "higgins" => VaeArch::Higgins,
                    "mlp" => VaeArch::Mlp,
                    other => anyhow::bail!("--arch {other}: expected resnet9, higgins or mlp"),
                };
            }
            if let Some(r) = &args.recon {
                c.recon = match r.as_str() {
                    "mse" => ReconLoss::Mse,
                    "bernoulli" | "bce" => ReconLoss::Bernoulli,
                    other => anyhow::bail!("--recon {other}: expected mse or bernoulli"),
                };
            }
            if c.arch == VaeArch::Mlp && args.size.is_none() {
                c.image_size = 28;
            }
            c.image_size = args.size.unwrap_or(c.image_size);
            c.latent = args.latent.unwrap_or(c.latent);
            c.beta = args.beta.unwrap_or(c.beta);
            c.channels = args.channels.unwrap_or(c.channels);
            if args.capacity {
                c.capacity = Some(Capacity::default());
            }
            c.weighted_loss |= args.weighted;
            let m = ModelConfig::BetaVae(c);
            m.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(m)
        }
        "patchvae" => {
            let mut c = match base {
                Some(ModelConfig::PatchVae(c)) => c,
                _ => PatchVaeConfig::new().with_channels(data_channels),
            };
            c.image_size = args.size.unwrap_or(c.image_size);
            c.channels = args.channels.unwrap_or(c.channels);
            c.parts = args.parts.unwrap_or(c.parts);
            c.part_dim = args.part_dim.unwrap_or(c.part_dim);
            c.beta_occ = args.beta_occ.unwrap_or(c.beta_occ);
            c.beta_app = args.beta_app.unwrap_or(c.beta_app);
            c.prior = args.prior.or(c.prior);
            c.weighted_loss |= args.weighted;
            if args.gan && c.gan.is_none() {
                c.gan = Some(patchwork_core::models::patch_vae::GanSettings::default());
            }
            if let Some(s) = &args.sampling {
                c.sampling = match s.as_str() {
                    "bernoulli" => OccurrenceSampling::Bernoulli,
                    "categorical" => OccurrenceSampling::Categorical,
                    "hard" => OccurrenceSampling::Hard,
                    other => anyhow::bail!("--sampling {other}: expected bernoulli, categorical or hard"),
                };
            }
            if let Some(s) = &args.temperature_schedule {
                c.temperature.schedule = match s.as_str() {
                    "compounding" => TemperatureSchedule::Compounding,
                    "exponential" => TemperatureSchedule::Exponential,
                    other => anyhow::bail!("--temperature-schedule {other}: expected compounding or exponential"),
                };
            }
            if args.arch.is_some() || args.latent.is_some() || args.beta.is_some() || args.capacity || args.recon.is_some() {
                anyhow::bail!("--arch, --latent, --beta, --capacity and --recon are beta-vae settings; patchvae takes --parts, --part-dim, --beta-occ, --beta-app, --prior, --sampling, --weighted, --gan");
            }
            let m = ModelConfig::PatchVae(c);
            m.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(m)
        }
        // "mixing-scenes", the one family left: `model_family` names no other.
        _ => {
            let mut c = match base {
                Some(ModelConfig::MixingScenes(c)) => c,
                _ => MixingScenesConfig::new(),
            };
            if let Some(p) = &args.preset {
                c.preset = match p.as_str() {
                    "small" => MixingPreset::Small,
                    "full" => MixingPreset::Full,
                    other => anyhow::bail!("--preset {other}: expected small or full"),
                };
            }
            c.use_rec &= !args.no_rec;
            c.use_adv &= !args.no_adv;
            c.use_cls &= !args.no_cls;
            if let Some(tau) = args.tau {
                c.neighbours.tau = Some(tau);
            }
            if let Some(n) = args.rec_warmup {
                c.rec_warmup = Some(n);
            }
            if let Some(w) = args.warmup_collage {
                c.warmup_collage = Some(w);
            }
            let foreign = args.arch.is_some()
                || args.latent.is_some()
                || args.beta.is_some()
                || args.parts.is_some()
                || args.part_dim.is_some()
                || args.gan
                || args.weighted
                || args.size.is_some_and(|s| s != 64);
            if foreign {
                anyhow::bail!("mixing-scenes takes --preset, --no-rec, --no-adv, --no-cls, --rec-warmup, --warmup-collage and --tau (64×64 colour images)");
            }
            let m = ModelConfig::MixingScenes(c);
            m.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(m)
        }
    }
}

fn native_channels(data: &str) -> usize {
    match data.parse::<DataSpec>() {
        Ok(DataSpec::Cifar(_) | DataSpec::Folder(_) | DataSpec::Scenes(_)) => 3,
        _ => 1,
    }
}

/// Mixing scenes' defaults (thesis §3.6).
pub const MIXING_BATCH: usize = 12;
pub const MIXING_LR: f64 = 2e-4;

/// The config of a new run: `--config` or `--init`'s checkpoint (if any), the model flags
/// and the run flags.
fn fresh_config(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let base = match (&args.config, &args.init) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
            Some(serde_json::from_str::<TrainConfig>(&text).map_err(|e| anyhow::anyhow!("{}: invalid config: {e}", path.display()))?)
        }
        (None, Some(dir)) => Some(patchwork_core::checkpoint::read_meta(dir)?.config.for_run_from_its_weights()),
        (None, None) => None,
    };
    let mixing = model_family(&args.model, base.as_ref().map(|b| &b.model))? == "mixing-scenes";
    let default_data = if mixing { "scenes" } else { "fashion-mnist" };
    let data = args.data.clone().or_else(|| base.as_ref().map(|b| b.data.clone())).unwrap_or_else(|| default_data.to_string());
    let model = model_config(&args.model, native_channels(&data), base.as_ref().map(|b| b.model.clone()))?;
    let fresh = base.is_none();
    let mut config = base.map(|b| TrainConfig { model: model.clone(), ..b }).unwrap_or_else(|| TrainConfig::new(model, data.clone()));
    if fresh && mixing {
        // The thesis's batch of 12 references (each brings 4 candidates) and lr_G 2e-4.
        config.batch_size = MIXING_BATCH;
        config.lr = MIXING_LR;
    }
    config.data = data;
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.batch_size = args.batch.unwrap_or(config.batch_size);
    config.lr = args.lr.unwrap_or(config.lr);
    config.lr_schedule = lr_schedule(args, config.lr_schedule)?;
    config.seed = args.seed.unwrap_or(config.seed);
    config.max_steps = args.max_steps.or(config.max_steps);
    config.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(config)
}

/// The learning-rate schedule the flags ask for; `base` (that of --config or --init) when
/// they ask for none.
fn lr_schedule(args: &TrainArgs, base: Option<LrSchedule>) -> anyhow::Result<Option<LrSchedule>> {
    let base_min = base.map(|LrSchedule::Cosine { lr_min }| lr_min);
    match (args.lr_schedule.as_deref(), args.lr_min) {
        (None, None) => Ok(base),
        (Some("constant"), None) => Ok(None),
        (Some("constant"), Some(_)) => anyhow::bail!("--lr-min goes with --lr-schedule cosine"),
        (Some("cosine"), lr_min) => Ok(Some(LrSchedule::Cosine { lr_min: lr_min.or(base_min).unwrap_or(0.0) })),
        (None, Some(lr_min)) if base_min.is_some() => Ok(Some(LrSchedule::Cosine { lr_min })),
        (None, Some(_)) => anyhow::bail!("--lr-min goes with --lr-schedule cosine"),
        (Some(other), _) => anyhow::bail!("--lr-schedule {other}: expected constant or cosine"),
    }
}

/// The settings a resumed run may change, as (live hyperparameter name, flag, value): the
/// learning rate, β weights and the mixing-scenes warm-up length. Everything else is the
/// checkpoint's.
fn resume_overrides(args: &TrainArgs) -> Vec<(&'static str, &'static str, f64)> {
    let m = &args.model;
    [
        ("lr", "--lr", args.lr),
        ("beta", "--beta", m.beta),
        ("beta_occ", "--beta-occ", m.beta_occ),
        ("beta_app", "--beta-app", m.beta_app),
        ("rec_warmup", "--rec-warmup", m.rec_warmup.map(|n| n as f64)),
    ]
    .into_iter()
    .filter_map(|(name, flag, value)| value.map(|v| (name, flag, v)))
    .collect()
}

/// The config of a resumed run: the checkpoint's, with the overrides checked against it.
/// Flags that would change what the checkpoint is (data, batch, seed, architecture, loss
/// terms) are refused rather than silently ignored.
fn resumed_config(args: &TrainArgs, dir: &std::path::Path) -> anyhow::Result<TrainConfig> {
    let m = &args.model;
    let fixed = [
        ("--config", args.config.is_some()),
        ("--data", args.data.is_some()),
        ("--lr-schedule", args.lr_schedule.is_some()),
        ("--lr-min", args.lr_min.is_some()),
        ("--batch", args.batch.is_some()),
        ("--seed", args.seed.is_some()),
        ("--arch", m.arch.is_some()),
        ("--size", m.size.is_some()),
        ("--latent", m.latent.is_some()),
        ("--channels", m.channels.is_some()),
        ("--capacity", m.capacity),
        ("--recon", m.recon.is_some()),
        ("--weighted", m.weighted),
        ("--parts", m.parts.is_some()),
        ("--part-dim", m.part_dim.is_some()),
        ("--prior", m.prior.is_some()),
        ("--sampling", m.sampling.is_some()),
        ("--gan", m.gan),
        ("--temperature-schedule", m.temperature_schedule.is_some()),
        ("--preset", m.preset.is_some()),
        ("--no-rec", m.no_rec),
        ("--no-adv", m.no_adv),
        ("--no-cls", m.no_cls),
        ("--warmup-collage", m.warmup_collage.is_some()),
        ("--tau", m.tau.is_some()),
    ];
    let refused: Vec<&str> = fixed.iter().filter(|(_, given)| *given).map(|(flag, _)| *flag).collect();
    if !refused.is_empty() {
        anyhow::bail!(
            "{}: a resumed run keeps its checkpoint's settings; only --epochs, --max-steps, --minutes, --lr, --beta, --beta-occ, --beta-app and --rec-warmup may change",
            refused.join(", ")
        );
    }
    let meta = patchwork_core::checkpoint::read_meta(dir)?;
    let mut config = meta.config;
    config.epochs = args.epochs.unwrap_or(config.epochs);
    // The run ends where it was to end unless told otherwise: --epochs alone asks for that
    // many epochs, so it lifts the checkpoint's step limit.
    config.max_steps = match (args.max_steps, args.epochs) {
        (Some(m), _) => Some(m),
        (None, Some(_)) => None,
        (None, None) => config.max_steps,
    };
    for (name, flag, value) in resume_overrides(args) {
        let checked = if name == "lr" {
            if value.is_finite() && value > 0.0 { Ok(()) } else { Err("must be a positive number".to_string()) }
        } else {
            config.model.clone().set_hyperparameter(name, value)
        };
        checked.map_err(|e| anyhow::anyhow!("{flag} {value}: {e} ({} checkpoint in {})", config.model.kind(), dir.display()))?;
    }
    Ok(config)
}

/// Prints a line above the progress bar, or on stderr where the bar is hidden (output not
/// a terminal: a script or a log), where `println` would print nothing.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let config = match &args.resume {
        Some(dir) => resumed_config(&args, dir)?,
        None => fresh_config(&args)?,
    };
    let deadline = match args.minutes {
        Some(m) if m.is_finite() && m > 0.0 => Some(Instant::now() + Duration::from_secs_f64(m * 60.0)),
        Some(m) => anyhow::bail!("--minutes {m}: expected a positive number"),
        None => None,
    };
    let device = super::resolve_device(args.device)?;
    let out = args.out.clone().unwrap_or_else(|| super::default_out_dir(config.model.kind()));
    eprintln!("device: {}", device.description);
    eprintln!("run folder: {}", out.display());
    if let Some(dir) = &args.init {
        eprintln!("starting from the weights in {} (new optimizer, step 0)", dir.display());
    }
    // clap refuses --init with --resume.
    let start = match (&args.resume, &args.init) {
        (Some(dir), _) => RunStart::Resume(dir.clone()),
        (None, Some(dir)) => RunStart::Init(dir.clone()),
        (None, None) => RunStart::Fresh,
    };
    let handle = spawn(RunSpec { config, device, run_dir: Some(out.clone()), start, source: None });
    if args.resume.is_some() {
        // Checked above; the run applies them before its first step.
        for (name, _, value) in resume_overrides(&args) {
            handle.send(TrainCommand::SetHyperparameter { name: name.into(), value });
        }
    }
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{spinner} epoch {prefix} [{bar:30}] step {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut result = Ok(());
    let mut stop_sent = false;
    loop {
        // Steps can arrive faster than the timeout: the deadline is checked on every event.
        let received = handle.events.recv_timeout(Duration::from_millis(200));
        if !stop_sent && deadline.is_some_and(|d| Instant::now() >= d) {
            say(&bar, format!("time limit of {} minutes reached: stopping after this step", args.minutes.unwrap_or_default()));
            stop_sent = true;
            handle.send(TrainCommand::Stop);
        }
        let event = match received {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match event {
            TrainEvent::Started { parameters, progress, images, skipped, .. } => {
                bar.set_length(progress.total_steps);
                bar.set_position(progress.step);
                say(&bar, format!("{parameters} parameters, {images} training images, {} steps per epoch", progress.steps_per_epoch));
                for line in super::skipped_files_report(&skipped) {
                    say(&bar, line);
                }
            }
            TrainEvent::Step { metrics, progress } => {
                bar.set_position(progress.step);
                bar.set_prefix(format!("{}/{}", (progress.epoch + 1).min(progress.epochs), progress.epochs));
                let terms: Vec<String> =
                    metrics.terms.iter().take(3).map(|(n, v)| format!("{n} {v:.3}")).collect();
                bar.set_message(format!("{} | {:.0} img/s", terms.join(" "), metrics.images_per_sec));
            }
            TrainEvent::CheckpointSaved { path, step } => say(&bar, format!("step {step}: checkpoint saved to {}", path.display())),
            TrainEvent::Diverged { step, term, value } => {
                let checkpoint = out.join("checkpoint");
                say(
                    &bar,
                    format!(
                        "step {step}: {term} = {value}; the run diverged. The last good weights are kept; stopping. Resume with --resume {} and a lower --lr.",
                        checkpoint.display()
                    ),
                );
                handle.send(TrainCommand::Stop);
            }
            TrainEvent::HyperparameterChanged { name, value } => say(&bar, format!("{name} set to {value}")),
            TrainEvent::Finished { step, checkpoint } => {
                let line = format!("finished at step {step}{}", checkpoint.map(|c| format!("; checkpoint {}", c.display())).unwrap_or_default());
                if bar.is_hidden() {
                    eprintln!("{line}");
                }
                bar.finish_with_message(line);
            }
            TrainEvent::Failed { message } => {
                bar.abandon();
                result = Err(anyhow::anyhow!(message));
            }
            _ => {}
        }
    }
    handle.join();
    result
}
