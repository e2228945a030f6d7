//! The Fashion-MNIST and MNIST subsets compiled into the binary (see assets/LICENSES.md).

use super::{DataError, Split, idx::IdxSource};

/// The datasets that ship inside the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EmbeddedSet {
    FashionMnist,
    Mnist,
}

impl EmbeddedSet {
    pub const ALL: [EmbeddedSet; 2] = [EmbeddedSet::FashionMnist, EmbeddedSet::Mnist];

    pub fn name(self) -> &'static str {
        match self {
            EmbeddedSet::FashionMnist => "fashion-mnist",
            EmbeddedSet::Mnist => "mnist",
        }
    }

    fn bytes(self, split: Split) -> (&'static [u8], &'static [u8]) {
        macro_rules! pair {
            ($set:literal, $split:literal) => {
                (
                    include_bytes!(concat!("../../../assets/", $set, "/", $split, "-images-idx3-ubyte.gz")).as_slice(),
                    include_bytes!(concat!("../../../assets/", $set, "/", $split, "-labels-idx1-ubyte.gz")).as_slice(),
                )
            };
        }
        match (self, split) {
            (EmbeddedSet::FashionMnist, Split::Train) => pair!("fashion-mnist", "train"),
            (EmbeddedSet::FashionMnist, Split::Test) => pair!("fashion-mnist", "t10k"),
            (EmbeddedSet::Mnist, Split::Train) => pair!("mnist", "train"),
            (EmbeddedSet::Mnist, Split::Test) => pair!("mnist", "t10k"),
        }
    }

    /// Decodes the embedded split (10,000 training or 2,000 test images).
    pub fn open(self, split: Split) -> Result<IdxSource, DataError> {
        let (images, labels) = self.bytes(split);
        IdxSource::from_bytes(self.name(), images, Some(labels), &format!("embedded {}", self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageSource;

    #[test]
    fn embedded_sets_decode_with_balanced_labels() {
        for set in EmbeddedSet::ALL {
            let train = set.open(Split::Train).unwrap();
            let test = set.open(Split::Test).unwrap();
            assert_eq!((train.len(), test.len()), (10_000, 2_000));
            assert_eq!(train.info().size, Some((28, 28)));
            let mut counts = [0usize; 10];
            for i in 0..train.len() {
                counts[train.get(i).label.unwrap() as usize] += 1;
            }
            assert!(counts.iter().all(|&c| c > 800), "{set:?}: {counts:?}");
        }
    }
}
