//! What every view shares: persisted settings, the current data, the training session.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};

use patchwork_core::data::{DataSpec, SharedSource, Split, embedded::EmbeddedSet, folder::{FolderSource, collect_images}};
use patchwork_core::capabilities::Capability;
use patchwork_core::device::DeviceChoice;
use patchwork_core::families::{FamilyKind, ModelConfig, Value};
use patchwork_core::train::{LrSchedule, TrainConfig};
use serde::{Deserialize, Serialize};

use super::dialogs::{self, Asked, PathPrompt, PathPurpose, PromptAnswer};
use super::images::save_grid_png;
use super::jobs::LatestJob;
use super::model_slot::{ModelSlot, shipped_offering};
use super::session::TrainingSession;
use patchwork_core::data::HostImage;

/// The learning-rate schedule as the form offers it (see `LrSchedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleChoice {
    Constant,
    Cosine,
    Step,
}

impl ScheduleChoice {
    pub const ALL: [ScheduleChoice; 3] = [ScheduleChoice::Constant, ScheduleChoice::Cosine, ScheduleChoice::Step];

    pub fn name(self) -> &'static str {
        match self {
            ScheduleChoice::Constant => "constant",
            ScheduleChoice::Cosine => "cosine",
            ScheduleChoice::Step => "step",
        }
    }
}

/// The training form, persisted between launches: the family, each family's settings as
/// last set (so switching back keeps them), and the run's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainForm {
    pub model: FamilyKind,
    /// One config per family, in the registry's order; see [`Self::config`].
    pub models: Vec<ModelConfig>,
    pub lr: f64,
    pub lr_schedule: ScheduleChoice,
    /// Where a cosine schedule ends.
    pub lr_min: f64,
    /// A step schedule's epochs between decays and its factor at each.
    pub lr_step_epochs: u64,
    pub lr_gamma: f64,
    pub epochs: u64,
    pub batch_size: usize,
    pub seed: u64,
}

impl TrainForm {
    /// The form set to `model` with `config`'s settings, the rest as by default.
    pub fn with_model(config: ModelConfig) -> Self {
        let mut form = Self::default();
        form.switch_model(config.kind());
        *form.config_mut() = config;
        form
    }

    /// The form switched to the family named `family`, with `settings` set through its
    /// table (for scripts and tests); refuses an unknown family or setting by name.
    pub fn for_family(family: &str, settings: &[(&str, Value)]) -> Result<Self, String> {
        let mut form = Self::default();
        form.switch_model(family.parse()?);
        for (name, value) in settings {
            form.config_mut().set(name, *value)?;
        }
        Ok(form)
    }

    /// The settings of `kind` as the form holds them.
    pub fn config_of(&self, kind: FamilyKind) -> ModelConfig {
        self.models.iter().find(|m| m.kind() == kind).cloned().unwrap_or_else(|| kind.default_config(1))
    }

    /// The chosen family's settings.
    pub fn config(&self) -> ModelConfig {
        self.config_of(self.model)
    }

    pub fn config_mut(&mut self) -> &mut ModelConfig {
        let kind = self.model;
        let i = match self.models.iter().position(|m| m.kind() == kind) {
            Some(i) => i,
            None => {
                self.models.push(kind.default_config(1));
                self.models.len() - 1
            }
        };
        &mut self.models[i]
    }

    /// The image size the chosen family's network sees.
    pub fn image_size(&self) -> usize {
        self.config().image_size()
    }

    /// Switches the form to `model`. A family with run settings of its own (mixing scenes:
    /// the thesis's batch of 12 references, lr_G 2e-4) brings them; back from it, the form's
    /// defaults return (its values would otherwise carry over).
    pub fn switch_model(&mut self, model: FamilyKind) {
        if self.model == model {
            return;
        }
        let (leaving, entering) = (self.model.info(), model.info());
        let defaults = Self::default();
        if entering.batch_size.is_some() || leaving.batch_size.is_some() {
            self.batch_size = entering.batch_size.unwrap_or(defaults.batch_size);
        }
        if entering.lr.is_some() || leaving.lr.is_some() {
            self.lr = entering.lr.unwrap_or(defaults.lr);
        }
        if entering.lr_schedule.is_some() || leaving.lr_schedule.is_some() {
            self.set_schedule(entering.lr_schedule);
        }
        self.model = model;
    }

