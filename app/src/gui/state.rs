//! What every view shares: persisted settings, the current data, the training session.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};

use patchwork_core::data::{DataSpec, SharedSource, Split, embedded::EmbeddedSet, folder::{FolderSource, collect_images}};
use patchwork_core::device::DeviceChoice;
use patchwork_core::models::ModelConfig;
use patchwork_core::train::{LrSchedule, TrainConfig};
use serde::{Deserialize, Serialize};

use super::images::save_grid_png;
use super::jobs::LatestJob;
use super::model_slot::{ModelSlot, shipped_checkpoint};
use super::session::TrainingSession;
use patchwork_core::data::HostImage;

/// The training form, persisted between launches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainForm {
    /// "beta-vae", "patchvae" or "mixing-scenes".
    pub model: String,
    pub arch: String,
    pub latent: usize,
    pub beta: f64,
    pub lr: f64,
    /// "constant" or "cosine" (see `LrSchedule`).
    pub lr_schedule: String,
    /// Where a cosine schedule ends.
    pub lr_min: f64,
    pub epochs: u64,
    pub batch_size: usize,
    pub image_size: usize,
    pub seed: u64,
    pub parts: usize,
    pub part_dim: usize,
    pub beta_occ: f64,
    pub beta_app: f64,
    /// "bernoulli", "categorical" or "hard".
    pub sampling: String,
    pub weighted: bool,
    pub gan: bool,
    /// mixing-scenes: "small" or "full".
    pub preset: String,
    pub lambda_rec: f64,
    pub lambda_adv: f64,
    pub lambda_cls: f64,
    pub use_rec: bool,
    pub use_adv: bool,
    pub use_cls: bool,
    /// mixing-scenes: iterations of reconstruction alone before the judges start.
    pub rec_warmup: u64,
    /// mixing-scenes: weight of the collage term in warm-up steps (0: off, the thesis).
    pub warmup_collage: f64,
}

impl TrainForm {
    /// Switches the form to `model`, with the settings its family trains with by default:
    /// mixing scenes the thesis's batch of 12 references, lr_G 2e-4 and 64×64 scenes; back
    /// from it, the other families' defaults (which its values would otherwise carry over).
    pub fn switch_model(&mut self, model: &str) {
        if self.model == model {
            return;
        }
        let leaving_mixing = self.model == "mixing-scenes";
        self.model = model.to_string();
        if model == "mixing-scenes" {
            (self.batch_size, self.lr, self.image_size) = (12, 2e-4, 64);
        } else if leaving_mixing {
            let defaults = Self::default();
            (self.batch_size, self.lr, self.image_size) = (defaults.batch_size, defaults.lr, defaults.image_size);
        }
    }

    /// Shows a run's settings in the form (the Runs tab's "Train on").
    pub fn show_settings_of(&mut self, config: &TrainConfig) {
        self.model = config.model.kind().to_string();
        (self.lr, self.epochs, self.batch_size, self.seed) = (config.lr, config.epochs, config.batch_size, config.seed);
        (self.lr_schedule, self.lr_min) = match config.lr_schedule {
            Some(LrSchedule::Cosine { lr_min }) => ("cosine".into(), lr_min),
            None => ("constant".into(), 0.0),
        };
        match &config.model {
            ModelConfig::BetaVae(c) => {
                self.arch = setting_name(&c.arch);
                (self.latent, self.beta, self.image_size, self.weighted) = (c.latent, c.beta, c.image_size, c.weighted_loss);
            }
            ModelConfig::PatchVae(c) => {
                (self.parts, self.part_dim, self.beta_occ, self.beta_app) = (c.parts, c.part_dim, c.beta_occ, c.beta_app);
                self.sampling = setting_name(&c.sampling);
                (self.weighted, self.gan, self.image_size) = (c.weighted_loss, c.gan.is_some(), c.image_size);
            }
            ModelConfig::MixingScenes(c) => {
                self.preset = setting_name(&c.preset);
                (self.lambda_rec, self.lambda_adv, self.lambda_cls) = (c.lambda_rec, c.lambda_adv, c.lambda_cls);
                (self.use_rec, self.use_adv, self.use_cls) = (c.use_rec, c.use_adv, c.use_cls);
                (self.rec_warmup, self.warmup_collage) = (c.rec_warmup.unwrap_or(0), c.warmup_collage.unwrap_or(0.0));
                self.image_size = c.image_size;
            }
        }
    }

    /// mixing-scenes: the warm-up steps a run from this form gets — none where the field is
    /// 0 or greyed out (without the reconstruction term).
    pub fn applied_warmup(&self) -> Option<u64> {
        (self.use_rec && self.rec_warmup > 0).then_some(self.rec_warmup)
    }
}

/// A setting's name as the form (and the CLI, and config.json) spells it: its serde name.
fn setting_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

