//! Naming a data source on the command line or in a config: `fashion-mnist`, `mnist`,
//! `dsprites[:FACTOR]` (classed by shape, or by scale, orientation, x or y), `scenes[:N]` (quadrant scenes, N training scenes), `folder:PATH`, `idx:PATH`,
//! `cifar:PATH`, `reference-style[:DIGITS]` (the reference-style MNIST built on a digit
//! source, `mnist` by default), `pools:REFERENCE|UNLABELLED` (two sources as the two pools
//! of reference-based training).

use std::path::PathBuf;
use std::sync::Arc;

use super::{
    DataError, SharedSource, Subset, cifar::CifarSource, dsprites::DSpritesSource, embedded::EmbeddedSet,
    folder::FolderSource, idx::IdxSource,
    scenes::{DEFAULT_TRAIN_SCENES, QuadrantScenes},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// Sources without their own test split hold out this fraction, drawn with a fixed seed.
pub const HELD_OUT_FRACTION: f64 = 0.1;
const SPLIT_SEED: u64 = 0x5eed_5911;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DataSpec {
    Embedded(EmbeddedSet),
    /// dSprites-like, classed by the factor of this index in `dsprites::FACTOR_NAMES` (0:
    /// shape).
    DSprites(usize),
    Folder(PathBuf),
    Idx(PathBuf),
    Cifar(PathBuf),
    /// Procedural quadrant scenes (mixing scenes); the number of training scenes.
    Scenes(usize),
    /// The reference-style MNIST (reference-based VAE) built on a digit source.
    ReferenceStyle(Box<DataSpec>),
    /// Two sources as the reference and unlabelled pools of reference-based training.
    Pools { reference: Box<DataSpec>, unlabelled: Box<DataSpec> },
}

impl std::str::FromStr for DataSpec {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        let (kind, path) = match s.split_once(':') {
            Some((k, p)) => (k, Some(PathBuf::from(p))),
            None => (s, None),
        };
        match (kind.to_ascii_lowercase().as_str(), path) {
            ("fashion-mnist" | "fashion_mnist" | "fmnist", None) => Ok(Self::Embedded(EmbeddedSet::FashionMnist)),
            ("mnist", None) => Ok(Self::Embedded(EmbeddedSet::Mnist)),
            ("dsprites" | "dsprites-like", None) => Ok(Self::DSprites(0)),
            ("dsprites" | "dsprites-like", Some(factor)) => match super::dsprites::FACTOR_NAMES.iter().position(|n| *n == factor.to_string_lossy()) {
                Some(k) => Ok(Self::DSprites(k)),
                None => Err(DataError::UnknownSpec(format!("{s} (dsprites takes a factor as its classes: dsprites:{})", super::dsprites::FACTOR_NAMES.join("|")))),
            },
            ("folder", Some(p)) => Ok(Self::Folder(p)),
            ("idx", Some(p)) => Ok(Self::Idx(p)),
            ("cifar", Some(p)) => Ok(Self::Cifar(p)),
            ("scenes" | "quadrant-scenes", None) => Ok(Self::Scenes(DEFAULT_TRAIN_SCENES)),
            ("reference-style", None) => Ok(Self::ReferenceStyle(Box::new(Self::Embedded(EmbeddedSet::Mnist)))),
            ("reference-style", Some(base)) => Ok(Self::ReferenceStyle(Box::new(base.to_string_lossy().parse()?))),
            ("pools", Some(both)) => {
                let both = both.to_string_lossy();
                let Some((reference, unlabelled)) = both.split_once('|') else {
                    return Err(DataError::UnknownSpec(format!("{s} (two pools are written pools:REFERENCE|UNLABELLED)")));
                };
                Ok(Self::Pools { reference: Box::new(reference.parse()?), unlabelled: Box::new(unlabelled.parse()?) })
            }
            ("scenes" | "quadrant-scenes", Some(n)) => match n.to_str().and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n > 0 => Ok(Self::Scenes(n)),
                _ => Err(DataError::UnknownSpec(s.to_string())),
            },
            _ => Err(DataError::UnknownSpec(s.to_string())),
        }
    }
}

