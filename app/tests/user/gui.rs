//! The explorer driven as a person would: clicks and dropped files, asserting on state.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable, by};
use patchwork::gui::PatchworkApp;
use patchwork::gui::session::RunStatus;
use patchwork::gui::state::TrainForm;
use patchwork::gui::views::parts::PartsView;
use patchwork::gui::views::runs::RunsView;
use patchwork::gui::views::swap::SwapView;
use patchwork::gui::views::traverse::TraverseView;
use patchwork_core::device::DeviceChoice;
use patchwork_core::families::Value;

#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn form(family: &str, settings: &[(&str, Value)]) -> TrainForm {
    TrainForm::for_family(family, settings).unwrap()
}

/// The shipped PatchVAE's checkpoint files copied into `dir`: a model of the user's, which
/// the views do not swap for another shipped one.
fn copy_of_shipped_patchvae(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    for file in ["config.json", "model.bpk", "state.json"] {
        std::fs::copy(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/patchvae-fashion-mnist").join(file), dir.join(file)).unwrap();
    }
}

fn harness() -> Harness<'static, PatchworkApp> {
    let app = PatchworkApp::with_settings(None, DeviceChoice::Cpu);
    Harness::builder().with_size(egui::vec2(1280.0, 820.0)).build_ui_state(|ui, app: &mut PatchworkApp| app.frame_ui(ui), app)
}

/// Trains a run into `out` with `patchwork train ARGS --device cpu`, as a user would first.
fn train_with_the_cli(out: &std::path::Path, args: &[&str]) {
    let trained = std::process::Command::new(env!("CARGO_BIN_EXE_patchwork")).arg("train").args(args).args(["--device", "cpu", "--out"]).arg(out).output().unwrap();
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
}

/// Steps frames until `done` holds, or fails after `timeout`.
fn step_until(h: &mut Harness<'static, PatchworkApp>, timeout: Duration, what: &str, done: impl Fn(&PatchworkApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}: {}", h.state().state.status_line());
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn opens_on_fashion_mnist_then_trains_pauses_and_resumes() {
    let mut h = harness();
    h.run_steps(2);
    let source = h.state().state.data.source.clone().expect("embedded data opens at start");
    assert_eq!((source.info().name.as_str(), source.len()), ("fashion-mnist", 10_000));
    h.get_by_label("Train").click();
    h.run_steps(2);
    h.state_mut().state.settings.form = TrainForm { batch_size: 16, epochs: 1, ..form("patchvae", &[("parts", Value::Count(4)), ("part_dim", Value::Count(2))]) };
    let runs = tempfile::tempdir().unwrap();
    h.state_mut().state.settings.runs_dir = runs.path().to_path_buf();
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(120), "training steps", |a| a.state.session.as_ref().is_some_and(|s| s.history.len() >= 3));
    let session = h.state().state.session.as_ref().unwrap();
    assert!(session.device.contains("flex"), "{}", session.device);
    // Parts follows the run: its occurrence maps come from the live weights, re-analysed
    // as new snapshots arrive.
    h.get_by_label("Parts").click();
    let start = Instant::now();
    let mut steps_seen = vec![];
    while steps_seen.len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(120), "Parts did not follow the run: {steps_seen:?}");
        h.step();
        if let Some(r) = &parts_view(&mut h).result {
            if r.model.contains("live run") && r.parts() == 4 && steps_seen.last() != Some(&r.model_generation) {
                steps_seen.push(r.model_generation);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    h.get_by_label("Train").click();
    h.run_steps(1);
    // The plots over time, on a log x axis.
    h.get_by_label("time").click();
    h.get_by_label("log x").click();
    h.run_steps(2);
    let train: &mut patchwork::gui::views::train::TrainView = view(&mut h, "Train");
    assert_eq!((train.x_axis, train.log_x), (patchwork::gui::views::train::XAxis::Minutes, true));
    // The loss plot as drawn, as a vector image: a curve per loss on the log-time axis.
    let svg = export_through_the_path_field(&mut h, "Export losses SVG…", &runs.path().join("losses.svg"));
    assert!(svg.starts_with("<svg") && svg.contains("log10 minutes of training"), "{}", &svg[..svg.len().min(300)]);
    assert!(svg.matches("<polyline").count() >= 3, "the loss and its terms");
    // The clock-time axis: every step of this run has its time, and log x is off there.
    h.get_by_label("wall").click();
    h.run_steps(2);
    assert_eq!(view::<patchwork::gui::views::train::TrainView>(&mut h, "Train").x_axis, patchwork::gui::views::train::XAxis::WallClock);
    assert!(h.state().state.session.as_ref().unwrap().history.iter().all(|m| m.wall_time.is_some()));
    assert!(h.get_by_label("log x").accesskit_node().is_disabled());
    h.get_by_label("time").click();
    h.get_by_label("step").click();
    h.get_by_label("log x").click();
    h.run_steps(1);
    h.get_by_label("Pause").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(60), "pause", |a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Paused));
    let steps = h.state().state.session.as_ref().unwrap().history.len();
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(2);
    assert_eq!(h.state().state.session.as_ref().unwrap().history.len(), steps, "no steps while paused");
    assert!(h.state().state.session.as_ref().unwrap().snapshot.is_some(), "live reconstructions arrived");
    // The step slider goes back to the run's first snapshot; Latest follows the run again;
    // Play steps through them all and ends following the run.
    let kept = h.state().state.session.as_ref().unwrap().snapshot_history.len();
    assert!(kept >= 2, "{kept} snapshots kept");
    let first_step = h.state().state.session.as_ref().unwrap().snapshot_history.get(0).unwrap().step;
    drag_the_snapshot_slider_to_the_first(&mut h);
    assert_eq!(view::<patchwork::gui::views::train::TrainView>(&mut h, "Train").snapshots.scrub, Some(0));
    h.get(by().label_contains(&format!("step {first_step}: inputs")));
    // Every snapshot has the four parts' maps of the first input, shown under their name.
    let part_maps = |s: &patchwork_core::train::Snapshot| s.extras.iter().find(|(name, _)| name == patchwork_core::families::patch_vae::PART_MAPS).map(|(_, maps)| maps.len());
    assert_eq!(part_maps(h.state().state.session.as_ref().unwrap().snapshot_history.get(0).unwrap()), Some(4));
    h.get_by_label(patchwork_core::families::patch_vae::PART_MAPS);
    h.get_by_label("Latest").click();
    h.run_steps(1);
    assert_eq!(view::<patchwork::gui::views::train::TrainView>(&mut h, "Train").snapshots.scrub, None);
    h.get_by_label("Play").click();
    h.run_steps(1);
    assert_eq!(view::<patchwork::gui::views::train::TrainView>(&mut h, "Train").snapshots.scrub, Some(0));
    let start = Instant::now();
    while view::<patchwork::gui::views::train::TrainView>(&mut h, "Train").snapshots.playing.is_some() {
        assert!(start.elapsed() < Duration::from_secs(60), "playback never ended");
        std::thread::sleep(Duration::from_millis(50));
        h.run_steps(1);
    }
    assert_eq!(view::<patchwork::gui::views::train::TrainView>(&mut h, "Train").snapshots.scrub, None, "back to the latest");
    h.get_by_label("Resume").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(60), "more steps", |a| a.state.session.as_ref().is_some_and(|s| s.history.len() > steps));
    h.get_by_label("Stop").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(60), "the run to finish", |a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Finished));
    let run_dir = h.state().state.session.as_ref().unwrap().run_dir.clone().unwrap();
    assert!(run_dir.join("checkpoint/model.bpk").is_file());
    // The run kept its snapshots in its folder: the Runs view scrubs them once it is over,
    // from the first (where the step slider is dragged) to the last.
    h.get_by_label("Runs").click();
    h.run_steps(2);
    h.get_all_by_label("Snapshots").next().unwrap().click();
    h.run_steps(2);
    let scrubbed = view::<patchwork::gui::views::runs::RunsView>(&mut h, "Runs").scrubbed.as_ref().map(|r| (r.history.len(), r.history.get(0).unwrap().step, r.history.last().unwrap().step, r.skipped.len()));
    let (kept, first_step, last_step, skipped) = scrubbed.unwrap();
    assert!(kept >= 2 && skipped == 0, "{kept} snapshots read back, {skipped} skipped");
    h.get(by().label_contains(&format!("step {last_step}: inputs")));
    drag_the_snapshot_slider_to_the_first(&mut h);
    assert_eq!(view::<patchwork::gui::views::runs::RunsView>(&mut h, "Runs").scrubber.scrub, Some(0));
    h.get(by().label_contains(&format!("step {first_step}: inputs")));
    h.get_by_label(patchwork_core::families::patch_vae::PART_MAPS);
    // The snapshot shown, as a picture: inputs, reconstructions, samples and the part maps,
    // a row of 8 each at 32×32 (1 px gaps).
    let png = runs.path().join("first-snapshot.png");
    export_file_through_the_path_field(&mut h, "Export grids PNG…", &png);
    let picture = image::open(&png).unwrap();
    assert_eq!(picture.width(), 8 * 33 - 1);
    assert!(picture.height() >= 3 * 33 - 1, "{}", picture.height());
    let _ = std::fs::remove_dir_all(run_dir);
}

