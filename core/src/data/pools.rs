//! Two image pools in one source, for reference-based training (Ruiz et al.'s unlabelled
//! and reference sets): images are labelled by pool, [`UNLABELLED`] first, then
//! [`REFERENCE`]. `pools:REFERENCE|UNLABELLED` builds one from any two sources (a user's
//! neutral faces and all faces, two image folders); the reference-style MNIST
//! ([`super::reference_style`]) is one by construction.

use std::sync::Arc;

use super::{DataError, ImageSource, Sample, SharedSource, SourceInfo};

/// The pool label of an unlabelled image.
pub const UNLABELLED: u32 = 0;
/// The pool label of a reference image.
pub const REFERENCE: u32 = 1;
/// The class names of a two-pool source, in label order.
pub const POOL_NAMES: [&str; 2] = ["unlabelled", "reference"];

/// Whether `info` describes a two-pool source.
pub fn is_two_pool(info: &SourceInfo) -> bool {
    info.class_names.iter().map(String::as_str).eq(POOL_NAMES)
}

/// The image numbers of each pool of a two-pool source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolIndices {
    pub unlabelled: Vec<usize>,
    pub reference: Vec<usize>,
}

impl PoolIndices {
    /// Reads the pool of every image of `source` (labels only: no image is decoded where
    /// the source knows its labels without). A source that is not two pools is all
    /// unlabelled (its labels are classes, not pools).
    pub fn of(source: &dyn ImageSource) -> Self {
        if !is_two_pool(source.info()) {
            return Self { unlabelled: (0..source.len()).collect(), reference: vec![] };
        }
        let mut pools = Self::default();
        for i in 0..source.len() {
            match source.label(i) {
                Some(REFERENCE) => pools.reference.push(i),
                _ => pools.unlabelled.push(i),
            }
        }
        pools
    }
}

/// Two sources as one: the unlabelled pool's images, then the reference pool's.
pub struct TwoPools {
    unlabelled: SharedSource,
    reference: SharedSource,
    info: SourceInfo,
}

impl TwoPools {
    /// Joins two pools; refused when either is empty or they differ in channels or size
    /// (grey references for colour images are a mistake more often than a choice).
    pub fn new(reference: SharedSource, unlabelled: SharedSource) -> Result<Self, DataError> {
        let (r, u) = (reference.info(), unlabelled.info());
        let refuse = |reason: String| DataError::BadFile { path: format!("pools:{}|{}", r.name, u.name), reason };
        for (pool, source) in [("reference", &reference), ("unlabelled", &unlabelled)] {
            if source.is_empty() {
                return Err(refuse(format!("the {pool} pool ({}) holds no image", source.info().name)));
            }
        }
        if r.channels != u.channels {
            return Err(refuse(format!("the reference pool has {} channel(s) and the unlabelled pool {}; both pools must be grey or both colour", r.channels, u.channels)));
        }
        if let (Some(rs), Some(us)) = (r.size, u.size)
            && rs != us
        {
            return Err(refuse(format!("the reference pool's images are {}×{} and the unlabelled pool's {}×{}; both pools must have one size", rs.1, rs.0, us.1, us.0)));
        }
        let mut skipped = u.skipped.clone();
        skipped.extend(r.skipped.iter().cloned());
        let info = SourceInfo {
            name: format!("{} + reference {}", u.name, r.name),
            channels: u.channels,
            size: u.size,
            class_names: POOL_NAMES.map(String::from).to_vec(),
            factor_names: if u.factor_names == r.factor_names { u.factor_names.clone() } else { vec![] },
            skipped,
        };
        Ok(Self { unlabelled, reference, info })
    }

    pub fn pool_sizes(&self) -> (usize, usize) {
        (self.unlabelled.len(), self.reference.len())
    }
}

impl ImageSource for TwoPools {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn len(&self) -> usize {
        self.unlabelled.len() + self.reference.len()
    }
    fn get(&self, index: usize) -> Sample {
        let n = self.unlabelled.len();
        let (mut sample, pool) = if index < n { (self.unlabelled.get(index), UNLABELLED) } else { (self.reference.get(index - n), REFERENCE) };
        sample.label = Some(pool);
        if self.info.factor_names.is_empty() {
            sample.factors.clear();
        }
        sample
    }
    fn label(&self, index: usize) -> Option<u32> {
        Some(if index < self.unlabelled.len() { UNLABELLED } else { REFERENCE })
    }
}

/// Opens `pools:REFERENCE|UNLABELLED`'s two sources as one.
pub fn open(reference: SharedSource, unlabelled: SharedSource) -> Result<SharedSource, DataError> {
    Ok(Arc::new(TwoPools::new(reference, unlabelled)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::HostImage;

    struct Plain(SourceInfo, usize);
    impl ImageSource for Plain {
        fn info(&self) -> &SourceInfo {
            &self.0
        }
        fn len(&self) -> usize {
            self.1
        }
        fn get(&self, _index: usize) -> Sample {
            let (h, w) = self.0.size.unwrap_or((8, 8));
            Sample { image: HostImage::new(w, h, self.0.channels, vec![0; w * h * self.0.channels]), label: Some(1), factors: vec![] }
        }
    }

    fn plain(name: &str, channels: usize, size: usize, n: usize) -> SharedSource {
        let info = SourceInfo { name: name.into(), channels, size: Some((size, size)), class_names: vec![], factor_names: vec![], skipped: vec![] };
        Arc::new(Plain(info, n))
    }

    #[test]
    fn pools_are_labelled_unlabelled_first_then_reference() {
        let pools = TwoPools::new(plain("neutral", 3, 8, 2), plain("all", 3, 8, 5)).unwrap();
        assert_eq!(pools.pool_sizes(), (5, 2));
        assert!(is_two_pool(pools.info()));
        let labels: Vec<Option<u32>> = (0..pools.len()).map(|i| pools.get(i).label).collect();
        assert_eq!(labels, [0, 0, 0, 0, 0, 1, 1].map(Some).to_vec());
        let indices = PoolIndices::of(&pools);
        assert_eq!((indices.unlabelled, indices.reference), ((0..5).collect(), vec![5, 6]));
        // A labelled set that is not two pools: its label 1 is a class, not the reference pool.
        let digits = PoolIndices::of(plain("digits", 1, 8, 3).as_ref());
        assert_eq!((digits.unlabelled, digits.reference), (vec![0, 1, 2], vec![]));
    }

    #[test]
    fn an_empty_pool_or_pools_that_do_not_match_are_refused_by_name() {
        let empty = TwoPools::new(plain("neutral", 3, 8, 0), plain("all", 3, 8, 5)).err().unwrap().to_string();
        assert!(empty.contains("reference pool (neutral) holds no image"), "{empty}");
        let channels = TwoPools::new(plain("neutral", 1, 8, 2), plain("all", 3, 8, 5)).err().unwrap().to_string();
        assert!(channels.contains("1 channel(s)") && channels.contains("both pools must be grey or both colour"), "{channels}");
        let sizes = TwoPools::new(plain("neutral", 3, 16, 2), plain("all", 3, 8, 5)).err().unwrap().to_string();
        assert!(sizes.contains("16×16") && sizes.contains("8×8"), "{sizes}");
    }
}
