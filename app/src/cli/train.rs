use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use patchwork_core::data::DataSpec;
use patchwork_core::device::DeviceChoice;
use patchwork_core::train::{LrSchedule, RunSpec, RunStart, TrainCommand, TrainConfig, TrainEvent, spawn};

use super::model_args::ModelArgs;

/// How long a run whose save failed waits before trying again.
const SAVE_RETRY: Duration = Duration::from_secs(10);

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Data: fashion-mnist, mnist, dsprites[:FACTOR] (its classes: shape, scale, orientation, x or y), scenes[:N], folder:PATH, idx:PATH, cifar:PATH,
    /// reference-style[:DIGITS] or pools:REFERENCE|UNLABELLED
    /// (default: scenes for mixing-scenes, fashion-mnist otherwise).
    #[arg(long)]
    pub data: Option<String>,
    #[arg(long)]
    pub epochs: Option<u64>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule: constant (most papers'), cosine (annealed from --lr to
    /// --lr-min over the run's steps: its epochs, or --max-steps when that ends it first) or
    /// step (× --lr-gamma every --lr-step-epochs epochs, PyTorch's StepLR). Default: the
    /// family's (the cycle-consistent VAE: step, ×0.1 every 80 epochs; the others constant).
    #[arg(long)]
    pub lr_schedule: Option<String>,
    /// Where a cosine schedule ends (default 0).
    #[arg(long)]
    pub lr_min: Option<f64>,
    /// Epochs between a step schedule's decays (default 80, the cycle-consistent VAE's code).
    #[arg(long)]
    pub lr_step_epochs: Option<u64>,
    /// A step schedule's factor at each decay (default 0.1).
    #[arg(long)]
    pub lr_gamma: Option<f64>,
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
    /// --minutes, --lr and the model's live settings (--beta, --beta-occ, --lambda-rec, …)
    /// may change (e.g. `--rec-warmup N` at the step the run reached ends a mixing-scenes
    /// warm-up there).
    /// Without --epochs or --max-steps it ends where the checkpoint's run was to end;
    /// --epochs alone lifts the checkpoint's --max-steps. Give --out the checkpoint's run
    /// folder to continue its metrics.jsonl.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
}

fn native_channels(data: &str) -> usize {
    data.parse::<DataSpec>().map_or(1, |spec| spec.native_channels())
}

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
    let family = args.model.family(base.as_ref().map(|b| &b.model))?.info();
    let data = args.data.clone().or_else(|| base.as_ref().map(|b| b.data.clone())).unwrap_or_else(|| family.data.to_string());
    let model = args.model.model_config(native_channels(&data), base.as_ref().map(|b| b.model.clone()))?;
    let mut config = base.map(|b| TrainConfig { model: model.clone(), ..b }).unwrap_or_else(|| TrainConfig::fresh(model, data.clone()));
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

/// The learning-rate schedule the flags ask for; `base` (that of --config, --init or the
/// family) where they ask for none, with the parameters they give changed.
fn lr_schedule(args: &TrainArgs, base: Option<LrSchedule>) -> anyhow::Result<Option<LrSchedule>> {
    let kind = match (args.lr_schedule.as_deref(), base) {
        (Some(kind), _) => kind,
        (None, None) => "constant",
        (None, Some(LrSchedule::Cosine { .. })) => "cosine",
        (None, Some(LrSchedule::Step { .. })) => "step",
    };
    if !["constant", "cosine", "step"].contains(&kind) {
        anyhow::bail!("--lr-schedule {kind}: expected constant, cosine or step");
    }
    if kind != "cosine" && args.lr_min.is_some() {
        anyhow::bail!("--lr-min goes with --lr-schedule cosine (this run's is {kind})");
    }
    if kind != "step" && (args.lr_step_epochs.is_some() || args.lr_gamma.is_some()) {
        anyhow::bail!("--lr-step-epochs and --lr-gamma go with --lr-schedule step (this run's is {kind})");
    }
    Ok(match (kind, base) {
        ("cosine", base) => {
            let base_min = match base {
                Some(LrSchedule::Cosine { lr_min }) => lr_min,
                _ => 0.0,
            };
            Some(LrSchedule::Cosine { lr_min: args.lr_min.unwrap_or(base_min) })
        }
        ("step", base) => {
            let (every, gamma) = match base {
                Some(LrSchedule::Step { every_epochs, gamma }) => (every_epochs, gamma),
                _ => (80, 0.1),
            };
            Some(LrSchedule::Step { every_epochs: args.lr_step_epochs.unwrap_or(every), gamma: args.lr_gamma.unwrap_or(gamma) })
        }
        _ => None,
    })
}

