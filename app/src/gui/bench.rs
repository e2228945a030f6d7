//! `patchwork bench --ui`: the explorer's frame time while a PatchVAE trains on the
//! chosen device (`--device`; `auto` picks the GPU where there is one), measured headless
//! (layout and tessellation on the UI thread; the GPU draw is not included). The tabs cycle Train, Parts, Swap, Traverse, so each view's work counts.

use std::time::{Duration, Instant};

use patchwork_core::device::DeviceChoice;

use super::PatchworkApp;

#[derive(Debug, serde::Serialize)]
pub struct FrameReport {
    pub frames: usize,
    pub seconds: f64,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    /// Frames per second the UI thread could sustain at the 95th-percentile frame time.
    pub fps_at_p95: f64,
    pub training_steps: usize,
    /// The training run's device, as the Train view states it.
    pub training_device: String,
    pub per_tab_median_ms: Vec<(String, f64)>,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

pub fn frame_times(seconds: f64, json: bool, device: DeviceChoice) -> anyhow::Result<()> {
    super::set_training_threads(None);
    let ctx = egui::Context::default();
    let mut app = PatchworkApp::with_settings(None, device);
    let raw = || egui::RawInput { screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 820.0))), ..Default::default() };
    let frame = |app: &mut PatchworkApp| {
        let start = Instant::now();
        let mut out = ctx.run_ui(raw(), |ui| app.frame_ui(ui));
        let _ = ctx.tessellate(std::mem::take(&mut out.shapes), out.pixels_per_point);
        // Headless: no renderer takes the texture uploads.
        out.textures_delta.clear();
        start.elapsed().as_secs_f64() * 1e3
    };
    // Wait for the shipped model, then start the default PatchVAE run.
    let ready = Instant::now();
    while app.state.model.is_loading() && ready.elapsed() < Duration::from_secs(60) {
        frame(&mut app);
        std::thread::sleep(Duration::from_millis(16));
    }
    super::views::train::start_training(&mut app.state);
    while app.state.session.as_ref().is_some_and(|s| s.history.is_empty()) && ready.elapsed() < Duration::from_secs(120) {
        frame(&mut app);
        std::thread::sleep(Duration::from_millis(16));
    }
    let tabs: Vec<(usize, String)> = app.views.iter().enumerate().filter(|(_, v)| matches!(v.name(), "Train" | "Parts" | "Swap" | "Traverse")).map(|(i, v)| (i, v.name().to_string())).collect();
    let steps_before = app.state.session.as_ref().map_or(0, |s| s.history.len());
    let mut times = Vec::new();
    let mut per_tab: Vec<Vec<f64>> = vec![vec![]; tabs.len()];
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        let k = (start.elapsed().as_secs_f64() as usize) % tabs.len().max(1);
        app.state.settings.tab = tabs[k].0;
        let t = frame(&mut app);
        times.push(t);
        per_tab[k].push(t);
        // Pace at 60 frames/s as a window would.
        std::thread::sleep(Duration::from_secs_f64((1.0 / 60.0 - t / 1e3).max(0.0)));
    }
    let training_steps = app.state.session.as_ref().map_or(0, |s| s.history.len()) - steps_before;
    let training_device = app.state.session.as_ref().map_or_else(|| "no run".to_string(), |s| s.device.clone());
    // The run was only load: stop it and remove its folder.
    let run_dir = app.state.session.take().and_then(|s| s.run_dir.clone());
    if let Some(dir) = run_dir {
        std::thread::sleep(Duration::from_secs(2));
        let _ = std::fs::remove_dir_all(dir);
    }
    times.sort_by(f64::total_cmp);
    let report = FrameReport {
        frames: times.len(),
        seconds,
        median_ms: percentile(&times, 0.5),
        p95_ms: percentile(&times, 0.95),
        max_ms: times.last().copied().unwrap_or(f64::NAN),
        fps_at_p95: 1e3 / percentile(&times, 0.95),
        training_steps,
        training_device,
        per_tab_median_ms: tabs
            .iter()
            .zip(per_tab)
            .map(|((_, name), mut v)| {
                v.sort_by(f64::total_cmp);
                (name.clone(), percentile(&v, 0.5))
            })
            .collect(),
    };
    if json {
        crate::say!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::say!(
            "{} frames in {:.0} s while training ({} steps on {}): median {:.2} ms, p95 {:.2} ms, max {:.2} ms → {:.0} frames/s at p95; per tab median: {}",
            report.frames,
            report.seconds,
            report.training_steps,
            report.training_device,
            report.median_ms,
            report.p95_ms,
            report.max_ms,
            report.fps_at_p95,
            report.per_tab_median_ms.iter().map(|(n, v)| format!("{n} {v:.2} ms")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}
