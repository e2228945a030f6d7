//! The explorer window. One module per view, all implementing [`View`]; shared state in
//! [`state::AppState`]. Training runs on its own thread; views only read what its
//! typed events delivered, so nothing here waits on the model.

pub mod bench;
pub mod dialogs;
pub mod frame_log;
pub mod image_drop;
pub mod images;
pub mod jobs;
pub mod model_slot;
pub mod session;
pub mod snapshot_scrubber;
pub mod state;
pub mod views;
pub mod wipe;

use patchwork_core::device::DeviceChoice;

pub use state::AppState;

/// A tab of the explorer.
pub trait View {
    fn name(&self) -> &'static str;
    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState);
    /// The concrete view, for tests and for views that drive each other.
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
    /// Files dropped on the window while this view is open, with the pointer position if
    /// known. Returns true if the view took them; otherwise they open as data.
    fn on_dropped(&mut self, _paths: &[std::path::PathBuf], _pointer: Option<egui::Pos2>, _state: &mut AppState) -> bool {
        false
    }
}

pub struct PatchworkApp {
    pub state: AppState,
    pub views: Vec<Box<dyn View>>,
    /// Frame times to a file, when asked for (see [`frame_log`]).
    frame_log: Option<frame_log::FrameLog>,
}

const STORAGE_KEY: &str = "patchwork-settings";

impl PatchworkApp {
    pub fn new(cc: &eframe::CreationContext<'_>, device: DeviceChoice) -> Self {
        let settings = cc.storage.and_then(|s| eframe::get_value::<state::Settings>(s, STORAGE_KEY));
        Self::with_settings(settings, device)
    }

    /// An app with the given persisted settings (or defaults); used by tests too.
    pub fn with_settings(settings: Option<state::Settings>, device: DeviceChoice) -> Self {
        let mut settings = settings.unwrap_or_default();
        if device != DeviceChoice::Auto {
            settings.device = device;
        }
        Self { state: AppState::new(settings), views: views::all(), frame_log: None }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        // Asked before `ctx.input`: egui's context lock is not re-entrant, so a `ctx` call
        // inside an `input` closure deadlocks the UI thread (the first Space press froze
        // the window for good). Only typing into a text field (a value being edited
        // included) keeps Space: `egui_wants_keyboard_input` is true for any focused
        // widget, such as the control last clicked, which would swallow the shortcut.
        let typing = ctx.text_edit_focused();
        let focused = ctx.memory(|m| m.focused());
        let (space, save, open) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::Space) && !typing,
                i.modifiers.command && i.key_pressed(egui::Key::S),
                i.modifiers.command && i.key_pressed(egui::Key::O),
            )
        });
        if let (true, Some(id)) = (space, focused) {
            // Space is the pause key: the control last clicked (a checkbox, a drop-down)
            // does not also take it as a press.
            ctx.memory_mut(|m| m.surrender_focus(id));
        }
        if open {
            self.state.pick_checkpoint();
        }
        if let Some(session) = &mut self.state.session {
            if space {
                session.toggle_pause();
            }
            if save {
                session.save_now();
            }
        }
    }

    /// Everything shown in one frame.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ctx.set_theme(if self.state.settings.dark { egui::Theme::Dark } else { egui::Theme::Light });
        self.state.poll(&ctx);
        self.shortcuts(&ctx);
        let tab = self.state.settings.tab.min(self.views.len() - 1);
        let dropped = std::mem::take(&mut self.state.dropped);
        if !dropped.is_empty() {
            let pointer = ctx.pointer_latest_pos();
            if !self.views[tab].on_dropped(&dropped, pointer, &mut self.state) {
                self.state.open_paths(dropped);
            }
        }
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Patchwork");
                ui.separator();
                for (i, view) in self.views.iter().enumerate() {
                    ui.selectable_value(&mut self.state.settings.tab, i, view.name());
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let label = if self.state.settings.dark { "Light theme" } else { "Dark theme" };
                    if ui.button(label).clicked() {
                        self.state.settings.dark = !self.state.settings.dark;
                    }
                });
            });
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(self.state.status_line());
            });
        });
        let tab = self.state.settings.tab.min(self.views.len() - 1);
        egui::CentralPanel::default().show(ui, |ui| {
            self.views[tab].ui(ui, &mut self.state);
        });
        self.state.path_prompt_ui(&ctx);
        if let Some(name) = self.state.go_to.take() {
            if let Some(i) = self.views.iter().position(|v| v.name() == name) {
                self.state.settings.tab = i;
                ctx.request_repaint();
            }
        }
        if self.state.busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}

impl eframe::App for PatchworkApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        if let Some(log) = &mut self.frame_log {
            log.record(frame.info().cpu_usage);
        }
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.state.settings);
    }
}

static TRAINING_THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Leaves the UI a core: the GUI's CPU training runs compute in a pool of `threads`
/// threads, by default one fewer than the machine has, while the explorer's requests keep
/// rayon's global pool of every core (`RAYON_NUM_THREADS` sizes that one). The first call wins.
pub fn set_training_threads(threads: Option<usize>) {
    let _ = TRAINING_THREADS.set(training_threads_for(threads));
}

/// Threads of the GUI's CPU training runs (see [`set_training_threads`]).
pub fn training_threads() -> usize {
    *TRAINING_THREADS.get_or_init(|| training_threads_for(None))
}

fn training_threads_for(threads: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    threads.unwrap_or(cores.saturating_sub(1)).max(1)
}

/// Opens the window.
pub fn run_native(device: DeviceChoice) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 820.0]).with_title("Patchwork").with_drag_and_drop(true),
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native("Patchwork", options, Box::new(move |cc| {
        let mut app = PatchworkApp::new(cc, device);
        app.frame_log = frame_log::FrameLog::from_env();
        Ok(Box::new(app))
    }))
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