    /// Shows a run's settings in the form (the Runs tab's "Train on").
    pub fn show_settings_of(&mut self, config: &TrainConfig) {
        self.model = config.model.kind();
        *self.config_mut() = config.model.clone();
        (self.lr, self.epochs, self.batch_size, self.seed) = (config.lr, config.epochs, config.batch_size, config.seed);
        self.set_schedule(config.lr_schedule);
    }

    /// Shows `schedule` in the form; the other kinds' parameters keep their values.
    fn set_schedule(&mut self, schedule: Option<LrSchedule>) {
        self.lr_schedule = match schedule {
            None => ScheduleChoice::Constant,
            Some(LrSchedule::Cosine { lr_min }) => {
                self.lr_min = lr_min;
                ScheduleChoice::Cosine
            }
            Some(LrSchedule::Step { every_epochs, gamma }) => {
                (self.lr_step_epochs, self.lr_gamma) = (every_epochs, gamma);
                ScheduleChoice::Step
            }
        };
    }

    /// The learning-rate schedule the form describes.
    pub fn schedule(&self) -> Option<LrSchedule> {
        match self.lr_schedule {
            ScheduleChoice::Constant => None,
            ScheduleChoice::Cosine => Some(LrSchedule::Cosine { lr_min: self.lr_min }),
            ScheduleChoice::Step => Some(LrSchedule::Step { every_epochs: self.lr_step_epochs, gamma: self.lr_gamma }),
        }
    }
}

impl Default for TrainForm {
    fn default() -> Self {
        Self {
            // The family a new user meets first: parts they can see.
            model: FamilyKind::ALL.iter().copied().find(|k| k.info().capabilities.contains(&patchwork_core::capabilities::Capability::Parts)).unwrap_or(FamilyKind::ALL[0]),
            models: FamilyKind::ALL.iter().map(|k| k.default_config(1)).collect(),
            lr: 1e-3,
            lr_schedule: ScheduleChoice::Constant,
            lr_min: 0.0,
            lr_step_epochs: 80,
            lr_gamma: 0.1,
            epochs: 5,
            batch_size: 64,
            seed: 42,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tab: usize,
    pub dark: bool,
    pub device: DeviceChoice,
    pub data: String,
    pub form: TrainForm,
    pub recent_runs: Vec<PathBuf>,
    /// Where runs started or resumed in the window get their folders (relative to the
    /// working directory, as the CLI's `runs/`).
    pub runs_dir: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tab: super::views::FIRST_TAB,
            dark: true,
            device: DeviceChoice::Auto,
            data: "fashion-mnist".into(),
            form: TrainForm::default(),
            recent_runs: vec![],
            runs_dir: PathBuf::from("runs"),
        }
    }
}

/// A checkpoint whose weights the runs started in the Train tab begin from (the Runs
/// tab's "Train on"; cleared in Train).
#[derive(Debug, Clone)]
pub struct StartWeights {
    pub dir: PathBuf,
    /// The step its run had reached.
    pub step: u64,
    /// Its config, as a new run from it starts (`TrainConfig::for_run_from_its_weights`):
    /// the network the form cannot change.
    pub config: TrainConfig,
}

/// The data the views work on, and a background job loading new data.
pub struct DataState {
    pub spec: String,
    pub source: Option<SharedSource>,
    pub error: Option<String>,
    pub loading: Option<Receiver<Result<(String, SharedSource), String>>>,
    /// Bumped whenever `source` changes, so cached grids rebuild.
    pub generation: u64,
}

