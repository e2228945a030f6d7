//! `PATCHWORK_FRAME_LOG=path`: the window appends each frame's time to `path` as CSV, for
//! the soak test (`scripts/soak.sh`) and for anyone timing the window on their machine.

use std::io::Write;
use std::time::{Duration, Instant};

/// The environment variable naming the log file.
pub const FRAME_LOG_VAR: &str = "PATCHWORK_FRAME_LOG";

/// Frame times, written as `seconds,frame_ms` lines: seconds since the window opened, and
/// eframe's time for the previous frame (the UI and its rendering, waits for vsync left
/// out). Flushed once a second, so a killed window loses at most a second of it.
pub struct FrameLog {
    out: std::io::BufWriter<std::fs::File>,
    opened: Instant,
    flushed: Instant,
}

impl FrameLog {
    /// The log named by [`FRAME_LOG_VAR`], if set; a file that cannot be made is reported
    /// on stderr once and the window opens without a log.
    pub fn from_env() -> Option<Self> {
        let path = std::env::var_os(FRAME_LOG_VAR)?;
        match std::fs::File::create(&path) {
            Ok(file) => {
                let mut out = std::io::BufWriter::new(file);
                let _ = writeln!(out, "seconds,frame_ms");
                Some(Self { out, opened: Instant::now(), flushed: Instant::now() })
            }
            Err(e) => {
                eprintln!("{FRAME_LOG_VAR}: cannot create {}: {e}; no frame log", std::path::Path::new(&path).display());
                None
            }
        }
    }

    /// Records the previous frame's time (`None` on the first frame).
    pub fn record(&mut self, previous_frame_seconds: Option<f32>) {
        let Some(seconds) = previous_frame_seconds else { return };
        let _ = writeln!(self.out, "{:.3},{:.3}", self.opened.elapsed().as_secs_f64(), seconds * 1e3);
        if self.flushed.elapsed() > Duration::from_secs(1) {
            let _ = self.out.flush();
            self.flushed = Instant::now();
        }
    }
}