#[test]
fn reopens_the_data_it_was_closed_on_or_says_why_not() {
    let reopened = |data: &str| {
        let settings = patchwork::gui::state::Settings { data: data.into(), ..Default::default() };
        let app = PatchworkApp::with_settings(Some(settings), DeviceChoice::Cpu);
        let mut h = Harness::builder().with_size(egui::vec2(1280.0, 820.0)).build_ui_state(|ui, app: &mut PatchworkApp| app.frame_ui(ui), app);
        h.run_steps(1);
        step_until(&mut h, Duration::from_secs(60), "the data to load", |a| a.state.data.loading.is_none());
        let state = &h.state().state;
        (state.data.source.as_ref().map(|s| s.info().name.clone()).unwrap_or_default(), state.data.error.clone(), state.settings.data.clone())
    };
    let (name, error, _) = reopened("scenes:64");
    assert_eq!((name.as_str(), error), ("quadrant scenes (train)", None));
    // A folder gone since: Fashion-MNIST is open, and the Data tab says what failed.
    let (name, error, remembered) = reopened("folder:/nonexistent/photos");
    assert_eq!((name.as_str(), remembered.as_str()), ("fashion-mnist", "fashion-mnist"));
    assert!(error.is_some_and(|e| e.contains("/nonexistent/photos")));
}

#[test]
fn dropped_images_open_and_bad_files_change_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90])).save(dir.path().join("a.png")).unwrap();
    std::fs::write(dir.path().join("broken.png"), b"\x89PNG\r\n\x1a\ntruncated").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Data").click();
    h.run_steps(1);
    let drop = |h: &mut Harness<'static, PatchworkApp>, paths: &[&str]| {
        h.input_mut().dropped_files =
            paths.iter().map(|p| std::sync::Arc::new(Dropped(dir.path().join(p))) as _).collect();
        h.run_steps(1);
        step_until(h, Duration::from_secs(30), "the dropped files to load", |a| a.state.data.loading.is_none());
        h.run_steps(1);
    };
    // A text file alone: a clear message; the data stays as it was.
    drop(&mut h, &["notes.txt"]);
    assert!(h.state().state.data.error.as_deref().is_some_and(|e| e.contains("notes.txt")), "{:?}", h.state().state.data.error);
    assert_eq!(h.state().state.data.source.as_ref().unwrap().len(), 10_000);
    // An image and a corrupt PNG: the image opens, the PNG is counted and named.
    drop(&mut h, &["a.png", "broken.png"]);
    let source = h.state().state.data.source.clone().unwrap();
    assert_eq!(source.len(), 1);
    assert_eq!(source.info().skipped.len(), 1);
    assert!(source.info().skipped[0].0.ends_with("broken.png"));
    assert!(h.state().state.status_line().contains("1 unreadable"));
    h.get_by_label("1 unreadable file(s) skipped");
}

#[test]
fn dsprites_opens_classed_by_the_factor_picked_in_the_data_tab() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Data").click();
    h.run_steps(1);
    h.get_by_label("dsprites-like").click();
    step_until(&mut h, Duration::from_secs(60), "dsprites", |a| a.state.data.spec == "dsprites" && a.state.data.loading.is_none());
    h.run_steps(1);
    assert_eq!(h.state().state.data.source.as_ref().unwrap().info().class_names.len(), 3, "shapes by default");
    let classes = |text: &'static str| by().role(egui::accesskit::Role::ComboBox).predicate(move |n| n.value().is_some_and(|v| v == text));
    h.get(classes("classes: shape")).click();
    h.run_steps(3);
    h.get_by_label("scale").click();
    step_until(&mut h, Duration::from_secs(60), "dsprites by scale", |a| a.state.data.spec == "dsprites:scale" && a.state.data.loading.is_none());
    h.run_steps(1);
    let source = h.state().state.data.source.clone().unwrap();
    assert_eq!((source.info().class_names.len(), source.info().class_names[0].as_str()), (6, "scale 0.5"));
    h.get(classes("classes: scale"));
}

fn view<'h, V: 'static>(h: &'h mut Harness<'static, PatchworkApp>, name: &str) -> &'h mut V {
    let app = h.state_mut();
    let i = app.views.iter().position(|v| v.name() == name).expect("the tab");
    app.views[i].as_any_mut().downcast_mut().expect("the view type")
}

fn parts_view<'h>(h: &'h mut Harness<'static, PatchworkApp>) -> &'h mut PartsView {
    view(h, "Parts")
}

fn swap_view<'h>(h: &'h mut Harness<'static, PatchworkApp>) -> &'h mut SwapView {
    view(h, "Swap")
}

fn traverse_view<'h>(h: &'h mut Harness<'static, PatchworkApp>) -> &'h mut TraverseView {
    view(h, "Traverse")
}

/// Drags the step slider over snapshots (Train's or Runs') to its first snapshot.
fn drag_the_snapshot_slider_to_the_first(h: &mut Harness<'static, PatchworkApp>) {
    let rail = h.get(by().role(egui::accesskit::Role::Slider).label_contains("snapshot at step")).rect();
    let start_of_rail = egui::pos2(rail.left() + 1.0, rail.center().y);
    h.hover_at(start_of_rail);
    h.step();
    h.drag_at(start_of_rail);
    h.step();
    h.drop_at(start_of_rail);
    h.run_steps(2);
}

/// Steps until the view's background work is done, asserting nothing hangs.
/// Clicks `button` and answers the window's own path field (file dialogs off) with `path`,
/// over whatever the field suggested.
fn answer_the_path_field(h: &mut Harness<'static, PatchworkApp>, button: &str, path: &std::path::Path) {
    // SAFETY: set before the window asks for a path, as every test that types one does.
    unsafe { std::env::set_var("PATCHWORK_FILE_DIALOG", "off") };
    h.get_by_label(button).click();
    let start = Instant::now();
    while h.state().state.path_prompt.is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "{button} asked for no path");
        h.run_steps(1);
    }
    h.run_steps(2);
    // The field may hold a suggested file name: select it all, then type over it.
    h.get(by().role(egui::accesskit::Role::TextInput)).click();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get(by().role(egui::accesskit::Role::TextInput)).type_text(&path.display().to_string());
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
}

/// Exports through `button` to the file `path` (see [`answer_the_path_field`]), waits for
/// it, and returns its text.
fn export_through_the_path_field(h: &mut Harness<'static, PatchworkApp>, button: &str, path: &std::path::Path) -> String {
    export_file_through_the_path_field(h, button, path);
    std::fs::read_to_string(path).unwrap()
}

/// As [`export_through_the_path_field`], for a file that is not text.
fn export_file_through_the_path_field(h: &mut Harness<'static, PatchworkApp>, button: &str, path: &std::path::Path) {
    answer_the_path_field(h, button, path);
    let start = Instant::now();
    while !path.is_file() {
        assert!(start.elapsed() < Duration::from_secs(30), "{button} wrote no {}", path.display());
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
}

/// Presses on a before/after wipe a fifth of the way across, drags to four fifths and lets
/// go; returns where the divider stood after the press and after the drag.
fn wipe_across(h: &mut Harness<'static, PatchworkApp>, rect: egui::Rect, position: impl Fn(&mut Harness<'static, PatchworkApp>) -> f32) -> (f32, f32) {
    let at = |fraction: f32| egui::pos2(rect.left() + rect.width() * fraction, rect.top() + 10.0);
    h.hover_at(at(0.2));
    h.step();
    h.drag_at(at(0.2));
    h.step();
    let pressed = position(h);
    for t in [0.4, 0.6, 0.8] {
        h.hover_at(at(t));
        h.step();
    }
    // Let go and move away at once: the divider stays where it was let go.
    h.drop_at(at(0.8));
    h.hover_at(rect.left_bottom() + egui::vec2(-300.0, 40.0));
    h.run_steps(1);
    (pressed, position(h))
}

