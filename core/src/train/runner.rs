//! The training thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use rand::SeedableRng;
use crate::rng::SeededRng;

use super::snapshots::Moment;
use super::faults::{FaultKind, InjectedFault, UpdateGuard, poison_input};
use super::{Progress, Snapshot, SnapshotArchive, StepMetrics, TrainCommand, TrainConfig, TrainEvent};
use crate::analysis::explorable::{ExplorableModel, ModelOrigin};
use crate::checkpoint::{self, CheckpointMeta, TrainState};
use crate::data::loader::assemble;
use crate::data::{Batch, BatchLoader, DataSpec, LoaderConfig, SharedSource, Split};
use crate::device::ResolvedDevice;
use crate::families::trainable::to_host_images;
use crate::families::{FamilyVisitor, StepError, StepInput, Trainable};
use crate::nn::init_seeded;

/// What to run.
pub struct RunSpec {
    pub config: TrainConfig,
    pub device: ResolvedDevice,
    /// Where metrics (`metrics.jsonl`) and the checkpoint (`checkpoint/`) go; `None`
    /// keeps the run in memory (checkpoints then need an explicit path).
    pub run_dir: Option<PathBuf>,
    /// Random weights, or a checkpoint to continue or start from.
    pub start: RunStart,
    /// Use this training source instead of opening `config.data`.
    pub source: Option<SharedSource>,
    /// Numerical faults to inject, each once at its step (the reliability harness; see
    /// [`super::faults`]). Empty for every ordinary run.
    pub faults: Vec<InjectedFault>,
}

/// Where a run's weights come from.
#[derive(Debug, Clone)]
pub enum RunStart {
    /// Seeded random weights.
    Fresh,
    /// Continue this checkpoint (its config replaces the spec's, except `epochs` and
    /// `max_steps`, which may be raised to train longer).
    Resume(PathBuf),
    /// A new run (step 0, a fresh optimizer, the spec's config) from this checkpoint's
    /// weights: fine-tuning, or a long run continued at another batch size. The checkpoint
    /// must hold the same network as the config builds.
    Init(PathBuf),
}

/// The caller's end of a run.
pub struct TrainerHandle {
    pub events: Receiver<TrainEvent>,
    commands: Sender<TrainCommand>,
    thread: Option<JoinHandle<()>>,
}

impl TrainerHandle {
    /// A handle with no thread behind it, over the caller's channels: for showing a run's
    /// events to a view (tests replaying events), the commands coming back on `commands`.
    pub fn from_channels(events: Receiver<TrainEvent>, commands: Sender<TrainCommand>) -> Self {
        Self { events, commands, thread: None }
    }

    /// Sends a command; returns false if the run has ended.
    pub fn send(&self, command: TrainCommand) -> bool {
        self.commands.send(command).is_ok()
    }

    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Waits for the thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The RNG of one step: a pure function of (seed, step), so a resumed run draws
/// exactly the noise the uninterrupted run would have.
pub fn step_rng(seed: u64, step: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed ^ step.wrapping_add(1).wrapping_mul(0xd1b5_4a32_d192_ed03))
}

/// Starts a run on its own thread.
pub fn spawn(spec: RunSpec) -> TrainerHandle {
    let (event_tx, events) = channel();
    let (commands, command_rx) = channel();
    let thread = std::thread::Builder::new()
        .name("patchwork-train".into())
        .spawn(move || {
            let failure = event_tx.clone();
            // With `training_threads` a pool of the run's own, so that rayon's global pool
            // (the explorer's requests) keeps every core.
            let device = spec.device.clone();
            let train = move || run(spec, &event_tx, &command_rx);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || device.run_in_pool(train)));
            let message = match result {
                Ok(Ok(())) => return,
                Ok(Err(e)) => format!("{e:#}"),
                Err(panic) => panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the training thread panicked".into()),
            };
            let _ = failure.send(TrainEvent::Failed { message });
        })
        .ok();
    TrainerHandle { events, commands, thread }
}