impl Default for TrainForm {
    fn default() -> Self {
        Self {
            model: "patchvae".into(),
            arch: "resnet9".into(),
            latent: 10,
            beta: 4.0,
            lr: 1e-3,
            lr_schedule: "constant".into(),
            lr_min: 0.0,
            epochs: 5,
            batch_size: 64,
            image_size: 32,
            seed: 42,
            parts: 16,
            part_dim: 6,
            beta_occ: 10.0,
            beta_app: 1.0,
            sampling: "bernoulli".into(),
            weighted: false,
            gan: false,
            preset: "small".into(),
            lambda_rec: 0.904,
            lambda_adv: 0.052,
            lambda_cls: 0.044,
            use_rec: true,
            use_adv: true,
            use_cls: true,
            rec_warmup: 0,
            warmup_collage: 0.0,
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
}

/// What a file dialog (and the work after it) came to.
enum DialogOutcome {
    Cancelled,
    OpenCheckpoint(PathBuf),
    SaveRunTo(PathBuf),
    RunsFolder(PathBuf),
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
        };
        // A new user sees parts at once: the shipped PatchVAE loads in the background.
        let shipped = shipped_checkpoint("patchvae");
        if shipped.is_dir() {
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
        let size = self.settings.form.image_size;
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
        let size = self.settings.form.image_size;
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
            Some(DialogOutcome::OpenCheckpoint(dir)) => self.open_checkpoint(&dir),
            Some(DialogOutcome::Message(m)) => self.message = Some(m),
            Some(DialogOutcome::SaveRunTo(dir)) => {
                if let Some(session) = &self.session {
                    session.send(patchwork_core::train::TrainCommand::SaveNow(Some(dir.clone())));
                    self.remember_recent(dir);
                }
            }
            Some(DialogOutcome::RunsFolder(dir)) => self.settings.runs_dir = dir,
            Some(DialogOutcome::Cancelled) | None => {}
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

    pub fn remember_recent(&mut self, path: PathBuf) {
        self.settings.recent_runs.retain(|r| r != &path);
        self.settings.recent_runs.insert(0, path);
        self.settings.recent_runs.truncate(10);
    }

    /// Asks for a checkpoint folder (Ctrl+O) without blocking the UI.
    pub fn pick_checkpoint(&mut self) {
        if self.dialogs.busy() {
            return;
        }
        self.dialogs.request(|| match rfd::FileDialog::new().set_title("Open a checkpoint folder").pick_folder() {
            Some(dir) => DialogOutcome::OpenCheckpoint(dir),
            None => DialogOutcome::Cancelled,
        });
    }

    /// Asks for a folder to save the run in progress to.
    pub fn pick_save_folder(&mut self) {
        self.dialogs.request(|| match rfd::FileDialog::new().set_title("Save the run's checkpoint to a folder").pick_folder() {
            Some(dir) => DialogOutcome::SaveRunTo(dir),
            None => DialogOutcome::Cancelled,
        });
    }

    /// Asks for the folder new runs get their folders in.
    pub fn pick_runs_folder(&mut self) {
        self.dialogs.request(|| match rfd::FileDialog::new().set_title("Folder for new runs").pick_folder() {
            Some(dir) => DialogOutcome::RunsFolder(dir),
            None => DialogOutcome::Cancelled,
        });
    }

    /// Asks where to save `images` as a PNG grid, then saves it; the outcome shows in the
    /// status line.
    pub fn export_png(&mut self, images: Vec<HostImage>, columns: usize, suggested: &str) {
        let suggested = suggested.to_string();
        self.dialogs.request(move || {
            let Some(path) = rfd::FileDialog::new().set_title("Export PNG").set_file_name(&suggested).add_filter("PNG", &["png"]).save_file() else {
                return DialogOutcome::Cancelled;
            };
            match save_grid_png(&images, columns, &path) {
                Ok(()) => DialogOutcome::Message(format!("saved {}", path.display())),
                Err(e) => DialogOutcome::Message(format!("not saved: {e:#}")),
            }
        });
    }

    /// Asks where to save text (CSV), then writes it atomically.
    pub fn export_text(&mut self, text: String, suggested: &str, filter: (&'static str, &'static str)) {
        let suggested = suggested.to_string();
        self.dialogs.request(move || {
            let Some(path) = rfd::FileDialog::new().set_title("Export").set_file_name(&suggested).add_filter(filter.0, &[filter.1]).save_file() else {
                return DialogOutcome::Cancelled;
            };
            match patchwork_core::atomic::write_file_atomically(&path, text.as_bytes()) {
                Ok(()) => DialogOutcome::Message(format!("saved {}", path.display())),
                Err(e) => DialogOutcome::Message(format!("not saved: {e:#}")),
            }
        });
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
        let mut form = TrainForm { batch_size: 100, ..TrainForm::default() };
        form.switch_model("beta-vae");
        assert_eq!((form.batch_size, form.image_size), (100, 32), "a switch between the VAE families keeps the user's values");
        form.switch_model("mixing-scenes");
        assert_eq!((form.model.as_str(), form.batch_size, form.lr, form.image_size), ("mixing-scenes", 12, 2e-4, 64));
        form.switch_model("patchvae");
        let defaults = TrainForm::default();
        assert_eq!((form.model.as_str(), form.batch_size, form.lr, form.image_size), ("patchvae", defaults.batch_size, defaults.lr, defaults.image_size));
    }
}
