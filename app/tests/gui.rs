//! The explorer driven as a person would: clicks and dropped files, asserting on state.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use patchwork::gui::PatchworkApp;
use patchwork::gui::session::RunStatus;
use patchwork::gui::state::TrainForm;
use patchwork_core::device::DeviceChoice;

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

fn harness() -> Harness<'static, PatchworkApp> {
    let app = PatchworkApp::with_settings(None, DeviceChoice::Cpu);
    Harness::builder().with_size(egui::vec2(1280.0, 820.0)).build_ui_state(|ui, app: &mut PatchworkApp| app.frame_ui(ui), app)
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
    h.state_mut().state.settings.form = TrainForm { arch: "mlp".into(), latent: 4, image_size: 28, batch_size: 32, epochs: 1, ..TrainForm::default() };
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(120), "training steps", |a| a.state.session.as_ref().is_some_and(|s| s.history.len() >= 3));
    let session = h.state().state.session.as_ref().unwrap();
    assert!(session.device.contains("flex"), "{}", session.device);
    h.get_by_label("Pause").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(60), "pause", |a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Paused));
    let steps = h.state().state.session.as_ref().unwrap().history.len();
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(2);
    assert_eq!(h.state().state.session.as_ref().unwrap().history.len(), steps, "no steps while paused");
    assert!(h.state().state.session.as_ref().unwrap().snapshot.is_some(), "live reconstructions arrived");
    h.get_by_label("Resume").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(60), "more steps", |a| a.state.session.as_ref().is_some_and(|s| s.history.len() > steps));
    h.get_by_label("Stop").click();
    h.run_steps(1);
    step_until(&mut h, Duration::from_secs(60), "the run to finish", |a| a.state.session.as_ref().is_some_and(|s| s.status == RunStatus::Finished));
    let run_dir = h.state().state.session.as_ref().unwrap().run_dir.clone().unwrap();
    assert!(run_dir.join("checkpoint/model.bpk").is_file());
    let _ = std::fs::remove_dir_all(run_dir);
}

#[test]
fn dropped_images_open_and_bad_files_change_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90])).save(dir.path().join("a.png")).unwrap();
    std::fs::write(dir.path().join("broken.png"), b"\x89PNG\r\n\x1a\ntruncated").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    let mut h = harness();
    h.run_steps(2);
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

fn parts_view<'h>(h: &'h mut Harness<'static, PatchworkApp>) -> &'h mut patchwork::gui::views::parts::PartsView {
    let app = h.state_mut();
    let i = app.views.iter().position(|v| v.name() == "Parts").expect("a Parts tab");
    app.views[i].as_any_mut().downcast_mut().expect("the Parts view")
}

#[test]
fn parts_view_opens_on_the_shipped_patchvae_browses_a_part_and_refuses_other_models() {
    let cache = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("XDG_CACHE_HOME", cache.path()) };
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Parts").click();
    h.run_steps(1);
    let start = Instant::now();
    while parts_view(&mut h).result.is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "no analysis: {:?}", parts_view(&mut h).error);
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let view = parts_view(&mut h);
    let result = view.result.as_ref().unwrap();
    assert_eq!(result.parts(), 16);
    assert_eq!(result.analyses.len(), 6);
    assert!(result.analyses[0].probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
    view.selected = Some(3);
    h.run_steps(1);
    h.get_by_label("Build part browser").click();
    h.run_steps(1);
    let start = Instant::now();
    while parts_view(&mut h).index.is_none() {
        assert!(start.elapsed() < Duration::from_secs(180), "the part browser index did not finish");
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    h.run_steps(2);
    let index = parts_view(&mut h).index.clone().unwrap();
    assert_eq!((index.images, index.parts.len(), index.parts[3].hits.len()), (10_000, 16, 50));
    h.get_by_label("Part 3");
    // A β-VAE checkpoint (or any non-PatchVAE folder) is refused and the shipped model kept.
    let not_patchvae = tempfile::tempdir().unwrap();
    let generation = h.state().state.data.generation;
    let dir = not_patchvae.path().to_path_buf();
    {
        let app = h.state_mut();
        let i = app.views.iter().position(|v| v.name() == "Parts").unwrap();
        let (views, state) = (&mut app.views, &app.state);
        let view: &mut patchwork::gui::views::parts::PartsView = views[i].as_any_mut().downcast_mut().unwrap();
        view.open_checkpoint(dir.clone(), state);
    }
    step_until(&mut h, Duration::from_secs(30), "the refusal", |a| a.state.message.as_deref().is_some_and(|m| m.contains("Parts:")));
    let view = parts_view(&mut h);
    assert!(view.error.as_deref().is_some_and(|e| e.contains(&dir.display().to_string())), "{:?}", view.error);
    assert_eq!(view.result.as_ref().unwrap().parts(), 16, "the shipped model stays");
    assert_eq!(h.state().state.data.generation, generation);
}