fn run(mut spec: RunSpec, events: &Sender<TrainEvent>, commands: &Receiver<TrainCommand>) -> anyhow::Result<()> {
    let resume = match &spec.start {
        RunStart::Resume(dir) => {
            let meta = checkpoint::read_meta(dir)?;
            let mut config = meta.config.clone();
            config.epochs = config.epochs.max(spec.config.epochs);
            config.max_steps = spec.config.max_steps;
            spec.config = config;
            Some(meta)
        }
        RunStart::Fresh | RunStart::Init(_) => None,
    };
    spec.config.validate().map_err(|e| anyhow::anyhow!("invalid training config: {e}"))?;
    struct Start<'a> {
        spec: RunSpec,
        resume: Option<CheckpointMeta>,
        events: &'a Sender<TrainEvent>,
        commands: &'a Receiver<TrainCommand>,
    }
    impl FamilyVisitor for Start<'_> {
        type Output = anyhow::Result<()>;
        fn visit<M: Trainable>(self) -> anyhow::Result<()> {
            Run::<M>::start(self.spec, self.resume, self.events)?.train(self.commands)
        }
    }
    let model = spec.config.model.clone();
    model.visit(Start { spec, resume, events, commands })
}

struct Run<'a, M: Trainable> {
    config: TrainConfig,
    device: ResolvedDevice,
    ad_device: Device,
    run_dir: Option<PathBuf>,
    model: M,
    optimizer: ModuleOptimizer,
    state: TrainState,
    loader: BatchLoader,
    source: SharedSource,
    prepared: M::Prepared,
    snapshot_batch: Batch,
    events: &'a Sender<TrainEvent>,
    metrics_file: Option<std::fs::File>,
    /// The run folder's snapshots, for scrubbing the run once it is opened from disk;
    /// `RefCell`: snapshots are taken from `&self` methods.
    snapshot_archive: std::cell::RefCell<Option<SnapshotArchive>>,
    /// Faults still to inject (see [`RunSpec::faults`]).
    faults: Vec<InjectedFault>,
}

/// A run folder's log: one JSON [`StepMetrics`] per line.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// Rows of a run's [`METRICS_FILE`] past the step it resumes from, set aside beside it:
/// what a run logged after its last checkpoint (it stopped without saving: killed, crashed).
pub const DISCARDED_METRICS_FILE: &str = "metrics.discarded.jsonl";

/// Opens a run folder's `metrics.jsonl` for appending. A folder that already holds
/// another run is refused (its checkpoint would be overwritten); a run resumed from its own
/// folder's checkpoint first moves the rows past its step to [`DISCARDED_METRICS_FILE`],
/// so the log has each step once.
fn open_metrics(dir: &Path, resumed: Option<(&Path, u64)>) -> anyhow::Result<std::fs::File> {
    refuse_links_out(dir)?;
    let path = dir.join(METRICS_FILE);
    let checkpoint = dir.join("checkpoint");
    let holds_run = path.is_file() || checkpoint.join(checkpoint::CONFIG_FILE).is_file();
    let same = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|a| b.canonicalize().ok() == Some(a));
    match resumed {
        Some((from, step)) if same(from, &checkpoint) => {
            if path.is_file() {
                set_aside_metrics_past(&path, step)?;
            }
        }
        _ if holds_run => anyhow::bail!(
            "{} already holds a run (metrics.jsonl, checkpoint/): choose another folder, or continue that run by resuming from {}",
            dir.display(),
            checkpoint.display()
        ),
        _ => {}
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create run folder {}", dir.display()))?;
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
    file.with_context(|| format!("cannot open {}", path.display()))
}

/// What a run appends to or writes inside in its folder. The checkpoint is not among
/// them: it is replaced whole, a link at its place included, and what a link pointed to
/// is left alone.
const APPENDED_ENTRIES: [&str; 3] = [METRICS_FILE, DISCARDED_METRICS_FILE, super::snapshots::SNAPSHOTS_DIR];

/// Refuses a run folder where one of [`APPENDED_ENTRIES`] is a symbolic link: writing
/// through it would change a file outside the folder (a copied run folder could point
/// `metrics.jsonl` at any file of the user's). The run folder itself may be a link: the
/// user chose where it lives.
fn refuse_links_out(dir: &Path) -> anyhow::Result<()> {
    for name in APPENDED_ENTRIES {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
            anyhow::bail!("{} is a symbolic link (to {target}): a run writes only inside its own folder; remove the link or choose another folder", path.display());
        }
    }
    Ok(())
}

