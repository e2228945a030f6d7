//! Background work for views: one job in flight per view, and only the latest request
//! waiting behind it, so dragging a slider never queues up stale work.

use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::{Duration, Instant};

type Work<T> = Box<dyn FnOnce() -> T + Send>;

/// Keeps a finished job's outcome in a view: the result (clearing an old error), or the
/// error (keeping the last good result on screen).
pub fn store<T>(outcome: Result<T, String>, result: &mut Option<T>, error: &mut Option<String>) {
    match outcome {
        Ok(r) => {
            *error = None;
            *result = Some(r);
        }
        Err(e) => *error = Some(e),
    }
}

pub struct LatestJob<T> {
    running: Option<Receiver<(T, Duration)>>,
    waiting: Option<Work<T>>,
    /// How long the last finished job computed, timed on its own thread: the UI notices
    /// the result at its next frame, which on a software renderer can be much later.
    pub last_duration: Option<Duration>,
}

impl<T> Default for LatestJob<T> {
    fn default() -> Self {
        Self { running: None, waiting: None, last_duration: None }
    }
}

impl<T: Send + 'static> LatestJob<T> {
    /// Runs `work` on a background thread, or after the job in flight (replacing any
    /// request already waiting).
    pub fn request(&mut self, work: impl FnOnce() -> T + Send + 'static) {
        if self.running.is_some() {
            self.waiting = Some(Box::new(work));
        } else {
            self.start(Box::new(work));
        }
    }

    fn start(&mut self, work: Work<T>) {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let started = Instant::now();
            let result = work();
            let _ = tx.send((result, started.elapsed()));
        });
        self.running = Some(rx);
    }

    /// The result of the job that just finished, if one did; starts the waiting request.
    pub fn poll(&mut self) -> Option<T> {
        let rx = self.running.as_ref()?;
        let result = match rx.try_recv() {
            Ok((result, took)) => {
                self.last_duration = Some(took);
                Some(result)
            }
            Err(TryRecvError::Empty) => return None,
            // The work panicked: report nothing, but do not stay busy forever.
            Err(TryRecvError::Disconnected) => None,
        };
        self.running = None;
        if let Some(work) = self.waiting.take() {
            self.start(work);
        }
        result
    }

    pub fn busy(&self) -> bool {
        self.running.is_some() || self.waiting.is_some()
    }

    /// Waits for everything requested so far (tests only: the UI never blocks).
    pub fn wait(&mut self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while self.busy() && Instant::now() < deadline {
            if let Some(r) = self.poll() {
                last = Some(r);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_latest_waiting_request_runs() {
        let mut job = LatestJob::default();
        let (gate_tx, gate_rx) = channel::<()>();
        job.request(move || {
            let _ = gate_rx.recv();
            1
        });
        job.request(|| 2);
        job.request(|| 3);
        let _ = gate_tx.send(());
        let mut seen = vec![];
        let deadline = Instant::now() + Duration::from_secs(5);
        while job.busy() && Instant::now() < deadline {
            seen.extend(job.poll());
        }
        assert_eq!(seen, vec![1, 3]);
    }
}
