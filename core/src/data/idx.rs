//! IDX files (the MNIST family's format), plain or gzip-compressed.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{DataError, HostImage, ImageSource, Sample, SourceInfo, Split};

/// An IDX image set held in memory: `count` grey images of `rows × cols`.
pub struct IdxSource {
    info: SourceInfo,
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
    labels: Option<Vec<u8>>,
}

const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
];

/// Class names for a dataset name, digits otherwise.
pub fn class_names_for(name: &str, n: usize) -> Vec<String> {
    if name.contains("fashion") && n == 10 {
        FASHION_CLASSES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..n).map(|i| i.to_string()).collect()
    }
}

impl IdxSource {
    /// Builds a source from in-memory IDX bytes (gzip or plain, detected).
    pub fn from_bytes(name: &str, images: &[u8], labels: Option<&[u8]>, origin: &str) -> Result<Self, DataError> {
        let bad = |reason: String| DataError::BadFile { path: origin.to_string(), reason };
        let images = maybe_gunzip(images).map_err(|e| bad(format!("cannot decompress images: {e}")))?;
        let (dims, pixels) = parse_idx(&images).map_err(bad)?;
        if dims.len() != 3 {
            return Err(bad(format!("expected a 3-D IDX image file, found {} dimensions", dims.len())));
        }
        let (count, rows, cols) = (dims[0], dims[1], dims[2]);
        let labels = match labels {
            Some(raw) => {
                let raw = maybe_gunzip(raw).map_err(|e| bad(format!("cannot decompress labels: {e}")))?;
                let (ldims, l) = parse_idx(&raw).map_err(bad)?;
                if ldims.len() != 1 || ldims[0] != count {
                    return Err(bad(format!("{} labels for {count} images", ldims.first().copied().unwrap_or(0))));
                }
                Some(l.to_vec())
            }
            None => None,
        };
        let n_classes = labels.as_ref().map_or(0, |l| l.iter().copied().max().map_or(0, |m| m as usize + 1));
        Ok(Self {
            info: SourceInfo {
                name: name.to_string(),
                channels: 1,
                size: Some((rows, cols)),
                class_names: class_names_for(name, n_classes),
                factor_names: vec![],
                skipped: vec![],
            },
            rows,
            cols,
            pixels: pixels.to_vec(),
            labels,
        })
    }

    /// Opens the standard file pair of `split` in `dir`
    /// (`train-images-idx3-ubyte[.gz]` + labels, or `t10k-…` for the test split).
    pub fn open_dir(dir: &Path, split: Split) -> Result<Self, DataError> {
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let images_path = find_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let images = read(&images_path)?;
        let labels = match find_file(dir, &format!("{prefix}-labels-idx1-ubyte")) {
            Ok(p) => Some(read(&p)?),
            Err(_) => None,
        };
        let name = dir.file_name().map_or("idx".into(), |n| n.to_string_lossy().to_string());
        Self::from_bytes(&name, &images, labels.as_deref(), &images_path.display().to_string())
    }
}

fn find_file(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    for candidate in [dir.join(stem), dir.join(format!("{stem}.gz"))] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(DataError::BadFile { path: dir.display().to_string(), reason: format!("no {stem}[.gz] in this folder") })
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::BadFile { path: path.display().to_string(), reason: e.to_string() })
}

fn maybe_gunzip(bytes: &[u8]) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
        Ok(out.into())
    } else {
        Ok(bytes.into())
    }
}

/// Parses an unsigned-byte IDX file into its dimensions and payload.
pub fn parse_idx(bytes: &[u8]) -> Result<(Vec<usize>, &[u8]), String> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err("not an IDX file (bad magic number)".into());
    }
    if bytes[2] != 0x08 {
        return Err(format!("unsupported IDX element type 0x{:02x} (only unsigned bytes)", bytes[2]));
    }
    let ndim = bytes[3] as usize;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err("truncated IDX header".into());
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes([bytes[4 + 4 * i], bytes[5 + 4 * i], bytes[6 + 4 * i], bytes[7 + 4 * i]]) as usize)
        .collect();
    let expected: usize = dims.iter().product();
    let payload = &bytes[header..];
    if payload.len() < expected {
        return Err(format!("truncated IDX data: {} bytes, expected {expected}", payload.len()));
    }
    Ok((dims, &payload[..expected]))
}

impl ImageSource for IdxSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn len(&self) -> usize {
        self.pixels.len() / (self.rows * self.cols)
    }
    fn get(&self, index: usize) -> Sample {
        let n = self.rows * self.cols;
        Sample {
            image: HostImage::new(self.cols, self.rows, 1, self.pixels[index * n..(index + 1) * n].to_vec()),
            label: self.labels.as_ref().map(|l| l[index] as u32),
            factors: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn idx_bytes(dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn parses_images_and_labels() {
        let imgs = idx_bytes(&[2, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7]);
        let labels = idx_bytes(&[2], &[3, 9]);
        let src = IdxSource::from_bytes("mnist", &imgs, Some(&labels), "mem").unwrap();
        assert_eq!(src.len(), 2);
        let s = src.get(1);
        assert_eq!(s.image.pixels, vec![4, 5, 6, 7]);
        assert_eq!(s.label, Some(9));
        assert_eq!(src.info().class_names.len(), 10);
    }

    #[test]
    fn refuses_truncated_and_mismatched_files() {
        let imgs = idx_bytes(&[3, 2, 2], &[0; 8]);
        let err = IdxSource::from_bytes("x", &imgs, None, "imgs.idx").err().unwrap().to_string();
        assert!(err.contains("imgs.idx") && err.contains("truncated"), "{err}");
        let imgs = idx_bytes(&[2, 2, 2], &[0; 8]);
        let labels = idx_bytes(&[3], &[0; 3]);
        let err = IdxSource::from_bytes("x", &imgs, Some(&labels), "f").err().unwrap().to_string();
        assert!(err.contains("3 labels for 2 images"), "{err}");
        assert!(parse_idx(b"PNG....").is_err());
    }

    #[test]
    fn reads_gzip_folder() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&idx_bytes(&[1, 2, 2], &[9, 8, 7, 6])).unwrap();
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte.gz"), gz.finish().unwrap()).unwrap();
        let src = IdxSource::open_dir(dir.path(), Split::Test).unwrap();
        assert_eq!(src.get(0).image.pixels, vec![9, 8, 7, 6]);
        assert_eq!(src.get(0).label, None);
        let err = IdxSource::open_dir(dir.path(), Split::Train).err().unwrap().to_string();
        assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    }
}