fn set_aside_metrics_past(path: &Path, step: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let past = |line: &str| serde_json::from_str::<StepMetrics>(line).is_ok_and(|m| m.step > step);
    let (later, kept): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| past(l));
    if later.is_empty() {
        return Ok(());
    }
    let aside = path.with_file_name(DISCARDED_METRICS_FILE);
    let mut discarded = std::fs::OpenOptions::new().create(true).append(true).open(&aside).with_context(|| format!("cannot open {}", aside.display()))?;
    writeln!(discarded, "{}", later.join("\n")).with_context(|| format!("cannot write {}", aside.display()))?;
    crate::atomic::write_file_atomically(path, kept.iter().map(|l| format!("{l}\n")).collect::<String>().as_bytes())
}

fn adam(config: &TrainConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(config.adam_beta1 as f32)
        .with_beta_2(config.adam_beta2 as f32)
        .with_epsilon(1e-8)
        .init()
}

impl<'a, M: Trainable> Run<'a, M> {
    fn start(spec: RunSpec, resume: Option<CheckpointMeta>, events: &'a Sender<TrainEvent>) -> anyhow::Result<Self> {
        let config = spec.config;
        let model_config = M::config_of(&config.model).context("model family mismatch")?.clone();
        let ad_device = spec.device.device.clone().autodiff();
        let (size, channels) = (config.model.image_size(), config.model.channels());
        let source = match spec.source {
            Some(s) => s,
            None => config.data.parse::<DataSpec>()?.open(Split::Train, size)?,
        };
        let source = M::training_source(&model_config, source)?;
        if source.is_empty() {
            anyhow::bail!("the training data is empty");
        }
        let init = match &spec.start {
            RunStart::Init(dir) => Some(checkpoint::read_meta(dir)?),
            RunStart::Fresh | RunStart::Resume(_) => None,
        };
        let init_model = init.as_ref().map(|meta| meta.load_weights_into::<M>(&model_config, &ad_device)).transpose()?;
        // What the family prepared from the data (neighbour lists) is reused from the
        // checkpoint when it was made from the same data and seed.
        let same_data = |meta: &&CheckpointMeta| meta.config.data == config.data && meta.config.seed == config.seed;
        let prepared_dir = resume.as_ref().or(init.as_ref().filter(same_data)).map(|m| m.dir.clone());
        // Before the preparation (minutes for mixing scenes' neighbours) so a refusal comes first.
        let metrics_file = match &spec.run_dir {
            Some(dir) => Some(open_metrics(dir, resume.as_ref().map(|m| (m.dir.as_path(), m.state.step)))?),
            None => None,
        };
        let snapshot_archive = match &spec.run_dir {
            Some(dir) => Some(SnapshotArchive::open(dir, resume.as_ref().map(|m| m.state.step))?),
            None => None,
        };
        let prepared = M::prepare(&model_config, &source, &config.data, config.seed, prepared_dir.as_deref(), &|task, fraction| {
            let _ = events.send(TrainEvent::Preparing { task: task.into(), fraction });
        })?;
        let (model, optimizer, state) = match resume {
            Some(meta) => {
                let model: M = meta.load_model(&ad_device)?;
                let optimizer = meta.load_optimizer(adam(&config))?;
                let mut state = meta.state.clone();
                state.device = spec.device.description.clone();
                (model, optimizer, state)
            }
            None => {
                let model = init_model.unwrap_or_else(|| init_seeded(&ad_device, config.seed, |d| M::build(&model_config, d)));
                let mut state = TrainState::new(config.model.kind().name(), config.seed, &spec.device.description);
                state.initialized_from = init.map(|meta| format!("{} (step {})", meta.dir.display(), meta.state.step));
                (model, adam(&config), state)
            }
        };
        let loader_config = LoaderConfig { batch_size: config.batch_size, size, channels, seed: config.seed, prefetch: 3 };
        let loader = BatchLoader::start(source.clone(), loader_config, state.step);
        let shown: Vec<usize> = (0..source.len().min(8)).collect();
        let (images, labels) = assemble(&source, &shown, size, channels);
        let snapshot_batch = Batch { step: 0, epoch: 0, images, labels, indices: shown.clone(), batch_size: shown.len(), channels, size };
        Ok(Self {
            config,
            device: spec.device,
            ad_device,
            run_dir: spec.run_dir,
            model,
            optimizer,
            state,
            loader,
            source,
            prepared,
            snapshot_batch,
            events,
            metrics_file,
            snapshot_archive: std::cell::RefCell::new(snapshot_archive),
            faults: spec.faults,
        })
    }