fn settle<V: 'static>(h: &mut Harness<'static, PatchworkApp>, name: &str, busy: impl Fn(&mut V) -> bool) {
    let start = Instant::now();
    loop {
        h.step();
        if !busy(view::<V>(h, name)) && !h.state().state.model.is_loading() {
            h.step();
            if !busy(view::<V>(h, name)) {
                return;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(90), "{name} stayed busy: {}", h.state().state.status_line());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn opens_on_the_shipped_patchvae_parts_browses_a_part_and_refuses_other_models() {
    let cache = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("XDG_CACHE_HOME", cache.path()) };
    let mut h = harness();
    h.run_steps(2);
    // The first launch opens on Parts, analysing the shipped model.
    h.get_by_label("Build part browser");
    step_until(&mut h, Duration::from_secs(60), "the first analysis", |a| a.state.model.current().is_some());
    settle::<PartsView>(&mut h, "Parts", |v| v.busy());
    let view = parts_view(&mut h);
    let result = view.result.as_ref().expect("an analysis");
    assert_eq!(result.parts(), 16);
    assert_eq!(result.analyses.len(), 6);
    assert!(result.model.contains("patchvae-fashion-mnist"), "{}", result.model);
    assert!(result.analyses[0].probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
    // Clicking the column of part 3 selects it.
    // Raw probabilities by default, so a dead part looks dead; each column is labelled.
    assert!(!view.normalise, "stretch each part is off by default");
    let rect = view.grid_rect().expect("the overlay grid is drawn");
    for header in ["input", "recon.", "0", "15"] {
        h.get_by_label(header);
    }
    let column_width = rect.width() / 18.0;
    h.get_by_label("Build part browser").click();
    h.run_steps(1);
    let start = Instant::now();
    while parts_view(&mut h).index.is_none() {
        assert!(start.elapsed() < Duration::from_secs(180), "the part browser index did not finish");
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    h.hover_at(egui::pos2(rect.left() + column_width * 5.5, rect.top() + 5.0));
    h.step();
    h.drag_at(egui::pos2(rect.left() + column_width * 5.5, rect.top() + 5.0));
    h.step();
    h.drop_at(egui::pos2(rect.left() + column_width * 5.5, rect.top() + 5.0));
    h.run_steps(2);
    assert_eq!(parts_view(&mut h).selected, Some(3));
    let index = parts_view(&mut h).index.clone().unwrap();
    assert_eq!((index.images, index.parts.len(), index.parts[3].hits.len()), (10_000, 16, 50));
    h.get_by_label("Part 3");
    // How local and how binary the part is, beside how often it fires.
    h.get(by().label_contains("of an image where it fires").label_contains("undecided (0.1–0.9)"));
    // Other weights in the views (here a copy of the checkpoint, as a run in progress would
    // bring): the browser says whose index it shows.
    let copy = tempfile::tempdir().unwrap();
    copy_of_shipped_patchvae(copy.path());
    h.state_mut().state.open_checkpoint(copy.path());
    step_until(&mut h, Duration::from_secs(60), "the copy", |a| a.state.model.current().is_some_and(|m| m.describe().contains(&copy.path().display().to_string())));
    h.run_steps(2);
    h.get(by().label_contains("This part browser is of"));
    // A folder that is no checkpoint is refused by name and the shipped model kept.
    let not_a_checkpoint = tempfile::tempdir().unwrap();
    let generation = h.state().state.data.generation;
    h.state_mut().state.open_checkpoint(not_a_checkpoint.path());
    step_until(&mut h, Duration::from_secs(30), "the refusal", |a| a.state.message.as_deref().is_some_and(|m| m.contains("not opened")));
    let state = &h.state().state;
    assert!(state.model.error.as_deref().is_some_and(|e| e.contains(&not_a_checkpoint.path().display().to_string())), "{:?}", state.model.error);
    assert_eq!(state.model.current().and_then(|m| m.parts()), Some(16), "the model stays");
    assert_eq!(state.data.generation, generation);
}

#[test]
fn swap_takes_a_dragged_thumbnail_and_a_dropped_file_and_switches_parts_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Swap").click();
    step_until(&mut h, Duration::from_secs(60), "the shipped model", |a| a.state.model.current().is_some());
    settle::<SwapView>(&mut h, "Swap", |v| v.busy());
    // It opens on the first two images, ready to swap.
    let first = swap_view(&mut h).result.as_ref().expect("a first swap").swapped.clone();
    assert_eq!(swap_view(&mut h).source.image.as_ref().unwrap().label, "fashion-mnist #0");
    // Beside the grid, the target's reconstruction and the swap in one place: the divider
    // follows a drag across it.
    h.run_steps(1);
    let wipe = swap_view(&mut h).wipe.last_rect.expect("the before/after wipe drawn");
    assert!(wipe.right() <= 1280.0 && wipe.bottom() <= 820.0, "inside the window: {wipe:?}");
    let (pressed, dragged) = wipe_across(&mut h, wipe, |h| swap_view(h).wipe.position);
    assert!((pressed - 0.2).abs() < 0.02 && (dragged - 0.8).abs() < 0.02, "{pressed} then {dragged}");
    h.get(by().label_contains("left of the line: the swap"));
    // Drag thumbnail 5 (second row, second column) onto Source.
    let grid = swap_view(&mut h).thumbnails.last_rect.expect("thumbnails drawn");
    let cell = egui::pos2(grid.left() + grid.width() * 1.5 / 4.0, grid.top() + grid.height() * 1.5 / 16.0);
    let source_slot = swap_view(&mut h).source.rect.unwrap().center();
    h.hover_at(cell);
    h.step();
    h.drag_at(cell);
    h.step();
    for t in [0.25, 0.5, 0.75, 1.0] {
        h.hover_at(cell + (source_slot - cell) * t);
        h.step();
    }
    h.drop_at(source_slot);
    h.run_steps(2);
    assert_eq!(swap_view(&mut h).source.image.as_ref().unwrap().label, "fashion-mnist #5");
    // A file from the desktop dropped over Target.
    let target_slot = swap_view(&mut h).target.rect.unwrap().center();
    let seven = h.state().state.data.source.as_ref().unwrap().get(7).image;
    seven.to_dynamic().save(dir.path().join("seven.png")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    h.hover_at(target_slot);
    h.input_mut().dropped_files = vec![std::sync::Arc::new(Dropped(dir.path().join("seven.png"))) as _];
    h.run_steps(1);
    settle::<SwapView>(&mut h, "Swap", |v| v.busy());
    let view = swap_view(&mut h);
    assert_eq!(view.target.image.as_ref().unwrap().label, "seven.png");
    let result = view.result.as_ref().unwrap();
    assert_ne!(result.swapped, first);
    // Parts chosen: the ones most present in each image.
    assert_eq!(result.key.source_part, result.source.code.parts_by_firing()[0]);
    assert_eq!(result.key.target_part, result.target.code.parts_by_firing()[0]);
    assert_ne!(result.swapped, result.target.reconstruction, "swapping a present part changes the image");
    // Switch the target's most present part off: the result changes again.
    let before = result.swapped.clone();
    let part = result.key.target_part;
    swap_view(&mut h).parts_off = vec![part];
    settle::<SwapView>(&mut h, "Swap", |v| v.busy());
    let result = swap_view(&mut h).result.as_ref().unwrap();
    assert_eq!(result.key.parts_off, vec![part]);
    assert_ne!(result.swapped, before);
    // A text file dropped on Swap: a clear message, nothing else changes.
    let generation = h.state().state.data.generation;
    h.input_mut().dropped_files = vec![std::sync::Arc::new(Dropped(dir.path().join("notes.txt"))) as _];
    h.run_steps(2);
    assert!(h.state().state.message.as_deref().is_some_and(|m| m.contains("notes.txt is not a usable image")), "{:?}", h.state().state.message);
    assert_eq!(swap_view(&mut h).target.image.as_ref().unwrap().label, "seven.png");
    assert_eq!(h.state().state.data.generation, generation);
    // A source part the person picked (the picker's second entry, the second most present)
    // stays when a new target comes; it used to jump back to the most present one.
    let picked = {
        let code = swap_view(&mut h).result.as_ref().unwrap().source.code.clone();
        let choices = patchwork::gui::views::swap::part_choices(code.parts, Some(&code));
        assert!(choices.last().is_some_and(|(_, label)| label.ends_with("absent here")), "the shipped model's dead parts are marked: {choices:?}");
        choices[1].0
    };
    swap_view(&mut h).source_part = picked;
    swap_view(&mut h).picked_source = true;
    settle::<SwapView>(&mut h, "Swap", |v| v.busy());
    let eight = h.state().state.data.source.as_ref().unwrap().get(8).image;
    eight.to_dynamic().save(dir.path().join("eight.png")).unwrap();
    h.hover_at(target_slot);
    h.input_mut().dropped_files = vec![std::sync::Arc::new(Dropped(dir.path().join("eight.png"))) as _];
    h.run_steps(1);
    settle::<SwapView>(&mut h, "Swap", |v| v.busy());
    assert_eq!(swap_view(&mut h).target.image.as_ref().unwrap().label, "eight.png");
    assert_eq!(swap_view(&mut h).result.as_ref().unwrap().key.source_part, picked, "the picked source part stays");
    // From the Data tab: right-click thumbnail 3, "Use as Swap target" opens Swap with it.
    h.get_by_label("Data").click();
    h.run_steps(2);
    let grid = self::view::<patchwork::gui::views::data::DataView>(&mut h, "Data").grid.last_rect.expect("the data grid");
    let rows = 256usize.div_ceil(16) as f32;
    let third = egui::pos2(grid.left() + grid.width() * 3.5 / 16.0, grid.top() + grid.height() * 0.5 / rows);
    h.hover_at(third);
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton { pos: third, button: egui::PointerButton::Secondary, pressed, modifiers: egui::Modifiers::NONE });
        h.step();
    }
    h.run_steps(1);
    h.get_by_label("Use as Swap target").click();
    h.run_steps(2);
    assert_eq!(h.state().views[h.state().state.settings.tab].name(), "Swap");
    assert_eq!(swap_view(&mut h).target.image.as_ref().unwrap().label, "fashion-mnist #3");
}

#[test]
fn trains_a_tiny_beta_vae_saves_reopens_and_traverses_it() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Train").click();
    h.run_steps(1);
    h.state_mut().state.settings.form =
        TrainForm { batch_size: 32, epochs: 1, ..form("beta-vae", &[("arch", Value::Choice("mlp")), ("latent", Value::Count(2)), ("image_size", Value::Count(28))]) };
    let runs = tempfile::tempdir().unwrap();
    h.state_mut().state.settings.runs_dir = runs.path().to_path_buf();
    // The form's layout changes with the model: let it settle before clicking.
    h.run_steps(2);
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(120), "training steps", |a| a.state.session.as_ref().is_some_and(|s| s.history.len() >= 20));
    let fresh_first_loss = h.state().state.session.as_ref().unwrap().history[0].term("loss").unwrap();
    // Ctrl+S saves the run's checkpoint.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(60), "the checkpoint", |a| a.state.session.as_ref().is_some_and(|s| s.log.iter().any(|l| l.contains("saved"))));
    // The live weights reach the explorer.
    step_until(&mut h, Duration::from_secs(30), "live weights", |a| a.state.model.current().is_some_and(|m| m.kind().name() == "beta-vae"));
    h.get_by_label("Stop").click();
    step_until(&mut h, Duration::from_secs(60), "the run to finish", |a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Finished));
    let run_dir = h.state().state.session.as_ref().unwrap().run_dir.clone().unwrap();
    assert!(run_dir.starts_with(runs.path()) && run_dir.join("checkpoint/model.bpk").is_file(), "{}", run_dir.display());
    // Runs: the run is listed; Explore reopens its checkpoint.
    h.get_by_label("Runs").click();
    h.run_steps(1);
    h.get_by_label(&run_dir.display().to_string());
    h.get_all_by_label("Explore").next().expect("an Explore button").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(30), "the checkpoint to open", |a| {
        a.state.model.current().is_some_and(|m| m.describe().contains(&run_dir.join("checkpoint").display().to_string()))
    });
    h.get_all_by_label("Compare as A").next().expect("a Compare button").click();
    h.run_steps(1);
    let runs: &mut RunsView = view(&mut h, "Runs");
    let (_, metrics) = runs.compared[0].as_ref().unwrap();
    assert!(metrics.as_ref().unwrap().len() >= 20);
    h.run_steps(1);
    let svg = export_through_the_path_field(&mut h, "Export SVG…", &run_dir.with_file_name("compare.svg"));
    assert_eq!(svg.matches("<polyline").count(), 1, "run A's curve");
    // Traverse: both latents ordered by KL, the 2-D manifold, and a slider that moves the image.
    h.get_by_label("Traverse").click();
    h.run_steps(1);
    settle::<TraverseView>(&mut h, "Traverse", |v| v.busy());
    let view = traverse_view(&mut h);
    let t = view.traversal.as_ref().expect("a traversal");
    assert_eq!((t.rows.len(), t.rows[0].len()), (2, 9));
    assert!(t.kl[t.order[0]] >= t.kl[t.order[1]]);
    assert_ne!(t.rows[0][0], t.rows[0][8], "moving the most informative latent changes the image");
    assert_eq!(view.manifold.len(), 12 * 12);
    let before = view.edited_image.clone().unwrap();
    let dim = t.order[0];
    // Click near the right end of that latent's slider: its value jumps there and the
    // image re-renders.
    let label = format!("latent {dim} (");
    let rail = h.get(by().role(egui::accesskit::Role::Slider).label_contains(&label)).rect();
    let target = egui::pos2(rail.left() + 0.9 * rail.width(), rail.center().y);
    h.hover_at(target);
    h.step();
    h.drag_at(target);
    h.step();
    h.drop_at(target);
    h.run_steps(1);
    settle::<TraverseView>(&mut h, "Traverse", |v| v.busy());
    assert!(traverse_view(&mut h).edited[dim] > 1.0, "slider value {}", traverse_view(&mut h).edited[dim]);
    assert_ne!(traverse_view(&mut h).edited_image.clone().unwrap(), before);
    // Runs → Train on: a new run from those weights, with the form's learning rate; the
    // network settings are the checkpoint's and greyed out.
    h.get_by_label("Runs").click();
    h.run_steps(1);
    h.get_all_by_label("Train on").next().expect("a Train on button").click();
    h.run_steps(2);
    assert_eq!(h.state().views[h.state().state.settings.tab].name(), "Train");
    h.get(by().label_contains("Starts from the weights of"));
    let form = &h.state().state.settings.form;
    let config = form.config();
    assert_eq!((form.model.name(), config.get("arch"), config.get("latent"), form.batch_size), ("beta-vae", Some(Value::Choice("mlp")), Some(Value::Count(2)), 32), "the checkpoint's settings");
    h.state_mut().state.settings.form.lr = 5e-4;
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(120), "steps of the new run", |a| a.state.session.as_ref().is_some_and(|s| s.history.len() >= 3));
    let first_loss = |h: &Harness<'static, PatchworkApp>| h.state().state.session.as_ref().unwrap().history[0].term("loss").unwrap();
    assert!(first_loss(&h) < 0.8 * fresh_first_loss, "the new run starts from trained weights: {} vs {fresh_first_loss}", first_loss(&h));
    h.get_by_label("Stop").click();
    step_until(&mut h, Duration::from_secs(60), "the new run to finish", |a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Finished));
    let new_run = h.state().state.session.as_ref().unwrap().run_dir.clone().unwrap();
    let saved = patchwork_core::checkpoint::read_meta(&new_run.join("checkpoint")).unwrap();
    assert_eq!(saved.config.lr, 5e-4);
    let from = saved.state.initialized_from.unwrap_or_default();
    assert!(from.starts_with(&run_dir.join("checkpoint").display().to_string()), "{from}");
    let _ = std::fs::remove_dir_all(new_run);
    let _ = std::fs::remove_dir_all(run_dir);
}

