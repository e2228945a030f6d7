//! File dialogs off the UI thread, and what the window does where none can open (no
//! desktop portal on the session bus and no zenity, as on a bare X server or over SSH): it
//! says so and asks for the path in a field instead of doing nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use patchwork_core::data::HostImage;

/// What a chosen path is for.
#[derive(Debug, Clone)]
pub enum PathPurpose {
    OpenCheckpoint,
    OpenDataFolder,
    /// The reference pool's folder of two pools; the unlabelled pool's is asked next.
    OpenReferencePool,
    /// The unlabelled pool's folder, with the reference pool's chosen before.
    OpenUnlabelledPool { reference: PathBuf },
    SaveRunTo,
    RunsFolder,
    ExportPng { images: Vec<HostImage>, columns: usize, suggested: String },
    ExportText { text: String, suggested: String, filter: (&'static str, &'static str) },
    /// A folder for new labelled images of a split model (the Factor swap tab's sampling).
    ExportLabelled(LabelledExport),
}

/// What "Export labelled…" makes once it has its folder: `per_class` new images of each
/// class of `source`, from `model`.
#[derive(Clone)]
pub struct LabelledExport {
    pub model: patchwork_core::analysis::explorable::ExplorableModel,
    pub source: patchwork_core::data::SharedSource,
    pub per_class: usize,
    pub seed: u64,
}

impl std::fmt::Debug for LabelledExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LabelledExport({} of each class of {})", self.per_class, self.source.info().name)
    }
}

impl PathPurpose {
    pub fn title(&self) -> &'static str {
        match self {
            PathPurpose::OpenCheckpoint => "Open a checkpoint folder",
            PathPurpose::OpenDataFolder => "Open an image folder",
            PathPurpose::OpenReferencePool => "Two pools, 1 of 2: the reference folder (the target factors constant: neutral faces, plain digits)",
            PathPurpose::OpenUnlabelledPool { .. } => "Two pools, 2 of 2: the unlabelled folder (the factors varying)",
            PathPurpose::SaveRunTo => "Save the run's checkpoint to a folder",
            PathPurpose::RunsFolder => "Folder for new runs",
            PathPurpose::ExportPng { .. } => "Export PNG",
            PathPurpose::ExportText { .. } => "Export",
            PathPurpose::ExportLabelled(_) => "A new or empty folder for the labelled images (one sub-folder per class)",
        }
    }

    /// Whether the path names a file to write (else a folder to use).
    pub fn saves_a_file(&self) -> bool {
        matches!(self, PathPurpose::ExportPng { .. } | PathPurpose::ExportText { .. })
    }

    /// What the path field starts with: the suggested file name, or nothing.
    pub fn suggested(&self) -> String {
        match self {
            PathPurpose::ExportPng { suggested, .. } | PathPurpose::ExportText { suggested, .. } => suggested.clone(),
            _ => String::new(),
        }
    }
}

/// How asking the system's dialog went.
#[derive(Debug)]
pub enum Asked {
    Chosen(PathBuf),
    Cancelled,
    /// No dialog could open, and why.
    Unavailable(String),
}

/// Why no file dialog can open here, if that is known before trying: rfd asks the
/// desktop portal over the D-Bus session bus, then falls back to zenity.
/// `PATCHWORK_FILE_DIALOG=off` asks for the path field always.
fn unavailable_reason() -> Option<String> {
    if std::env::var_os("PATCHWORK_FILE_DIALOG").is_some_and(|v| v == "off") {
        return Some("file dialogs are off (PATCHWORK_FILE_DIALOG=off)".to_string());
    }
    let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() || std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| Path::new(&dir).join("bus").exists());
    let zenity = std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("zenity").is_file()));
    (!bus && !zenity).then(|| "no file dialog can open here (no desktop portal on a D-Bus session, no zenity)".to_string())
}

/// A dialog that comes back empty faster than a person can cancel it did not open.
const NOT_SHOWN: Duration = Duration::from_millis(150);

/// Runs the system's dialog for `purpose` (blocking: call it off the UI thread).
pub fn ask(purpose: &PathPurpose) -> Asked {
    if let Some(reason) = unavailable_reason() {
        return Asked::Unavailable(reason);
    }
    let dialog = rfd::FileDialog::new().set_title(purpose.title());
    let start = Instant::now();
    let chosen = match purpose {
        PathPurpose::ExportPng { suggested, .. } => dialog.set_file_name(suggested).add_filter("PNG", &["png"]).save_file(),
        PathPurpose::ExportText { suggested, filter, .. } => dialog.set_file_name(suggested).add_filter(filter.0, &[filter.1]).save_file(),
        _ => dialog.pick_folder(),
    };
    match chosen {
        Some(path) => Asked::Chosen(path),
        None if start.elapsed() < NOT_SHOWN => Asked::Unavailable("the file dialog did not open".to_string()),
        None => Asked::Cancelled,
    }
}

/// The window's own path field, shown where the system's dialog could not open.
#[derive(Debug, Clone)]
pub struct PathPrompt {
    pub purpose: PathPurpose,
    pub text: String,
    pub reason: String,
}

impl PathPrompt {
    pub fn new(purpose: PathPurpose, reason: String) -> Self {
        Self { text: purpose.suggested(), purpose, reason }
    }
}

/// What the person did with the path field this frame.
pub enum PromptAnswer {
    Waiting,
    Cancelled,
    Path(PathBuf),
}

/// The path field as a small window: the reason, the field (Enter takes it), Open/Save
/// and Cancel.
pub fn prompt_ui(ctx: &egui::Context, prompt: &mut PathPrompt) -> PromptAnswer {
    let mut answer = PromptAnswer::Waiting;
    egui::Window::new(prompt.purpose.title()).collapsible(false).resizable(false).anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0]).show(ctx, |ui| {
        ui.label(format!("{}: type the path instead.", capitalised(&prompt.reason)));
        let field = ui.add(egui::TextEdit::singleline(&mut prompt.text).hint_text(if prompt.purpose.saves_a_file() { "/path/to/file" } else { "/path/to/folder" }).desired_width(420.0));
        if !field.has_focus() && prompt.text.is_empty() {
            field.request_focus();
        }
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.horizontal(|ui| {
            let take = if prompt.purpose.saves_a_file() { "Save" } else { "Open" };
            if (ui.add_enabled(!prompt.text.trim().is_empty(), egui::Button::new(take)).clicked() || entered) && !prompt.text.trim().is_empty() {
                answer = PromptAnswer::Path(PathBuf::from(prompt.text.trim()));
            }
            if ui.button("Cancel").clicked() {
                answer = PromptAnswer::Cancelled;
            }
        });
    });
    answer
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |first| first.to_uppercase().chain(chars).collect())
}