    fn progress(&self) -> Progress {
        let spe = self.loader.steps_per_epoch;
        Progress { step: self.state.step, total_steps: self.total_steps(), epoch: self.state.step / spe, epochs: self.config.epochs, steps_per_epoch: spe }
    }

    fn total_steps(&self) -> u64 {
        let by_epochs = self.config.epochs * self.loader.steps_per_epoch;
        self.config.max_steps.map_or(by_epochs, |m| m.min(by_epochs.max(m)))
    }

    /// The learning rate of the next step: the run's, along its schedule.
    fn lr_now(&self) -> f64 {
        match &self.config.lr_schedule {
            Some(schedule) => schedule.lr_at(self.config.lr, self.state.step, self.total_steps(), self.loader.steps_per_epoch),
            None => self.config.lr,
        }
    }

    fn emit(&self, event: TrainEvent) {
        let _ = self.events.send(event);
    }

    fn train(mut self, commands: &Receiver<TrainCommand>) -> anyhow::Result<()> {
        self.emit(TrainEvent::Started {
            device: self.device.description.clone(),
            parameters: crate::nn::trainable_params(&self.model),
            progress: self.progress(),
            images: self.source.len(),
            skipped: self.source.info().skipped.clone(),
            compiles_kernels: self.device.is_gpu,
        });
        self.snapshot();
        let mut paused = false;
        let mut retry: Option<Batch> = None;
        // Training seconds: the checkpoint's, then this session's, pauses left out.
        let mut elapsed_before = self.state.history.last().map_or(0.0, |m| m.elapsed);
        let mut started = Instant::now();
        let mut throughput = 0.0f64;
        let mut last_snapshot = Instant::now();
        while self.state.step < self.total_steps() {
            // Commands first; while paused, wait for them.
            loop {
                let command = if paused {
                    match commands.recv_timeout(Duration::from_millis(200)) {
                        Ok(c) => Some(c),
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return self.finish(commands),
                    }
                } else {
                    commands.try_recv().ok()
                };
                let Some(command) = command else { break };
                match command {
                    TrainCommand::Pause => {
                        if !paused {
                            elapsed_before += started.elapsed().as_secs_f64();
                        }
                        paused = true;
                        self.emit(TrainEvent::Paused { step: self.state.step });
                    }
                    TrainCommand::Resume => {
                        if paused {
                            paused = false;
                            started = Instant::now();
                            self.emit(TrainEvent::Resumed { step: self.state.step });
                        }
                    }
                    TrainCommand::Stop => return self.finish(commands),
                    TrainCommand::SaveNow(path) => {
                        let attempted = path.is_some() || self.run_dir.is_some();
                        if self.save(path).is_none() && attempted && !paused {
                            elapsed_before += started.elapsed().as_secs_f64();
                            paused = true;
                        }
                    }
                    TrainCommand::SetHyperparameter { name, value } => self.set_hyperparameter(&name, value),
                }
            }
            if paused {
                continue;
            }
            let batch = match retry.take() {
                Some(b) => b,
                None => self.loader.next_batch().context("the batch loader stopped")?,
            };
            let step_start = Instant::now();
            if let Some((term, value)) = self.step(&batch)? {
                self.emit(TrainEvent::Diverged { step: self.state.step, term, value });
                elapsed_before += started.elapsed().as_secs_f64();
                paused = true;
                retry = Some(batch);
                continue;
            }
            let rate = batch.batch_size as f64 / step_start.elapsed().as_secs_f64().max(1e-9);
            throughput = if throughput == 0.0 { rate } else { 0.9 * throughput + 0.1 * rate };
            if let Some(last) = self.state.history.last_mut() {
                last.images_per_sec = throughput;
                last.elapsed = elapsed_before + started.elapsed().as_secs_f64();
                last.wall_time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs_f64());
                let metrics = last.clone();
                self.write_metrics(&metrics);
                self.emit(TrainEvent::Step { metrics, progress: self.progress() });
            }
            let spe = self.loader.steps_per_epoch;
            if self.state.step.is_multiple_of(self.config.snapshot_every.max(1)) || last_snapshot.elapsed() > Duration::from_secs(1) {
                self.snapshot();
                last_snapshot = Instant::now();
            }
            let every = self.config.checkpoint_every_epochs;
            if every > 0 && self.state.step.is_multiple_of(spe * every) && self.state.step < self.total_steps() && self.save(None).is_none() {
                // The weights stay in memory; the run waits for a save that works.
                elapsed_before += started.elapsed().as_secs_f64();
                paused = true;
            }
        }
        self.finish(commands)
    }

    /// One optimisation step. Returns the first non-finite term, if any, in which
    /// case the update is not applied.
    fn step(&mut self, batch: &Batch) -> anyhow::Result<Option<(String, f64)>> {
        let model_config = M::config_of(&self.config.model).context("model family mismatch")?.clone();
        let shape = [batch.batch_size, batch.channels, batch.size, batch.size];
        // An injected fault happens once: the retry of its step is clean.
        let fault = self.faults.iter().position(|f| f.step == self.state.step).map(|i| self.faults.remove(i));
        let mut images = batch.images.clone();
        if let Some(fault) = fault {
            poison_input(&mut images, fault.kind);
        }
        let guard = UpdateGuard { infinite_gradient: fault.is_some_and(|f| f.kind == FaultKind::InfiniteGradient) };
        let x = Tensor::<4>::from_data(TensorData::new(images, shape), &self.ad_device);
        let mut rng = step_rng(self.config.seed, self.state.step);
        let lr = self.lr_now();
        let input = StepInput {
            x,
            indices: &batch.indices,
            config: &model_config,
            step: self.state.step,
            lr,
            lr_factor: lr / self.config.lr,
            rng: &mut rng,
            source: &self.source,
            prepared: &self.prepared,
            guard,
        };
        // What a refused step gives back: a family with several networks may have updated
        // some before another's loss or gradients turned out not finite, and the forward
        // pass updates running statistics (batch norm, spectral norm's u) in place, inside
        // state a clone would share. `valid()` copies those out (tensors themselves are
        // shared, so it costs no copy of the weights); `train()` makes them new again.
        let last_good = (self.model.valid(), self.optimizer.clone());
        let report = match self.model.train_step(&mut self.optimizer, input) {
            Ok(report) => report,
            Err(StepError::Diverged { term, value }) => {
                self.model = last_good.0.train();
                self.optimizer = last_good.1;
                return Ok(Some((term, value)));
            }
            Err(StepError::Failed(message)) => anyhow::bail!("step {}: {message}", self.state.step),
        };
        self.state.step += 1;
        self.state.epoch = self.state.step / self.loader.steps_per_epoch;
        let hyper = self.config.model.live_hyperparameters().into_iter().map(|(name, value)| (name.to_string(), value)).collect();
        self.state.history.push(StepMetrics {
            step: self.state.step,
            epoch: self.state.epoch,
            losses: report.losses,
            schedules: report.schedules,
            hyper,
            measures: report.measures,
            lr,
            images_per_sec: 0.0,
            // Both set once the step is done (see `run`).
            elapsed: 0.0,
            wall_time: None,
        });
        Ok(None)
    }

    fn set_hyperparameter(&mut self, name: &str, value: f64) {
        let result = if name == "lr" {
            if value.is_finite() && value > 0.0 {
                self.config.lr = value;
                Ok(())
            } else {
                Err("lr must be a positive number".to_string())
            }
        } else {
            self.config.model.set_hyperparameter(name, value)
        };
        match result {
            Ok(()) => self.emit(TrainEvent::HyperparameterChanged { name: name.into(), value }),
            Err(message) => self.emit(TrainEvent::Failed { message: format!("not changed: {message}") }),
        }
    }

    fn write_metrics(&mut self, metrics: &StepMetrics) {
        use std::io::Write;
        if let Some(f) = &mut self.metrics_file {
            if let Ok(line) = serde_json::to_string(metrics) {
                let _ = writeln!(f, "{line}");
            }
        }
    }

    fn snapshot(&self) {
        self.snapshot_at(Moment::During);
    }

    fn snapshot_at(&self, moment: Moment) {
        let Ok(model_config) = M::config_of(&self.config.model).context("") else { return };
        let b = &self.snapshot_batch;
        let plain = self.device.device.clone();
        let model = self.model.valid();
        let x = Tensor::<4>::from_data(TensorData::new(b.images.clone(), [b.batch_size, b.channels, b.size, b.size]), &plain);
        let recon = model.reconstruct(x.clone(), model_config, self.state.step);
        let mut rng = step_rng(self.config.seed ^ 0x5a5a, 0);
        let extras = model.snapshot_extras(x.clone(), model_config, self.state.step, &mut rng);
        let live = ExplorableModel {
            kind: self.config.model.kind(),
            model: model.explorable(model_config, &self.prepared),
            step: self.state.step,
            seed: self.config.seed,
            origin: ModelOrigin::LiveRun(self.run_dir.clone()),
        };
        let snapshot = Snapshot { step: self.state.step, inputs: to_host_images(x), reconstructions: to_host_images(recon), extras, model: Some(live) };
        let written = self.snapshot_archive.borrow_mut().as_mut().map(|archive| archive.push(&snapshot, moment));
        if let Some(Err(e)) = written {
            // Training matters more than its pictures: say so once and stop writing them
            // ("not …": the run goes on).
            self.snapshot_archive.replace(None);
            self.emit(TrainEvent::Failed { message: format!("not keeping snapshots in the run folder any more: {e:#}") });
        }
        self.emit(TrainEvent::Snapshot(Box::new(snapshot)));
    }

    fn checkpoint_dir(&self) -> Option<PathBuf> {
        self.run_dir.as_ref().map(|d| d.join("checkpoint"))
    }

    /// Saves a checkpoint to `path`, or the run folder's; returns where it went. A save
    /// that fails (a full disk, a folder gone) is reported as [`TrainEvent::SaveFailed`] and
    /// costs nothing else: the weights stay in memory and the caller pauses the run until
    /// a save works.
    fn save(&self, path: Option<PathBuf>) -> Option<PathBuf> {
        let Some(dir) = path.or_else(|| self.checkpoint_dir()) else {
            self.emit(TrainEvent::Failed { message: "not saved: this run has no folder; choose where to save".into() });
            return None;
        };
        match checkpoint::save(&dir, &self.config, &self.model, &self.optimizer, &self.state, &self.prepared) {
            Ok(()) => {
                self.emit(TrainEvent::CheckpointSaved { path: dir.clone(), step: self.state.step });
                Some(dir)
            }
            Err(e) => {
                self.emit(TrainEvent::SaveFailed { path: dir, step: self.state.step, message: format!("{e:#}") });
                None
            }
        }
    }

    /// Ends the run with a checkpoint in its folder. If that save fails, the run waits with
    /// its weights for a save that works (`SaveNow`, to the folder or elsewhere) or a
    /// second `Stop`, which ends it unsaved.
    fn finish(self, commands: &Receiver<TrainCommand>) -> anyhow::Result<()> {
        let mut checkpoint = None;
        if self.checkpoint_dir().is_some() {
            checkpoint = self.save(None);
            while checkpoint.is_none() {
                match commands.recv() {
                    Ok(TrainCommand::SaveNow(path)) => checkpoint = self.save(path),
                    Ok(TrainCommand::Stop) | Err(_) => {
                        self.emit(TrainEvent::Failed { message: format!("not saved: stopped with the weights of step {} unsaved", self.state.step) });
                        break;
                    }
                    Ok(_) => {}
                }
            }
        }
        self.snapshot_at(Moment::Last);
        self.emit(TrainEvent::Finished { step: self.state.step, checkpoint });
        Ok(())
    }
}