#[test]
fn traverses_a_part_of_the_shipped_patchvae() {
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Traverse").click();
    step_until(&mut h, Duration::from_secs(60), "the shipped model", |a| a.state.model.current().is_some());
    settle::<TraverseView>(&mut h, "Traverse", |v| v.busy());
    let view = traverse_view(&mut h);
    let t = view.traversal.as_ref().expect("a traversal");
    let (part, code) = t.part_code.clone().expect("a part traversal");
    assert_eq!(part, code.parts_by_firing()[0], "the part that fires most in the image");
    assert_eq!((t.rows.len(), t.rows[0].len()), (6, 9));
    assert!(view.manifold.is_empty());
    assert_eq!(view.samples.len(), 16);
    // A part that does not fire in the image: the view says so and names those that do
    // (its grid used to sit there unchanged, or black on a young model, without a word).
    let absent = code.parts_by_firing().into_iter().rev().find(|&p| code.firing_share(p) == 0.0).expect("the shipped model has dead parts");
    traverse_view(&mut h).part = absent;
    settle::<TraverseView>(&mut h, "Traverse", |v| v.busy());
    h.run_steps(2);
    h.get(by().label_contains(&format!("Part {absent} does not fire in this image")));
}

#[test]
fn object_transfer_auto_mix_and_neighbours_work_on_the_shipped_mixing_model() {
    use patchwork::gui::views::mixing::automix::AutoMixView;
    use patchwork::gui::views::mixing::neighbours::NeighboursView;
    use patchwork::gui::views::mixing::transfer::TransferView;
    use patchwork_core::mixing::QuadrantMask;
    let mut h = harness();
    h.run_steps(2);
    step_until(&mut h, Duration::from_secs(60), "the shipped PatchVAE", |a| a.state.model.current().is_some());
    // The tab switches from the shipped PatchVAE to the shipped mixing-scenes model.
    h.get_by_label("Object transfer").click();
    step_until(&mut h, Duration::from_secs(60), "the shipped mixing model", |a| a.state.model.current().is_some_and(|m| m.kind().name() == "mixing-scenes"));
    h.run_steps(2);
    h.get_by_label("Mask bits in quadrant order TL TR BL BR (row-major, the encoder's chunk order); 1 = take that quadrant from the other image.");
    // Two held-out scenes fill the slots; the default mask is the thesis's 0010.
    let wait = |h: &mut Harness<'static, PatchworkApp>| {
        let app = h.state_mut();
        let i = app.views.iter().position(|v| v.name() == "Object transfer").unwrap();
        let (views, state) = (&mut app.views, &mut app.state);
        views[i].as_any_mut().downcast_mut::<TransferView>().unwrap().wait(state);
    };
    wait(&mut h);
    h.run_steps(1);
    let first = view::<TransferView>(&mut h, "Object transfer").result.as_ref().map(|r| (r.key.mask, r.mix.clone(), r.reconstruction.clone())).expect("a transfer");
    assert_eq!(first.0.to_string(), "0010");
    let wipe = view::<TransferView>(&mut h, "Object transfer").wipe.last_rect.expect("the before/after wipe drawn");
    let (pressed, dragged) = wipe_across(&mut h, wipe, |h| view::<TransferView>(h, "Object transfer").wipe.position);
    assert!((pressed - 0.2).abs() < 0.02 && (dragged - 0.8).abs() < 0.02, "{pressed} then {dragged}");
    // The 0000 preset renders exactly the plain reconstruction; 0010 differs from it.
    assert_ne!(first.1, first.2);
    h.get_by_label("0000").click();
    h.run_steps(1);
    wait(&mut h);
    let none = view::<TransferView>(&mut h, "Object transfer").result.as_ref().map(|r| (r.key.mask, r.mix.clone(), r.reconstruction.clone())).unwrap();
    assert_eq!(none.0, QuadrantMask::default());
    assert_eq!(none.1, none.2, "mask 0000 is the plain reconstruction");
    // Clicking a quadrant toggle sets that bit.
    h.get_by_label("1 top-right").click();
    h.run_steps(1);
    assert_eq!(view::<TransferView>(&mut h, "Object transfer").mask.to_string(), "0100");
    // A thumbnail of the open Fashion-MNIST (as a click in the side strip gives it): it is
    // converted to the model's 64×64 colour input, and says so (it used to go in as a 28×28
    // grey image, drawn at a quarter of the size).
    h.get(by().label_contains("These images are not what the model takes"));
    let garment = patchwork::gui::image_drop::DraggedImage::from_data(&h.state().state, 0).unwrap();
    view::<TransferView>(&mut h, "Object transfer").place(garment, None);
    h.run_steps(2);
    let v = view::<TransferView>(&mut h, "Object transfer");
    let placed = [&v.object.image, &v.reference.image].into_iter().flatten().find(|i| i.label.starts_with("fashion-mnist")).cloned().expect("the garment in a slot");
    assert_eq!((placed.image.width, placed.image.height, placed.image.channels), (64, 64, 3));
    assert!(placed.label.contains("converted from 28×28 grey to 64×64 colour"), "{}", placed.label);

    // Auto-mix: Algorithm 1 on the model's own neighbour lists.
    h.get_by_label("Auto-mix").click();
    h.run_steps(2);
    let app = h.state_mut();
    let i = app.views.iter().position(|v| v.name() == "Auto-mix").unwrap();
    let (views, state) = (&mut app.views, &app.state);
    let automix = views[i].as_any_mut().downcast_mut::<AutoMixView>().unwrap();
    automix.wait(state);
    let mix = automix.result.clone().expect("an automatic mix");
    assert!((1..=3).contains(&mix.mask.replaced()), "{}", mix.mask);
    h.run_steps(2);
    h.get_by_label("Shuffle").click();
    h.run_steps(1);
    assert_eq!(view::<AutoMixView>(&mut h, "Auto-mix").draw, 1);

    // Neighbours: image 0's bottom-left quadrant has its 10 nearest, nearest first.
    h.get_by_label("Neighbours").click();
    step_until(&mut h, Duration::from_secs(60), "the neighbour lists", |_| true);
    let start = Instant::now();
    while view::<NeighboursView>(&mut h, "Neighbours").shown.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "no neighbours shown");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.get_by_label("q3 bottom-left").click();
    h.run_steps(2);
    let shown = view::<NeighboursView>(&mut h, "Neighbours").shown.clone();
    assert_eq!(view::<NeighboursView>(&mut h, "Neighbours").quadrant, 2);
    assert_eq!(shown.len(), 10);
    assert!(shown.windows(2).all(|w| w[0].distance <= w[1].distance));
}