pub struct AppState {
    pub settings: Settings,
    pub data: DataState,
    pub session: Option<TrainingSession>,
    pub start_weights: Option<StartWeights>,
    /// The model the Parts, Swap and Traverse views look into.
    pub model: ModelSlot,
    pub message: Option<String>,
    /// Files dropped on the window this frame, for the open view to take first.
    pub dropped: Vec<PathBuf>,
    /// Images sent from one view to another (the Data tab's thumbnail menu).
    pub sent_images: Vec<(super::image_drop::ImageDestination, super::image_drop::DraggedImage)>,
    /// A tab to switch to after this frame, by name.
    pub go_to: Option<&'static str>,
    /// File dialogs and exports run off the UI thread; their outcome lands here.
    dialogs: LatestJob<DialogOutcome>,
    /// The window's path field, open where no file dialog could (see `request_path`).
    pub path_prompt: Option<PathPrompt>,
}

/// What a file dialog (and the work after it) came to.
enum DialogOutcome {
    Cancelled,
    Chosen(PathPurpose, PathBuf),
    /// No dialog could open: the window asks for the path itself.
    Unavailable(PathPurpose, String),
    Message(String),
}

impl AppState {
    pub fn new(settings: Settings) -> Self {
        let spec = settings.data.clone();
        let mut state = Self {
            settings,
            data: DataState { spec: String::new(), source: None, error: None, loading: None, generation: 0 },
            session: None,
            start_weights: None,
            model: ModelSlot::default(),
            message: None,
            dropped: vec![],
            sent_images: vec![],
            go_to: None,
            dialogs: LatestJob::default(),
            path_prompt: None,
        };
        // A new user sees parts at once: the shipped model with parts loads in the background.
        if let Some((_, shipped)) = shipped_offering(Capability::Parts) {
            state.model.open(&shipped, false);
        }
        // Embedded sets open in milliseconds. Anything else (the quadrant scenes, a folder)
        // loads in the background over Fashion-MNIST, which stays if it cannot open.
        match spec.parse::<DataSpec>() {
            Ok(s @ DataSpec::Embedded(_)) => state.open_spec(&s.to_string()),
            Ok(_) => {
                state.open_spec(EmbeddedSet::FashionMnist.name());
                state.open_spec(&spec);
            }
            Err(_) => state.open_spec(EmbeddedSet::FashionMnist.name()),
        }
        state
    }

    /// Opens a data source by spec, in the background when it may be slow.
    pub fn open_spec(&mut self, spec: &str) {
        let size = self.settings.form.image_size();
        let spec_owned = spec.to_string();
        let job = move || -> Result<(String, SharedSource), String> {
            let parsed: DataSpec = spec_owned.parse().map_err(|e: patchwork_core::data::DataError| e.to_string())?;
            let source = parsed.open(Split::Train, size).map_err(|e| e.to_string())?;
            Ok((spec_owned, source))
        };
        if matches!(spec.parse::<DataSpec>(), Ok(DataSpec::Embedded(_))) {
            self.finish_loading(job());
        } else {
            let (tx, rx) = channel();
            std::thread::spawn(move || {
                let _ = tx.send(job());
            });
            self.data.loading = Some(rx);
        }
    }

