//! Shuffled batches, assembled on a background thread so the model never waits.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::{SharedSource, fit_image, permutation};

/// A batch on the host: images in [−1, 1], batch × channels × size × size.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Global step this batch is for (epoch × steps_per_epoch + position).
    pub step: u64,
    pub epoch: u64,
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
    pub indices: Vec<usize>,
    pub batch_size: usize,
    pub channels: usize,
    pub size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub size: usize,
    pub channels: usize,
    pub seed: u64,
    /// How many batches may wait, ready, ahead of the model.
    pub prefetch: usize,
}

/// Epoch `e` visits the source in the order of a permutation seeded by (seed, e);
/// the last incomplete batch of an epoch is dropped so every step has the same shape.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    permutation(len, seed ^ epoch.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Fits and stacks the images at `indices`.
pub fn assemble(source: &SharedSource, indices: &[usize], size: usize, channels: usize) -> (Vec<f32>, Vec<u32>) {
    let mut images = Vec::with_capacity(indices.len() * channels * size * size);
    let mut labels = Vec::with_capacity(indices.len());
    for &i in indices {
        let sample = source.get(i);
        images.extend(fit_image(&sample.image, size, channels));
        labels.push(sample.label.unwrap_or(0));
    }
    (images, labels)
}

pub struct BatchLoader {
    receiver: Receiver<Batch>,
    worker: Option<JoinHandle<()>>,
    pub steps_per_epoch: u64,
}

impl BatchLoader {
    /// Starts producing batches from global step `start_step` on, epoch after epoch,
    /// until the loader is dropped.
    pub fn start(source: SharedSource, config: LoaderConfig, start_step: u64) -> Self {
        let batch = config.batch_size.min(source.len()).max(1);
        let steps_per_epoch = (source.len() / batch).max(1) as u64;
        let (sender, receiver) = sync_channel(config.prefetch.max(1));
        let worker = std::thread::Builder::new()
            .name("patchwork-batches".into())
            .spawn(move || produce(source, config, batch, steps_per_epoch, start_step, sender))
            .ok();
        Self { receiver, worker, steps_per_epoch }
    }

    /// The next batch; `None` only if the worker died.
    pub fn next_batch(&self) -> Option<Batch> {
        self.receiver.recv().ok()
    }
}

fn produce(source: SharedSource, config: LoaderConfig, batch: usize, steps_per_epoch: u64, start_step: u64, sender: SyncSender<Batch>) {
    let mut step = start_step;
    loop {
        let epoch = step / steps_per_epoch;
        let order = epoch_order(source.len(), config.seed, epoch);
        while step / steps_per_epoch == epoch {
            let pos = (step % steps_per_epoch) as usize * batch;
            let indices = order[pos..pos + batch].to_vec();
            let (images, labels) = assemble(&source, &indices, config.size, config.channels);
            let b = Batch { step, epoch, images, labels, indices, batch_size: batch, channels: config.channels, size: config.size };
            if sender.send(b).is_err() {
                return; // The trainer is gone.
            }
            step += 1;
        }
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        // Unblock the worker (its send fails once the receiver is gone), then join it.
        let (_, dummy) = sync_channel(1);
        drop(std::mem::replace(&mut self.receiver, dummy));
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataSpec, Split};

    #[test]
    fn batches_are_deterministic_and_resume_at_any_step() {
        let src = DataSpec::Embedded(crate::data::embedded::EmbeddedSet::Mnist).open(Split::Test, 32).unwrap();
        let cfg = LoaderConfig { batch_size: 300, size: 32, channels: 1, seed: 7, prefetch: 2 };
        let a = BatchLoader::start(src.clone(), cfg, 0);
        assert_eq!(a.steps_per_epoch, 6); // 2000 / 300, last partial batch dropped
        let first: Vec<Batch> = (0..9).map(|_| a.next_batch().unwrap()).collect();
        assert_eq!(first[0].images.len(), 300 * 32 * 32);
        assert!(first[0].images.iter().all(|v| (-1.0..=1.0).contains(v)));
        // Each epoch visits distinct images, in a different order from the last.
        let mut seen: Vec<usize> = first[..6].iter().flat_map(|b| b.indices.clone()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 1800);
        assert_ne!(first[0].indices, first[6].indices);
        let b = BatchLoader::start(src, cfg, 7);
        let resumed = b.next_batch().unwrap();
        assert_eq!((resumed.step, resumed.epoch), (7, 1));
        assert_eq!(resumed.indices, first[7].indices);
        assert_eq!(resumed.images, first[7].images);
    }
}