impl std::fmt::Display for DataSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded(set) => write!(f, "{}", set.name()),
            Self::DSprites(0) => write!(f, "dsprites"),
            Self::DSprites(k) => write!(f, "dsprites:{}", super::dsprites::FACTOR_NAMES.get(*k).copied().unwrap_or("shape")),
            Self::Folder(p) => write!(f, "folder:{}", p.display()),
            Self::Idx(p) => write!(f, "idx:{}", p.display()),
            Self::Cifar(p) => write!(f, "cifar:{}", p.display()),
            Self::Scenes(DEFAULT_TRAIN_SCENES) => write!(f, "scenes"),
            Self::Scenes(n) => write!(f, "scenes:{n}"),
            Self::ReferenceStyle(base) if **base == Self::Embedded(EmbeddedSet::Mnist) => write!(f, "reference-style"),
            Self::ReferenceStyle(base) => write!(f, "reference-style:{base}"),
            Self::Pools { reference, unlabelled } => write!(f, "pools:{reference}|{unlabelled}"),
        }
    }
}

impl DataSpec {
    /// The channels its images have (before opening it; image folders are taken as colour).
    pub fn native_channels(&self) -> usize {
        match self {
            Self::Cifar(_) | Self::Folder(_) | Self::Scenes(_) | Self::ReferenceStyle(_) => 3,
            Self::Pools { unlabelled, .. } => unlabelled.native_channels(),
            Self::Embedded(_) | Self::DSprites(_) | Self::Idx(_) => 1,
        }
    }

    /// Opens one split. `size` matters only to image folders, which are decoded
    /// once at that size.
    pub fn open(&self, split: Split, size: usize) -> Result<SharedSource, DataError> {
        Ok(match self {
            Self::Embedded(set) => Arc::new(set.open(split)?),
            Self::Idx(dir) => Arc::new(IdxSource::open_dir(dir, split)?),
            Self::Cifar(dir) => Arc::new(CifarSource::open(dir, split)?),
            Self::Scenes(n) => Arc::new(QuadrantScenes::open(split, *n)?),
            Self::DSprites(k) => Arc::new(Subset::split(Arc::new(DSpritesSource::with_class_factor(*k)), split, HELD_OUT_FRACTION, SPLIT_SEED)),
            Self::ReferenceStyle(base) => super::reference_style::ReferenceStyle::open(base.open(split, 28)?, split),
            Self::Pools { reference, unlabelled } => super::pools::open(reference.open(split, size)?, unlabelled.open(split, size)?)?,
            Self::Folder(dir) => {
                Arc::new(Subset::split(Arc::new(FolderSource::open(dir, size)?), split, HELD_OUT_FRACTION, SPLIT_SEED))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_specs() {
        for s in ["fashion-mnist", "mnist", "dsprites", "folder:/tmp/x", "idx:data/mnist", "cifar:/c", "dsprites:scale", "dsprites:y", "scenes", "scenes:500", "reference-style", "reference-style:idx:data/mnist", "pools:folder:/faces/neutral|folder:/faces/all"] {
            let spec: DataSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
        }
        assert!("imagenet".parse::<DataSpec>().is_err());
        assert!("folder".parse::<DataSpec>().is_err());
        assert!("scenes:many".parse::<DataSpec>().is_err() && "scenes:0".parse::<DataSpec>().is_err());
        assert!("pools:folder:/a".parse::<DataSpec>().unwrap_err().to_string().contains("pools:REFERENCE|UNLABELLED"));
        assert_eq!("reference-style:mnist".parse::<DataSpec>().unwrap().to_string(), "reference-style");
        assert_eq!("dsprites:shape".parse::<DataSpec>().unwrap().to_string(), "dsprites");
        assert!("dsprites:colour".parse::<DataSpec>().unwrap_err().to_string().contains("dsprites:shape|scale|orientation|x|y"));
    }

    #[test]
    fn splits_are_disjoint_and_deterministic() {
        let train = DataSpec::DSprites(0).open(Split::Train, 64).unwrap();
        let test = DataSpec::DSprites(0).open(Split::Test, 64).unwrap();
        assert_eq!(train.len() + test.len(), 737_280);
        assert_eq!(test.len(), 73_728);
        let again = DataSpec::DSprites(0).open(Split::Test, 64).unwrap();
        assert_eq!(test.get(5).factors, again.get(5).factors);
    }
}
