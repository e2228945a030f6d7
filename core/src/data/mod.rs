//! Image sources and the batch pipeline.
//!
//! Data flows one way: an [`ImageSource`] yields host images with optional labels,
//! [`fit::fit_image`] brings them to the model's size and channel count, and
//! [`loader::BatchLoader`] assembles shuffled batches on a background thread.

pub mod cifar;
pub mod dsprites;
pub mod embedded;
pub mod fit;
pub mod folder;
pub mod idx;
pub mod loader;
pub mod pools;
pub mod reference_style;
pub mod scenes;
pub mod spec;

use std::sync::Arc;

pub use fit::{HostImage, fit_image};
pub use loader::{Batch, BatchLoader, LoaderConfig};
pub use spec::{DataSpec, Split};

/// One image with whatever ground truth its source knows.
#[derive(Debug, Clone)]
pub struct Sample {
    pub image: HostImage,
    /// Class index, for labelled sources.
    pub label: Option<u32>,
    /// Continuous generative factors (dSprites-like: shape, scale, orientation, x, y).
    pub factors: Vec<f32>,
}

/// What a source holds, for display and for sizing models.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub name: String,
    /// Native channel count (1 = grey, 3 = RGB).
    pub channels: usize,
    /// Native (height, width); `None` when images vary in size.
    pub size: Option<(usize, usize)>,
    pub class_names: Vec<String>,
    /// Names of the continuous factors in [`Sample::factors`].
    pub factor_names: Vec<String>,
    /// Files that could not be read, with the reason (image folders only).
    pub skipped: Vec<(std::path::PathBuf, String)>,
}

/// A source of images (and optional labels). Indexing is random access so that
/// shuffling, splitting and the part browser can all address images by number.
pub trait ImageSource: Send + Sync {
    fn info(&self) -> &SourceInfo;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The image at `index` (< `len()`), in its native size.
    fn get(&self, index: usize) -> Sample;
    /// The label of the image at `index`; sources that know it without decoding the
    /// image (the two-pool sources) answer without.
    fn label(&self, index: usize) -> Option<u32> {
        self.get(index).label
    }
}

pub type SharedSource = Arc<dyn ImageSource>;

/// Errors raised while opening a source; each names the file or folder at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {reason}")]
    BadFile { path: String, reason: String },
    #[error("{path}: no usable image found{details}")]
    NoImages { path: String, details: String },
    #[error("unknown data source '{0}' (expected fashion-mnist, mnist, dsprites[:FACTOR], scenes[:N], folder:PATH, idx:PATH, cifar:PATH, reference-style[:DIGITS] or pools:REFERENCE|UNLABELLED)")]
    UnknownSpec(String),
}

/// A deterministic permutation of `0..len` drawn from `seed`.
pub fn permutation(len: usize, seed: u64) -> Vec<usize> {
    use rand::{SeedableRng, seq::SliceRandom};
    let mut order: Vec<usize> = (0..len).collect();
    let mut rng = crate::rng::SeededRng::seed_from_u64(seed);
    order.shuffle(&mut rng);
    order
}

/// A source restricted to a list of indices of another (a split or a subset).
pub struct Subset {
    inner: SharedSource,
    indices: Vec<usize>,
    info: SourceInfo,
}

impl Subset {
    pub fn new(inner: SharedSource, indices: Vec<usize>, label: &str) -> Self {
        let mut info = inner.info().clone();
        info.name = format!("{} ({label})", info.name);
        Self { inner, indices, info }
    }

    /// A deterministic train/test split of a source that has none of its own:
    /// the last `test_fraction` of a seeded permutation is the test split.
    pub fn split(inner: SharedSource, split: Split, test_fraction: f64, seed: u64) -> Self {
        let order = permutation(inner.len(), seed);
        let n_test = ((inner.len() as f64) * test_fraction).round() as usize;
        let cut = inner.len() - n_test.min(inner.len());
        let indices = match split {
            Split::Train => order[..cut].to_vec(),
            Split::Test => order[cut..].to_vec(),
        };
        Self::new(inner, indices, split.name())
    }
}

impl ImageSource for Subset {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn get(&self, index: usize) -> Sample {
        self.inner.get(self.indices[index])
    }
    fn label(&self, index: usize) -> Option<u32> {
        self.inner.label(self.indices[index])
    }
}