/// Ends the test binary when no frame completes for `limit`: a deadlocked UI thread (a
/// re-entrant egui context call) would otherwise hang the test instead of failing it.
struct FrameWatchdog(std::sync::mpsc::Sender<&'static str>);

impl FrameWatchdog {
    fn new(limit: Duration) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
        std::thread::spawn(move || {
            let mut last = "the first frame";
            loop {
                match rx.recv_timeout(limit) {
                    Ok(what) => last = what,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        eprintln!("the window froze: no frame for {limit:?} after {last}");
                        std::process::exit(101);
                    }
                }
            }
        });
        Self(tx)
    }

    /// Steps `frames` frames, saying what came before them.
    fn frames(&self, h: &mut Harness<'static, PatchworkApp>, frames: usize, after: &'static str) {
        for _ in 0..frames {
            let _ = self.0.send(after);
            h.step();
        }
        let _ = self.0.send(after);
    }
}

fn run_status(h: &Harness<'static, PatchworkApp>) -> RunStatus {
    h.state().state.session.as_ref().map_or(RunStatus::Starting, |s| s.status.clone())
}

#[test]
fn keyboard_shortcuts_pause_resume_and_save_and_never_freeze_the_window() {
    // SAFETY: set before this test's window asks for a dialog (Ctrl+O): the window's own
    // path field, wherever the tests run.
    unsafe { std::env::set_var("PATCHWORK_FILE_DIALOG", "off") };
    let watchdog = FrameWatchdog::new(Duration::from_secs(60));
    let mut h = harness();
    watchdog.frames(&mut h, 2, "opening");
    // With nothing running: Space, Ctrl+S and Ctrl+O leave a window that still draws.
    h.key_press(egui::Key::Space);
    watchdog.frames(&mut h, 3, "Space with nothing running");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    watchdog.frames(&mut h, 2, "Ctrl+S with nothing running");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::O);
    watchdog.frames(&mut h, 2, "Ctrl+O");
    let start = Instant::now();
    while h.state().state.path_prompt.is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "Ctrl+O asked for nothing");
        watchdog.frames(&mut h, 1, "Ctrl+O's path field");
    }
    // A new window is laid out in its first frame and shown from the next.
    watchdog.frames(&mut h, 2, "the path field");
    h.get_by_label("Cancel").click();
    watchdog.frames(&mut h, 2, "closing the path field");
    assert!(h.state().state.path_prompt.is_none());
    h.get_by_label("Train").click();
    watchdog.frames(&mut h, 1, "opening Train");
    h.state_mut().state.settings.form =
        TrainForm { batch_size: 16, epochs: 50, ..form("beta-vae", &[("arch", Value::Choice("mlp")), ("latent", Value::Count(2)), ("image_size", Value::Count(28))]) };
    let runs = tempfile::tempdir().unwrap();
    h.state_mut().state.settings.runs_dir = runs.path().to_path_buf();
    watchdog.frames(&mut h, 2, "the form");
    h.get_by_label("Start").click();
    watchdog.frames(&mut h, 1, "Start");
    let wait = |h: &mut Harness<'static, PatchworkApp>, what: &'static str, done: &dyn Fn(&PatchworkApp) -> bool| {
        let start = Instant::now();
        while !done(h.state()) {
            assert!(start.elapsed() < Duration::from_secs(120), "timed out waiting for {what}: {}", h.state().state.status_line());
            watchdog.frames(h, 1, what);
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait(&mut h, "training steps", &|a| a.state.session.as_ref().is_some_and(|s| s.history.len() >= 3));
    // Space pauses a running run, and again resumes it.
    h.key_press(egui::Key::Space);
    wait(&mut h, "Space to pause", &|a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Paused));
    h.key_press(egui::Key::Space);
    wait(&mut h, "Space to resume", &|a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Running));
    // Typing a space into a text field (the smoothing slider's value, editable while a run
    // goes on) types it there and leaves the run alone.
    let field = h.get(by().role(egui::accesskit::Role::SpinButton).predicate(|n| !n.is_disabled()));
    field.focus();
    watchdog.frames(&mut h, 2, "focusing a text field");
    assert!(h.get(by().role(egui::accesskit::Role::SpinButton).predicate(|n| !n.is_disabled())).is_focused(), "the field has the keyboard");
    h.key_press(egui::Key::Space);
    h.event(egui::Event::Text(" ".into()));
    watchdog.frames(&mut h, 3, "Space in a text field");
    assert_eq!(run_status(&h), RunStatus::Running, "a space typed into a field does not pause the run");
    h.key_press(egui::Key::Escape);
    watchdog.frames(&mut h, 2, "leaving the field");
    // With a control focused (as the one last clicked is), Space still pauses, and the
    // control does not take the press as well.
    h.get_by_label("log scale").focus();
    watchdog.frames(&mut h, 2, "focusing a checkbox");
    h.key_press(egui::Key::Space);
    wait(&mut h, "Space to pause with a checkbox focused", &|a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Paused));
    assert_eq!(h.get_by_label("log scale").accesskit_node().toggled(), Some(egui::accesskit::Toggled::False), "the checkbox kept its state");
    h.key_press(egui::Key::Space);
    wait(&mut h, "Space to resume", &|a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Running));
    // Ctrl+S saves the run's checkpoint while it trains.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    wait(&mut h, "Ctrl+S to save", &|a| a.state.session.as_ref().is_some_and(|s| s.log.iter().any(|l| l.contains("saved"))));
    h.get_by_label("Stop").click();
    wait(&mut h, "the run to finish", &|a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Finished));
    // After Stop the progress says so, with no ETA (it used to keep counting down).
    let progress = patchwork::gui::views::train::progress_text(h.state().state.session.as_ref().unwrap(), 16);
    assert!(progress.ends_with("· stopped") && !progress.contains("ETA"), "{progress}");
    // The frame after everything still renders to pixels.
    let image = h.render().expect("the window renders");
    assert!(image.width() > 0 && image.height() > 0);
}

