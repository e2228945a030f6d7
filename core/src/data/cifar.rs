//! CIFAR-10 / CIFAR-100 in their binary versions, from a folder the user owns.
//!
//! CIFAR-10: `data_batch_{1..5}.bin` and `test_batch.bin`, records of 1 label byte + 3072
//! pixel bytes. CIFAR-100: `train.bin` and `test.bin`, records of 2 label bytes (coarse,
//! fine; the fine label is used) + 3072 pixel bytes. Pixels are planar R, G, B, 32×32.

use std::path::Path;

use super::{DataError, HostImage, ImageSource, Sample, SourceInfo, Split};

const PIXELS: usize = 3 * 32 * 32;
const CIFAR10_CLASSES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

pub struct CifarSource {
    info: SourceInfo,
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl CifarSource {
    pub fn open(dir: &Path, split: Split) -> Result<Self, DataError> {
        let bad = |path: &Path, reason: String| DataError::BadFile { path: path.display().to_string(), reason };
        let (files, label_bytes, classes): (Vec<String>, usize, usize) = if dir.join("test_batch.bin").is_file() {
            let files = match split {
                Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
                Split::Test => vec!["test_batch.bin".into()],
            };
            (files, 1, 10)
        } else if dir.join("test.bin").is_file() {
            (vec![format!("{}.bin", split.name())], 2, 100)
        } else {
            return Err(bad(dir, "not a CIFAR binary folder (expected test_batch.bin or test.bin)".into()));
        };
        let record = label_bytes + PIXELS;
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        for name in files {
            let path = dir.join(&name);
            let bytes = std::fs::read(&path).map_err(|e| bad(&path, e.to_string()))?;
            if bytes.is_empty() || bytes.len() % record != 0 {
                return Err(bad(&path, format!("{} bytes is not a whole number of {record}-byte records", bytes.len())));
            }
            for rec in bytes.chunks_exact(record) {
                let label = rec[label_bytes - 1];
                if label as usize >= classes {
                    return Err(bad(&path, format!("label {label} out of range for {classes} classes")));
                }
                labels.push(label);
                images.extend_from_slice(&rec[label_bytes..]);
            }
        }
        let class_names = if classes == 10 {
            CIFAR10_CLASSES.map(String::from).to_vec()
        } else {
            (0..classes).map(|c| c.to_string()).collect()
        };
        Ok(Self {
            info: SourceInfo {
                name: format!("cifar-{classes}"),
                channels: 3,
                size: Some((32, 32)),
                class_names,
                factor_names: vec![],
                skipped: vec![],
            },
            images,
            labels,
        })
    }
}

impl ImageSource for CifarSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn get(&self, index: usize) -> Sample {
        let planar = &self.images[index * PIXELS..(index + 1) * PIXELS];
        let mut pixels = vec![0u8; PIXELS];
        for c in 0..3 {
            for p in 0..1024 {
                pixels[p * 3 + c] = planar[c * 1024 + p];
            }
        }
        Sample { image: HostImage::new(32, 32, 3, pixels), label: Some(self.labels[index] as u32), factors: vec![] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cifar10_records_and_refuses_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = vec![7u8];
        rec.extend((0..PIXELS).map(|i| (i / 1024) as u8 * 100)); // R=0, G=100, B=200
        std::fs::write(dir.path().join("test_batch.bin"), [rec.clone(), rec.clone()].concat()).unwrap();
        let src = CifarSource::open(dir.path(), Split::Test).unwrap();
        assert_eq!(src.len(), 2);
        let s = src.get(1);
        assert_eq!(s.label, Some(7));
        assert_eq!(&s.image.pixels[..3], &[0, 100, 200]);
        assert_eq!(src.info().class_names[7], "horse");
        let err = CifarSource::open(dir.path(), Split::Train).err().unwrap().to_string();
        assert!(err.contains("data_batch_1.bin"), "{err}");
        std::fs::write(dir.path().join("test_batch.bin"), &rec[..100]).unwrap();
        let err = CifarSource::open(dir.path(), Split::Test).err().unwrap().to_string();
        assert!(err.contains("test_batch.bin") && err.contains("records"), "{err}");
    }
}
