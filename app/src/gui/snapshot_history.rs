//! A run's past snapshots (inputs, reconstructions, samples or mixes) for the Train view's
//! step slider, as TensorBoard's image slider (tensorboard#469): the whole run so far at a
//! resolution that halves each time the history fills, so memory stays bounded however
//! long the run. The weights are not kept (a snapshot's model shares the run's tensors of
//! its step; a history of them would hold every step's weights).

use patchwork_core::train::Snapshot;

pub struct SnapshotHistory {
    kept: Vec<Snapshot>,
    /// Steps between two kept snapshots at least (0: every one is kept).
    gap: u64,
    capacity: usize,
}

impl Default for SnapshotHistory {
    fn default() -> Self {
        Self::with_capacity(64)
    }
}

impl SnapshotHistory {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { kept: vec![], gap: 0, capacity: capacity.max(2) }
    }

    /// Keeps `snapshot` (without its weights) if it is far enough from the last one kept;
    /// when full, every other one is let go and the gap doubles.
    pub fn push(&mut self, snapshot: &Snapshot) {
        if let Some(last) = self.kept.last() {
            if snapshot.step < last.step.saturating_add(self.gap.max(1)) {
                return;
            }
        }
        self.kept.push(Snapshot { model: None, ..snapshot.clone() });
        if self.kept.len() > self.capacity {
            let mut index = 0;
            self.kept.retain(|_| {
                index += 1;
                index % 2 == 1
            });
            let (first, last) = (self.kept.first().map_or(0, |s| s.step), self.kept.last().map_or(0, |s| s.step));
            self.gap = ((last - first) / (self.kept.len() as u64 - 1).max(1)).max(self.gap.saturating_mul(2)).max(1);
        }
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&Snapshot> {
        self.kept.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: u64) -> Snapshot {
        Snapshot { step, inputs: vec![], reconstructions: vec![], extras: vec![], model: None }
    }

    #[test]
    fn a_long_run_is_kept_whole_at_a_coarser_step_and_never_past_capacity() {
        let mut history = SnapshotHistory::with_capacity(8);
        for step in 0..=1000 {
            history.push(&at(step));
            assert!(history.len() <= 8);
        }
        let steps: Vec<u64> = (0..history.len()).filter_map(|i| history.get(i)).map(|s| s.step).collect();
        assert_eq!(steps[0], 0, "the start stays");
        assert!(*steps.last().unwrap() > 800, "the recent past is there: {steps:?}");
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "in order: {steps:?}");
        // Evenly spread: no gap more than twice another.
        let gaps: Vec<u64> = steps.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().max().unwrap() <= &(2 * gaps.iter().min().unwrap()), "{steps:?}");
        // The same step twice (a snapshot after a pause) is kept once.
        let mut once = SnapshotHistory::default();
        once.push(&at(5));
        once.push(&at(5));
        assert_eq!(once.len(), 1);
    }
}