#[test]
fn class_style_view_swaps_interpolates_and_samples_a_cycle_vae_and_takes_dropped_classes() {
    use patchwork::gui::views::split::{SplitMode, SplitView};
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("cycle");
    train_with_the_cli(&run, &["--model", "cycle-vae", "--data", "mnist", "--max-steps", "20", "--batch", "16"]);
    let mut h = harness();
    h.run_steps(2);
    step_until(&mut h, Duration::from_secs(60), "the shipped PatchVAE", |a| a.state.model.current().is_some());
    // The tab opens the shipped cycle-consistent VAE by itself, and offers its data.
    h.get_by_label("Factor swap").click();
    h.run_steps(2);
    step_until(&mut h, Duration::from_secs(60), "the shipped cycle-vae", |a| a.state.model.current().is_some_and(|m| m.kind().name() == "cycle-vae"));
    h.run_steps(2);
    h.get_by_label("Use the data it trained on (mnist)").click();
    step_until(&mut h, Duration::from_secs(60), "MNIST", |a| a.state.data.spec == "mnist");
    // A model of the user's without the split (a copy of the shipped PatchVAE): the tab
    // says what it needs and which models have it.
    let parts = dir.path().join("parts");
    copy_of_shipped_patchvae(&parts);
    h.state_mut().state.open_checkpoint(&parts);
    step_until(&mut h, Duration::from_secs(60), "the PatchVAE", |a| a.state.model.current().is_some_and(|m| m.kind().name() == "patchvae"));
    h.run_steps(2);
    h.get(by().label_contains("needs a model with a split of factors to swap"));
    h.state_mut().state.open_checkpoint(&run);
    step_until(&mut h, Duration::from_secs(60), "the cycle-vae checkpoint", |a| a.state.model.current().is_some_and(|m| m.kind().name() == "cycle-vae"));
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy() || v.result.is_none());
    let result = view::<SplitView>(&mut h, "Factor swap").result.clone().expect("a swap grid");
    assert_eq!((result.mode, result.grid.rows, result.grid.columns), (SplitMode::Swap, 6, 6));
    h.get(by().label_contains("the diagonal of the same images"));
    // Interpolation and sampling, by their buttons.
    for (button, mode, rows) in [("interpolate", SplitMode::Interpolate, 6), ("sample styles", SplitMode::Sample, 6)] {
        h.get_by_label(button).click();
        h.run_steps(1);
        settle::<SplitView>(&mut h, "Factor swap", |v| v.busy() || v.result.as_ref().is_none_or(|r| r.mode != mode));
        let r = view::<SplitView>(&mut h, "Factor swap").result.clone().unwrap();
        assert_eq!((r.mode, r.grid.rows, r.grid.images.len()), (mode, rows, rows * r.grid.columns));
    }
    // Sampling exports new labelled images: a folder per class that opens as data again.
    let augmented = dir.path().join("augmented");
    answer_the_path_field(&mut h, "Export labelled…", &augmented);
    step_until(&mut h, Duration::from_secs(60), "the labelled images", |a| a.state.message.as_deref().is_some_and(|s| s.contains("labelled images")));
    use patchwork_core::data::ImageSource as _;
    let back = patchwork_core::data::folder::FolderSource::open(&augmented, 28).unwrap();
    assert_eq!((back.len(), back.info().class_names.len()), (1000, 10), "100 of each digit");
    // t-SNE: the settings first, then both maps on a background thread; a stop ends it.
    h.get_by_label("t-SNE").click();
    h.run_steps(2);
    h.get(by().label_contains("s should gather by class"));
    {
        let tsne = &mut view::<SplitView>(&mut h, "Factor swap").tsne;
        (tsne.images, tsne.settings.perplexity, tsne.settings.epochs) = (300, 10.0, 200);
    }
    h.get_by_label("Compute maps").click();
    h.run_steps(1);
    assert!(view::<SplitView>(&mut h, "Factor swap").tsne.busy(), "computing in the background");
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy());
    let tsne = &view::<SplitView>(&mut h, "Factor swap").tsne;
    assert_eq!(tsne.error, None);
    let maps = tsne.maps.as_ref().expect("maps");
    assert_eq!((maps.unspecified.as_ref().map(Vec::len), maps.specified.as_ref().map(Vec::len), maps.labels.len()), (Some(300), Some(300), 300));
    assert!(maps.labels.iter().flatten().collect::<std::collections::BTreeSet<_>>().len() == 10, "every digit is mapped");
    assert_eq!(maps.source.len(), 2_000, "the test split of the embedded MNIST, not the 10,000 training images");
    // Opening a model (here the same checkpoint again) puts away the maps of the last one.
    let generation = h.state().state.model.generation;
    h.state_mut().state.open_checkpoint(&run);
    step_until(&mut h, Duration::from_secs(60), "the checkpoint to open again", |a| a.state.model.generation > generation && !a.state.model.is_loading());
    h.run_steps(2);
    assert!(view::<SplitView>(&mut h, "Factor swap").tsne.maps.is_none(), "maps of another model");
    view::<SplitView>(&mut h, "Factor swap").tsne.settings.epochs = 5000;
    h.get_by_label("Compute maps").click();
    h.run_steps(2);
    h.get_by_label("Stop").click();
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy());
    let note = view::<SplitView>(&mut h, "Factor swap").tsne.note.clone().unwrap_or_default();
    assert!(note.starts_with("stopped after"), "{note}");
    // A perplexity too large for the images is refused with a message, not a panic.
    {
        let tsne = &mut view::<SplitView>(&mut h, "Factor swap").tsne;
        (tsne.images, tsne.settings.perplexity) = (50, 40.0);
    }
    h.get_by_label("Compute maps").click();
    h.run_steps(1);
    let error = view::<SplitView>(&mut h, "Factor swap").tsne.error.clone().unwrap_or_default();
    assert!(error.contains("needs at least 121 points"), "{error}");
    // Dropped files give the classes (columns).
    h.get_by_label("swap grid").click();
    let files = tempfile::tempdir().unwrap();
    for i in 0..3u8 {
        image::GrayImage::from_fn(28, 28, |x, y| image::Luma([if (x + y) % (i as u32 + 2) == 0 { 255 } else { 0 }])).save(files.path().join(format!("{i}.png"))).unwrap();
    }
    h.input_mut().dropped_files = (0..3).map(|i| std::sync::Arc::new(Dropped(files.path().join(format!("{i}.png")))) as _).collect();
    h.run_steps(1);
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy() || v.result.as_ref().is_none_or(|r| r.class_from.len() != 3));
    let r = view::<SplitView>(&mut h, "Factor swap").result.clone().unwrap();
    assert_eq!((r.grid.rows, r.grid.columns), (6, 3));
    // The roles swap: the same files give the styles (rows).
    h.get_by_label("dropped files give the style z (rows)").click();
    h.run_steps(1);
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy() || v.result.as_ref().is_none_or(|r| r.style_from.len() != 3));
    let r = view::<SplitView>(&mut h, "Factor swap").result.clone().unwrap();
    assert_eq!((r.grid.rows, r.grid.columns), (3, 6));
}