/// The config of a resumed run: the checkpoint's, with the changes the flags ask for
/// checked against it (the run applies them before its first step), as (setting, value).
/// Flags that would change what the checkpoint is (data, batch, seed, the network, loss
/// terms) are refused rather than silently ignored.
fn resumed_config(args: &TrainArgs, dir: &std::path::Path) -> anyhow::Result<(TrainConfig, Vec<(&'static str, f64)>)> {
    let meta = patchwork_core::checkpoint::read_meta(dir)?;
    let fixed = [
        ("--config", args.config.is_some()),
        ("--data", args.data.is_some()),
        ("--lr-schedule", args.lr_schedule.is_some()),
        ("--lr-min", args.lr_min.is_some()),
        ("--lr-step-epochs", args.lr_step_epochs.is_some()),
        ("--lr-gamma", args.lr_gamma.is_some()),
        ("--batch", args.batch.is_some()),
        ("--seed", args.seed.is_some()),
        ("--model", args.model.model.is_some()),
    ];
    let refused: Vec<&str> = fixed.iter().filter(|(_, given)| *given).map(|(flag, _)| *flag).collect();
    if !refused.is_empty() {
        anyhow::bail!("{}: a resumed run keeps its checkpoint's settings; only {} may change", refused.join(", "), ModelArgs::resumable_flags(&meta.config.model));
    }
    let mut config = meta.config;
    let mut changes: Vec<(&'static str, f64)> = args.lr.map(|lr| ("lr", lr)).into_iter().collect();
    for (name, flag, value) in args.model.live_overrides(&config.model)? {
        config.model.clone().set_hyperparameter(name, value).map_err(|e| anyhow::anyhow!("--{flag} {value}: {e} ({} checkpoint in {})", config.model.kind(), dir.display()))?;
        changes.push((name, value));
    }
    if let Some(lr) = args.lr {
        if !(lr.is_finite() && lr > 0.0) {
            anyhow::bail!("--lr {lr}: must be a positive number ({} checkpoint in {})", config.model.kind(), dir.display());
        }
    }
    config.epochs = args.epochs.unwrap_or(config.epochs);
    // The run ends where it was to end unless told otherwise: --epochs alone asks for that
    // many epochs, so it lifts the checkpoint's step limit.
    config.max_steps = match (args.max_steps, args.epochs) {
        (Some(m), _) => Some(m),
        (None, Some(_)) => None,
        (None, None) => config.max_steps,
    };
    Ok((config, changes))
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
    let (config, changes) = match &args.resume {
        Some(dir) => resumed_config(&args, dir)?,
        None => (fresh_config(&args)?, vec![]),
    };
    let deadline = match args.minutes {
        Some(m) if m.is_finite() && m > 0.0 => Some(Instant::now() + Duration::from_secs_f64(m * 60.0)),
        Some(m) => anyhow::bail!("--minutes {m}: expected a positive number"),
        None => None,
    };
    let device = super::resolve_device(args.device)?;
    let out = args.out.clone().unwrap_or_else(|| super::default_out_dir(config.model.kind().name()));
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
    let faults = patchwork_core::train::faults_from_env()?;
    if !faults.is_empty() {
        eprintln!("injecting numerical faults ({}): {faults:?}", patchwork_core::train::faults::INJECT_FAULT_VAR);
    }
    let handle = spawn(RunSpec { config, device, run_dir: Some(out.clone()), start, source: None, faults });
    // Checked above; the run applies them before its first step.
    for (name, value) in changes {
        handle.send(TrainCommand::SetHyperparameter { name: name.into(), value });
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
    // After a failed save: when to try again, and whether one has failed since the last
    // that worked (the run waits, paused, with its weights in memory).
    let mut save_retry: Option<Instant> = None;
    let mut unsaved = false;
    loop {
        if save_retry.is_some_and(|at| Instant::now() >= at) {
            save_retry = None;
            handle.send(TrainCommand::SaveNow(None));
        }
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
            TrainEvent::Started { parameters, progress, images, skipped, compiles_kernels, .. } => {
                bar.set_length(progress.total_steps);
                bar.set_position(progress.step);
                say(&bar, format!("{parameters} parameters, {images} training images, {} steps per epoch", progress.steps_per_epoch));
                if compiles_kernels {
                    bar.set_message("compiling kernels… (the first start on a GPU takes minutes; later ones read the kernel cache)");
                }
                for line in super::skipped_files_report(&skipped) {
                    say(&bar, line);
                }
            }
            TrainEvent::Step { metrics, progress } => {
                bar.set_position(progress.step);
                bar.set_prefix(format!("{}/{}", (progress.epoch + 1).min(progress.epochs), progress.epochs));
                let terms: Vec<String> =
                    metrics.losses.iter().take(3).map(|(n, v)| format!("{n} {v:.3}")).collect();
                bar.set_message(format!("{} | {:.0} img/s", terms.join(" "), metrics.images_per_sec));
            }
            TrainEvent::CheckpointSaved { path, step } => {
                say(&bar, format!("step {step}: checkpoint saved to {}", path.display()));
                if unsaved {
                    unsaved = false;
                    handle.send(TrainCommand::Resume);
                }
            }
            TrainEvent::SaveFailed { path, step, message } => {
                say(&bar, format!("step {step}: saving {} failed: {message}. The weights are kept in memory and the run waits; trying again every {} s (free some space, or press Ctrl-C to give up)", path.display(), SAVE_RETRY.as_secs()));
                unsaved = true;
                save_retry = Some(Instant::now() + SAVE_RETRY);
            }
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
            // "not …": something was not done (snapshots no longer kept, a setting not
            // changed) and the run goes on.
            TrainEvent::Failed { message } if message.starts_with("not ") => say(&bar, message),
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Line {
        #[command(flatten)]
        train: TrainArgs,
    }

    fn config(line: &str) -> anyhow::Result<TrainConfig> {
        let args = Line::try_parse_from(std::iter::once("train").chain(line.split_whitespace()))?.train;
        fresh_config(&args)
    }

    #[test]
    fn the_schedule_flags_give_the_familys_schedule_or_the_one_asked_for() {
        let step = |every_epochs, gamma| Some(LrSchedule::Step { every_epochs, gamma });
        assert_eq!(config("--model cycle-vae --data mnist").unwrap().lr_schedule, step(80, 0.1), "the code's StepLR by default");
        assert_eq!(config("--model cycle-vae --data mnist --lr-gamma 0.5").unwrap().lr_schedule, step(80, 0.5));
        assert_eq!(config("--model cycle-vae --data mnist --lr-schedule constant").unwrap().lr_schedule, None);
        assert_eq!(config("--model beta-vae --data mnist").unwrap().lr_schedule, None);
        assert_eq!(config("--model beta-vae --data mnist --lr-schedule step --lr-step-epochs 3").unwrap().lr_schedule, step(3, 0.1));
        assert_eq!(config("--model beta-vae --data mnist --lr-schedule cosine --lr-min 1e-5").unwrap().lr_schedule, Some(LrSchedule::Cosine { lr_min: 1e-5 }));
        assert!(config("--model beta-vae --data mnist --lr-gamma 0.5").unwrap_err().to_string().contains("go with --lr-schedule step"));
        assert!(config("--model cycle-vae --data mnist --lr-min 1e-5").unwrap_err().to_string().contains("--lr-min goes with --lr-schedule cosine"));
        assert!(config("--model beta-vae --data mnist --lr-schedule constant --lr-gamma 0.5").unwrap_err().to_string().contains("go with --lr-schedule step"));
        assert!(config("--model beta-vae --data mnist --lr-schedule step --lr-gamma 2").unwrap_err().to_string().contains("factor"));
        assert!(config("--model beta-vae --data mnist --lr-schedule linear").unwrap_err().to_string().contains("constant, cosine or step"));
    }
}