    /// Opens dropped or picked files (images, or folders of them) in the background.
    pub fn open_paths(&mut self, paths: Vec<PathBuf>) {
        let size = self.settings.form.image_size();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let result = if paths.len() == 1 && paths[0].is_dir() {
                FolderSource::open(&paths[0], size).map(|s| (format!("folder:{}", paths[0].display()), s))
            } else {
                let name = format!("{} dropped file(s)", paths.len());
                let mut files = Vec::new();
                for p in &paths {
                    if p.is_dir() {
                        files.extend(collect_images(p));
                    } else {
                        files.push(p.clone());
                    }
                }
                FolderSource::from_files(&name, None, &files, size).map(|s| (name, s))
            };
            let _ = tx.send(result.map(|(n, s)| (n, std::sync::Arc::new(s) as SharedSource)).map_err(|e| e.to_string()));
        });
        self.data.loading = Some(rx);
    }

    fn finish_loading(&mut self, result: Result<(String, SharedSource), String>) {
        match result {
            Ok((spec, source)) => {
                let skipped = source.info().skipped.len();
                self.message = (skipped > 0).then(|| format!("{skipped} unreadable file(s) skipped (see the Data tab)"));
                self.data.spec = spec.clone();
                if spec.parse::<DataSpec>().is_ok() {
                    self.settings.data = spec;
                }
                self.data.source = Some(source);
                self.data.error = None;
                self.data.generation += 1;
            }
            // Bad input changes nothing but the message.
            Err(e) => self.data.error = Some(e),
        }
    }

    /// Drains background results and training events; called once per frame.
    pub fn poll(&mut self, ctx: &egui::Context) {
        if let Some(rx) = &self.data.loading {
            if let Ok(result) = rx.try_recv() {
                self.data.loading = None;
                self.finish_loading(result);
            }
        }
        self.dropped = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if let Some(session) = &mut self.session {
            session.poll();
        }
        if let Some(m) = self.model.poll(self.session.as_ref()) {
            self.message = Some(m);
        }
        match self.dialogs.poll() {
            Some(DialogOutcome::Chosen(purpose, path)) => self.use_path(purpose, path),
            Some(DialogOutcome::Unavailable(purpose, reason)) => self.path_prompt = Some(PathPrompt::new(purpose, reason)),
            Some(DialogOutcome::Message(m)) => self.message = Some(m),
            Some(DialogOutcome::Cancelled) | None => {}
        }
    }

    /// Asks for a path for `purpose` with the system's dialog, off the UI thread; where
    /// none can open, the window's own path field (see [`Self::path_prompt`]).
    pub fn request_path(&mut self, purpose: PathPurpose) {
        if self.dialogs.busy() || self.path_prompt.is_some() {
            return;
        }
        self.dialogs.request(move || match dialogs::ask(&purpose) {
            Asked::Chosen(path) => DialogOutcome::Chosen(purpose, path),
            Asked::Cancelled => DialogOutcome::Cancelled,
            Asked::Unavailable(reason) => DialogOutcome::Unavailable(purpose, reason),
        });
    }

    /// Does what a chosen path was asked for.
    pub fn use_path(&mut self, purpose: PathPurpose, path: PathBuf) {
        match purpose {
            PathPurpose::OpenCheckpoint => self.open_checkpoint(&path),
            PathPurpose::OpenDataFolder => self.open_paths(vec![path]),
            PathPurpose::OpenReferencePool => self.request_path(PathPurpose::OpenUnlabelledPool { reference: path }),
            PathPurpose::OpenUnlabelledPool { reference } => self.open_spec(&format!("pools:folder:{}|folder:{}", reference.display(), path.display())),
            PathPurpose::SaveRunTo => {
                if let Some(session) = &self.session {
                    session.send(patchwork_core::train::TrainCommand::SaveNow(Some(path.clone())));
                    self.remember_recent(path);
                }
            }
            PathPurpose::RunsFolder => self.settings.runs_dir = path,
            PathPurpose::ExportPng { images, columns, .. } => self.dialogs.request(move || match save_grid_png(&images, columns, &path) {
                Ok(()) => DialogOutcome::Message(format!("saved {}", path.display())),
                Err(e) => DialogOutcome::Message(format!("not saved: {e:#}")),
            }),
            PathPurpose::ExportText { text, .. } => self.dialogs.request(move || match patchwork_core::atomic::write_file_atomically(&path, text.as_bytes()) {
                Ok(()) => DialogOutcome::Message(format!("saved {}", path.display())),
                Err(e) => DialogOutcome::Message(format!("not saved: {e:#}")),
            }),
            PathPurpose::ExportLabelled(export) => self.dialogs.request(move || {
                let written = patchwork_core::analysis::split::labelled_samples(&export.model, &export.source, export.per_class, export.seed)
                    .map_err(|e| anyhow::anyhow!(e))
                    .and_then(|samples| patchwork_core::data::folder::write_class_folders(&path, &export.source.info().class_names, &samples));
                DialogOutcome::Message(match written {
                    Ok(n) => format!("wrote {n} labelled images to {} (open it as data: it has one folder per class)", path.display()),
                    Err(e) => format!("not written: {e:#}"),
                })
            }),
        }
    }

    /// The path field where no file dialog could open; call once per frame.
    pub fn path_prompt_ui(&mut self, ctx: &egui::Context) {
        let Some(prompt) = &mut self.path_prompt else { return };
        match dialogs::prompt_ui(ctx, prompt) {
            PromptAnswer::Waiting => {}
            PromptAnswer::Cancelled => self.path_prompt = None,
            PromptAnswer::Path(path) => {
                if let Some(prompt) = self.path_prompt.take() {
                    self.use_path(prompt.purpose, path);
                }
            }
        }
    }

    /// Sends an image to another view and opens it there.
    pub fn send_image(&mut self, to: super::image_drop::ImageDestination, image: super::image_drop::DraggedImage) {
        self.sent_images.push((to, image));
        self.go_to = Some(to.view());
    }

    /// The images sent to `to`, taken.
    pub fn take_sent(&mut self, to: super::image_drop::ImageDestination) -> Vec<super::image_drop::DraggedImage> {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.sent_images).into_iter().partition(|(d, _)| *d == to);
        self.sent_images = rest;
        mine.into_iter().map(|(_, i)| i).collect()
    }

    /// Opens a checkpoint for the explorer's views and remembers it among recent files.
    pub fn open_checkpoint(&mut self, dir: &std::path::Path) {
        self.model.open(dir, true);
        // A run's checkpoint is listed as its run (which also has the metrics).
        let run = dir.parent().filter(|p| dir.file_name().is_some_and(|n| n == "checkpoint") && p.join(patchwork_core::train::METRICS_FILE).is_file());
        self.remember_recent(run.unwrap_or(dir).to_path_buf());
    }

    /// A folder for a new run in the runs folder: `name`, or `name-2`, `name-3`… when taken
    /// (two runs can start within the same second).
    pub fn new_run_dir(&self, name: &str) -> PathBuf {
        let candidate = |n: u32| self.settings.runs_dir.join(if n == 1 { name.to_string() } else { format!("{name}-{n}") });
        (1..).map(candidate).find(|dir| !dir.exists()).unwrap_or_else(|| self.settings.runs_dir.join(name))
    }

    /// A new run's folder name: its family, its data and when it started (UTC), as
    /// `patchvae-fashion-mnist-20261207-012335`, so a list of runs says what each is.
    pub fn run_name(kind: &str, data: &str, unix_secs: u64) -> String {
        // A folder's own name stands for it; other specs lose what a file name cannot hold.
        let data = match data.split_once(':') {
            Some(("folder" | "idx" | "cifar", path)) => std::path::Path::new(path).file_name().map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned()),
            _ => data.to_string(),
        };
        let data: String = data.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
        let (days, secs) = (unix_secs / 86_400, unix_secs % 86_400);
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        format!("{kind}-{data}-{year:04}{month:02}{day:02}-{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    }

    pub fn remember_recent(&mut self, path: PathBuf) {
        self.settings.recent_runs.retain(|r| r != &path);
        self.settings.recent_runs.insert(0, path);
        self.settings.recent_runs.truncate(10);
    }

    /// Asks for a checkpoint folder (Ctrl+O) without blocking the UI.
    pub fn pick_checkpoint(&mut self) {
        self.request_path(PathPurpose::OpenCheckpoint);
    }

    /// Asks for a folder to save the run in progress to.
    pub fn pick_save_folder(&mut self) {
        self.request_path(PathPurpose::SaveRunTo);
    }

    /// Asks for the folder new runs get their folders in.
    pub fn pick_runs_folder(&mut self) {
        self.request_path(PathPurpose::RunsFolder);
    }

    /// Asks where to save `images` as a PNG grid, then saves it; the outcome shows in the
    /// status line.
    pub fn export_png(&mut self, images: Vec<HostImage>, columns: usize, suggested: &str) {
        self.request_path(PathPurpose::ExportPng { images, columns, suggested: suggested.to_string() });
    }

    /// Asks for a folder, then writes new labelled images into it (see `LabelledExport`).
    pub fn export_labelled(&mut self, export: super::dialogs::LabelledExport) {
        self.request_path(PathPurpose::ExportLabelled(export));
    }

    /// Asks where to save text (CSV), then writes it atomically.
    pub fn export_text(&mut self, text: String, suggested: &str, filter: (&'static str, &'static str)) {
        self.request_path(PathPurpose::ExportText { text, suggested: suggested.to_string(), filter });
    }

    pub fn busy(&self) -> bool {
        self.data.loading.is_some() || self.session.as_ref().is_some_and(|s| s.is_active()) || self.model.is_loading() || self.dialogs.busy()
    }

    pub fn status_line(&self) -> String {
        let mut parts = vec![];
        match &self.session {
            Some(s) => parts.push(format!("{} | {}", s.device, s.status_text())),
            None => parts.push(format!("device: {} (chosen when training starts)", self.settings.device)),
        }
        if let Some(src) = &self.data.source {
            parts.push(format!("data: {} ({} images)", src.info().name, src.len()));
        }
        if self.data.loading.is_some() {
            parts.push("loading data…".into());
        }
        parts.push(format!("model: {}", self.model.describe()));
        if let Some(m) = &self.message {
            parts.push(m.clone());
        }
        parts.join("   •   ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_model_applies_each_familys_defaults_and_back() {
        let kind = |name: &str| name.parse::<FamilyKind>().unwrap();
        let mut form = TrainForm { batch_size: 100, ..TrainForm::default() };
        form.switch_model(kind("beta-vae"));
        assert_eq!((form.batch_size, form.image_size()), (100, 32), "a switch between the VAE families keeps the user's values");
        form.switch_model(kind("mixing-scenes"));
        assert_eq!((form.model, form.batch_size, form.lr, form.image_size()), (kind("mixing-scenes"), 12, 2e-4, 64));
        form.switch_model(kind("patchvae"));
        let defaults = TrainForm::default();
        assert_eq!((form.model, form.batch_size, form.lr, form.image_size()), (kind("patchvae"), defaults.batch_size, defaults.lr, 32));
        // The cycle-consistent VAE brings its code's StepLR; leaving it, the schedule is constant again.
        form.switch_model(kind("cycle-vae"));
        assert_eq!((form.lr, form.schedule()), (1e-4, Some(LrSchedule::Step { every_epochs: 80, gamma: 0.1 })));
        form.switch_model(kind("beta-vae"));
        assert_eq!(form.schedule(), None);
    }

    #[test]
    fn runs_are_named_by_family_data_and_start_time() {
        // 2026-12-07 01:23:35 UTC.
        let t = 1_796_606_615;
        assert_eq!(AppState::run_name("patchvae", "fashion-mnist", t), "patchvae-fashion-mnist-20261207-012335");
        assert_eq!(AppState::run_name("beta-vae", "folder:/home/me/My photos", t), "beta-vae-My-photos-20261207-012335");
        assert_eq!(AppState::run_name("mixing-scenes", "scenes:64", 951_782_400), "mixing-scenes-scenes-64-20000229-000000");
    }

    #[test]
    fn settings_of_an_older_version_load_with_the_form_reset() {
        // Before forms were typed, the form held every family's fields as strings.
        let old = r#"{"tab":3,"dark":false,"form":{"model":"beta-vae","arch":"mlp","latent":2,"sampling":"hard","lr_schedule":"cosine","lr_min":1e-5,"batch_size":20}}"#;
        let settings: Settings = serde_json::from_str(old).unwrap();
        assert_eq!((settings.tab, settings.form.model.name(), settings.form.batch_size), (3, "beta-vae", 20));
        assert_eq!(settings.form.lr_schedule, ScheduleChoice::Cosine);
        assert_eq!(settings.form.config(), FamilyKind::ALL[0].default_config(1));
    }
}