#[test]
fn a_reference_vae_shows_its_pools_transfers_attributes_synthesises_and_decodes_in_the_reference_style() {
    use patchwork::gui::views::split::{SplitMode, SplitView};
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("srb");
    train_with_the_cli(&run, &["--model", "reference-vae", "--size", "32", "--width", "4", "--e-dim", "4", "--z-dim", "4", "--max-steps", "3", "--batch", "4"]);
    let mut h = harness();
    h.run_steps(2);
    step_until(&mut h, Duration::from_secs(60), "the shipped PatchVAE", |a| a.state.model.current().is_some());
    // The Data tab's reference-style MNIST: both pools side by side, with their counts.
    h.get_by_label("Data").click();
    h.run_steps(1);
    h.get_by_label("reference-style MNIST").click();
    step_until(&mut h, Duration::from_secs(60), "the reference-style MNIST", |a| a.state.data.source.as_ref().is_some_and(|s| s.len() == 15_000));
    h.run_steps(2);
    h.get(by().label("unlabelled pool: 10000 images"));
    h.get(by().label("reference pool: 5000 images"));
    h.state_mut().state.open_checkpoint(&run);
    step_until(&mut h, Duration::from_secs(60), "the reference-vae checkpoint", |a| a.state.model.current().is_some_and(|m| m.kind().name() == "reference-vae"));
    h.get_by_label("Factor swap").click();
    h.run_steps(1);
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy() || v.result.is_none());
    let r = view::<SplitView>(&mut h, "Factor swap").result.clone().unwrap();
    assert_eq!((r.mode, r.grid.rows, r.grid.columns), (SplitMode::Swap, 6, 6));
    h.get(by().label_contains("the common z of the image on the left of its row (4-d) with the target e of the image above its column (4-d)"));
    // One transfer: click two thumbnails (A, then B); the result is B's z with A's e, and
    // Swap roles turns it around.
    let grid = view::<SplitView>(&mut h, "Factor swap").thumbnails.last_rect.expect("thumbnails drawn");
    for column in [0.5, 1.5] {
        let cell = egui::pos2(grid.left() + grid.width() * column / 4.0, grid.top() + 5.0);
        h.hover_at(cell);
        h.step();
        h.drag_at(cell);
        h.step();
        h.drop_at(cell);
        h.run_steps(1);
    }
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy() || v.pair.result.is_none());
    let pair = &view::<SplitView>(&mut h, "Factor swap").pair;
    let (a, b) = (pair.specified_from.image.clone().unwrap(), pair.unspecified_from.image.clone().unwrap());
    assert_eq!((a.label.as_str(), b.label.as_str()), ("reference-style mnist #0", "reference-style mnist #1"));
    let model = h.state().state.model.current().unwrap().clone();
    let expected = patchwork_core::analysis::split::swap_grid(&model, std::slice::from_ref(&b.image), std::slice::from_ref(&a.image)).unwrap().images[0].clone();
    assert_eq!(view::<SplitView>(&mut h, "Factor swap").pair.result.as_ref(), Some(&expected));
    h.get_by_label("Swap roles").click();
    h.run_steps(1);
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy());
    let turned = patchwork_core::analysis::split::swap_grid(&model, &[a.image], &[b.image]).unwrap().images[0].clone();
    assert_eq!(view::<SplitView>(&mut h, "Factor swap").pair.result.as_ref(), Some(&turned));
    for (button, mode, rows, columns) in [("conditional synthesis", SplitMode::Sample, 6, 6), ("random grid", SplitMode::Random, 3, 9), ("reference style", SplitMode::Reference, 2, 6)] {
        h.get_by_label(button).click();
        h.run_steps(1);
        settle::<SplitView>(&mut h, "Factor swap", |v| v.busy() || v.result.as_ref().is_none_or(|r| r.mode != mode));
        let r = view::<SplitView>(&mut h, "Factor swap").result.clone().unwrap();
        assert_eq!((r.mode, r.grid.rows, r.grid.columns), (mode, rows, columns), "{button}");
    }
    // Conditional synthesis draws new e's with Shuffle.
    h.get_by_label("conditional synthesis").click();
    h.run_steps(1);
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy() || v.result.as_ref().is_none_or(|r| r.mode != SplitMode::Sample));
    let before = view::<SplitView>(&mut h, "Factor swap").result.clone().unwrap();
    assert!(before.class_from.is_empty() && before.style_from.len() == 6, "conditional synthesis: the rows' images, e's drawn for the columns");
    h.get(by().label_contains("each column draws one target e from N(0, I)"));
    h.get_by_label("Shuffle").click();
    h.run_steps(1);
    settle::<SplitView>(&mut h, "Factor swap", |v| v.busy());
    let after = view::<SplitView>(&mut h, "Factor swap").result.clone().unwrap();
    assert_ne!(before.grid, after.grid, "Shuffle draws other images and other e's");
    // Traverse: e ⊕ z, each dimension named by its kind.
    h.get_by_label("Traverse").click();
    h.run_steps(1);
    settle::<TraverseView>(&mut h, "Traverse", |v| v.busy());
    let t = traverse_view(&mut h).traversal.clone().expect("a traversal");
    assert_eq!(t.rows.len(), 8, "4 e's and 4 z's");
    h.get(by().role(egui::accesskit::Role::Slider).label_contains("e0 ("));
    h.get(by().role(egui::accesskit::Role::Slider).label_contains("z3 ("));
    // e alone: its four sliders, no z's.
    h.get_by_label("e only (4)").click();
    h.run_steps(2);
    let sliders: Vec<String> = h.get_all(by().role(egui::accesskit::Role::Slider)).filter_map(|s| s.accesskit_node().label()).filter(|l| l.contains("(KL")).collect();
    assert_eq!(sliders.len(), 4, "{sliders:?}");
    assert!(sliders.iter().all(|l| l.starts_with('e')), "{sliders:?}");
    assert_eq!(traverse_view(&mut h).group, Some("e"));
}

#[test]
fn where_no_file_dialog_can_open_the_window_says_so_and_takes_a_typed_path() {
    // SAFETY: set before this test's window asks for a dialog; other tests that press
    // Ctrl+O get the same path field.
    unsafe { std::env::set_var("PATCHWORK_FILE_DIALOG", "off") };
    let watchdog = FrameWatchdog::new(Duration::from_secs(60));
    let mut h = harness();
    watchdog.frames(&mut h, 2, "opening");
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/mixing-scenes-small");
    // Ctrl+O used to do nothing and print nothing here.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::O);
    let start = Instant::now();
    while h.state().state.path_prompt.is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "no path field");
        watchdog.frames(&mut h, 1, "Ctrl+O");
    }
    watchdog.frames(&mut h, 2, "the path field");
    h.get(by().label_contains("type the path instead"));
    let field = h.get(by().role(egui::accesskit::Role::TextInput));
    field.focus();
    watchdog.frames(&mut h, 1, "focusing the field");
    // A space typed into it is text, not the pause key; Enter takes the path.
    h.get(by().role(egui::accesskit::Role::TextInput)).type_text(&format!("{} ", shipped.display()));
    watchdog.frames(&mut h, 1, "typing");
    h.key_press(egui::Key::Backspace);
    watchdog.frames(&mut h, 1, "backspace");
    h.key_press(egui::Key::Enter);
    watchdog.frames(&mut h, 2, "Enter");
    assert!(h.state().state.path_prompt.is_none(), "the field closed");
    step_until(&mut h, Duration::from_secs(60), "the typed checkpoint to open", |a| a.state.model.current().is_some_and(|m| m.kind().name() == "mixing-scenes"));
    // The Data tab's Open folder… falls back the same way; Cancel closes it.
    h.get_by_label("Data").click();
    watchdog.frames(&mut h, 1, "Data");
    h.get_by_label("Open folder…").click();
    let start = Instant::now();
    while h.state().state.path_prompt.is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "no path field for Open folder…");
        watchdog.frames(&mut h, 1, "Open folder…");
    }
    watchdog.frames(&mut h, 2, "the folder field");
    h.get_by_label("Cancel").click();
    watchdog.frames(&mut h, 2, "Cancel");
    assert!(h.state().state.path_prompt.is_none());
    // Two pools…: the reference folder, then the unlabelled one, typed in turn.
    let folders = tempfile::tempdir().unwrap();
    let (reference, unlabelled) = (folders.path().join("neutral"), folders.path().join("all"));
    for (dir, n) in [(&reference, 3u8), (&unlabelled, 5)] {
        std::fs::create_dir(dir).unwrap();
        for i in 0..n {
            image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, i * 40])).save(dir.join(format!("{i}.png"))).unwrap();
        }
    }
    h.get_by_label("Two pools…").click();
    for (dir, what) in [(&reference, "the reference folder"), (&unlabelled, "the unlabelled folder")] {
        let start = Instant::now();
        while h.state().state.path_prompt.is_none() {
            assert!(start.elapsed() < Duration::from_secs(30), "no path field for {what}");
            watchdog.frames(&mut h, 1, what);
        }
        watchdog.frames(&mut h, 1, what);
        h.get(by().label_contains(what));
        let field = h.get(by().role(egui::accesskit::Role::TextInput));
        field.focus();
        watchdog.frames(&mut h, 1, what);
        h.get(by().role(egui::accesskit::Role::TextInput)).type_text(&dir.display().to_string());
        watchdog.frames(&mut h, 1, what);
        h.key_press(egui::Key::Enter);
        watchdog.frames(&mut h, 2, what);
    }
    let start = Instant::now();
    while !h.state().state.data.spec.starts_with("pools:") || h.state().state.data.source.is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "the two pools did not open: {:?}", h.state().state.data.error);
        watchdog.frames(&mut h, 1, "two pools");
    }
    assert_eq!(h.state().state.data.spec, format!("pools:folder:{}|folder:{}", reference.display(), unlabelled.display()));
    watchdog.frames(&mut h, 2, "two pools");
    // Both pools side by side, with their counts (each folder's training split: 90 %).
    h.get(by().label_contains("unlabelled pool: "));
    h.get(by().label_contains("reference pool: "));
}

#[test]
fn runs_are_renamed_in_the_runs_view() {
    let runs = tempfile::tempdir().unwrap();
    let run = runs.path().join("patchvae-fashion-mnist-20261207-012335");
    copy_of_shipped_patchvae(&run.join("checkpoint"));
    let mut h = harness();
    h.state_mut().state.settings.recent_runs = vec![run.clone()];
    h.run_steps(2);
    h.get_by_label("Runs").click();
    h.run_steps(2);
    // The shipped checkpoints are listed too, without Rename: one button, the run's.
    h.get_by_label("Rename").click();
    h.run_steps(2);
    let field = h.get(by().role(egui::accesskit::Role::TextInput));
    field.focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get(by().role(egui::accesskit::Role::TextInput)).type_text("fashion parts, first try");
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    let renamed = runs.path().join("fashion parts, first try");
    assert!(renamed.join("checkpoint/model.bpk").is_file() && !run.exists(), "{:?}", h.state().state.message);
    assert_eq!(h.state().state.settings.recent_runs, vec![renamed.clone()]);
    h.get_by_label(&renamed.display().to_string());
    // A name that is taken is refused, and nothing moves.
    std::fs::create_dir(runs.path().join("taken")).unwrap();
    let err = patchwork::gui::views::runs::rename_run(&mut h.state_mut().state, &renamed, "taken").unwrap_err();
    assert!(err.contains("exists already") && renamed.is_dir(), "{err}");
    assert!(patchwork::gui::views::runs::rename_run(&mut h.state_mut().state, &renamed, "a/b").is_err());
}

#[test]
fn a_diverged_run_offers_a_lower_learning_rate_and_a_failed_save_offers_to_save_again() {
    use patchwork::gui::session::TrainingSession;
    use patchwork_core::train::{Progress, TrainCommand, TrainEvent, TrainerHandle};
    let mut h = harness();
    h.run_steps(2);
    // A run whose events this test plays, as the training thread would send them; the
    // window's commands come back on `commands`.
    let (events, event_rx) = std::sync::mpsc::channel();
    let (command_tx, commands) = std::sync::mpsc::channel();
    let session = TrainingSession::new(TrainerHandle::from_channels(event_rx, command_tx), None, "cpu: test".into());
    h.state_mut().state.session = Some(session);
    h.state_mut().state.settings.form.lr = 1e-3;
    let progress = Progress { step: 7, total_steps: 100, epoch: 0, epochs: 1, steps_per_epoch: 100 };
    events.send(TrainEvent::Started { device: "cpu: test".into(), parameters: 10, progress, images: 100, skipped: vec![], compiles_kernels: false }).unwrap();
    events.send(TrainEvent::Diverged { step: 7, term: "loss".into(), value: f64::NAN }).unwrap();
    h.get_by_label("Train").click();
    h.run_steps(2);
    let diverged = RunStatus::Diverged { step: 7, term: "loss".into() };
    assert_eq!(h.state().state.session.as_ref().unwrap().status, diverged);
    assert!(h.query_all_by_label_contains("Diverged at step 7: loss is not finite").next().is_some());
    h.get_by_label("Halve the learning rate and resume").click();
    h.run_steps(1);
    let sent: Vec<TrainCommand> = commands.try_iter().collect();
    assert_eq!(sent, vec![TrainCommand::SetHyperparameter { name: "lr".into(), value: 5e-4 }, TrainCommand::Resume]);
    assert_eq!(h.state().state.settings.form.lr, 5e-4, "the form shows the rate the run goes on with");

    // The checkpoint of step 9 could not be written (a full disk): the window says so, the
    // run waits, and Save again asks for another save.
    events.send(TrainEvent::Resumed { step: 7 }).unwrap();
    events.send(TrainEvent::SaveFailed { path: "/runs/a/checkpoint".into(), step: 9, message: "cannot write model.bpk: No space left on device (os error 28)".into() }).unwrap();
    h.run_steps(2);
    assert!(matches!(h.state().state.session.as_ref().unwrap().status, RunStatus::SaveFailed { step: 9, .. }));
    assert!(h.query_all_by_label_contains("Free some space and save again").next().is_some());
    assert!(h.state().state.status_line().contains("not saved"), "{}", h.state().state.status_line());
    h.get_by_label("Save again").click();
    h.run_steps(1);
    assert_eq!(commands.try_iter().collect::<Vec<_>>(), vec![TrainCommand::SaveNow(None)]);
    // Space resumes it unsaved, as Resume does.
    h.key_press(egui::Key::Space);
    h.run_steps(1);
    assert_eq!(commands.try_iter().collect::<Vec<_>>(), vec![TrainCommand::Resume]);
    // Once a save works the run waits, paused, for the person to resume it.
    events.send(TrainEvent::CheckpointSaved { path: "/runs/a/checkpoint".into(), step: 9 }).unwrap();
    h.run_steps(2);
    assert_eq!(h.state().state.session.as_ref().unwrap().status, RunStatus::Paused);
    assert!(h.query_all_by_label_contains("Free some space and save again").next().is_none());
}
