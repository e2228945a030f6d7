//! Any folder of images (png, jpeg, bmp, webp), searched recursively.

use std::path::{Path, PathBuf};

use super::{DataError, HostImage, ImageSource, Sample, SourceInfo, fit::resize_crop};

const EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "webp"];

/// Images decoded once when the folder is opened and kept at `size × size`
/// (resized and centre-cropped), so that training never waits on decoding.
pub struct FolderSource {
    info: SourceInfo,
    images: Vec<HostImage>,
    /// Labels from the first-level sub-folder name, when there is more than one.
    labels: Option<Vec<u32>>,
}

/// Whether a path looks like an image this source reads.
pub fn is_image_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Every image file below `dir`, sorted; unreadable folders are passed over.
pub fn collect_images(dir: &Path) -> Vec<PathBuf> {
    let mut found = Found::default();
    found.collect(dir);
    found.files
}

/// What a walk through a folder found: image files, and the sub-folders it could not read.
#[derive(Default)]
struct Found {
    files: Vec<PathBuf>,
    unreadable: Vec<(PathBuf, String)>,
    /// Folders walked, by their real path: a symbolic link back up the tree (a loop) is
    /// walked once, not until the path is too long.
    visited: std::collections::HashSet<PathBuf>,
}

impl Found {
    fn collect(&mut self, dir: &Path) {
        match std::fs::canonicalize(dir) {
            Ok(real) => {
                if !self.visited.insert(real) {
                    return;
                }
            }
            Err(e) => return self.unreadable.push((dir.to_path_buf(), e.to_string())),
        }
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) => return self.unreadable.push((dir.to_path_buf(), format!("cannot read the folder: {e}"))),
        };
        entries.sort();
        for path in entries {
            if path.is_dir() {
                self.collect(&path);
            } else if is_image_path(&path) {
                self.files.push(path);
            }
        }
    }
}

/// Largest width or height decoded: far beyond any training image, and it refuses a header
/// claiming 60,000 × 60,000 before anything is allocated.
pub const MAX_SIDE: u32 = 16_384;
/// Most memory one decode may allocate (a 16,384² RGBA image would need 1 GiB).
pub const MAX_DECODE_BYTES: u64 = 256 << 20;

/// Decodes one file, or says why it cannot be used. Memory is bounded ([`MAX_SIDE`],
/// [`MAX_DECODE_BYTES`]), and a decoder that panics on a malformed file costs that file,
/// not the process or the files decoded beside it.
pub fn decode_file(path: &Path) -> Result<HostImage, String> {
    let reader = image::ImageReader::open(path).map_err(|e| e.to_string())?;
    let mut reader = reader.with_guessed_format().map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.decode()));
    let img = decoded.map_err(|_| "the decoder failed on this file".to_string())?.map_err(|e| e.to_string())?;
    if img.width() == 0 || img.height() == 0 {
        return Err("empty image".into());
    }
    Ok(HostImage::from_dynamic(&img))
}

/// Writes labelled images as a folder this source reads back with their classes:
/// `dir/<class name>/<class name>-00000.png`, one sub-folder per class, names from
/// `class_names` (the label's number where it has none). Refuses a `dir` that already holds
/// files, so nothing is overwritten. Returns the images written.
pub fn write_class_folders(dir: &Path, class_names: &[String], images: &[(u32, HostImage)]) -> anyhow::Result<usize> {
    use anyhow::Context;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        anyhow::bail!("{}: the folder is not empty; labelled images go into a new or empty folder", dir.display());
    }
    let mut counts = std::collections::BTreeMap::<u32, usize>::new();
    for (label, image) in images {
        let name = class_names.get(*label as usize).map_or_else(|| label.to_string(), |n| n.replace(['/', '\\'], "-"));
        let folder = dir.join(&name);
        std::fs::create_dir_all(&folder).with_context(|| format!("{}: cannot create the folder", folder.display()))?;
        let n = counts.entry(*label).or_default();
        let path = folder.join(format!("{name}-{n:05}.png"));
        *n += 1;
        let (w, h) = (image.width as u32, image.height as u32);
        let written = match image.channels {
            1 => image::GrayImage::from_raw(w, h, image.pixels.clone()).map(|i| i.save(&path)),
            3 => image::RgbImage::from_raw(w, h, image.pixels.clone()).map(|i| i.save(&path)),
            c => anyhow::bail!("{}: an image of {c} channels cannot be written as PNG", path.display()),
        };
        written.with_context(|| format!("{}: the image's pixels do not fill {w}×{h}", path.display()))?.with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(images.len())
}

impl FolderSource {
    /// Opens `root` (a folder, searched recursively, or a list of files) and decodes
    /// every image at `size × size`. Unreadable files are skipped and listed in
    /// `info().skipped`; no usable image at all is an error.
    pub fn open(root: &Path, size: usize) -> Result<Self, DataError> {
        let mut found = Found::default();
        if root.is_dir() {
            if let Err(e) = std::fs::read_dir(root) {
                return Err(DataError::BadFile { path: root.display().to_string(), reason: e.to_string() });
            }
            found.collect(root);
        } else if root.is_file() {
            found.files.push(root.to_path_buf());
        } else {
            return Err(DataError::BadFile { path: root.display().to_string(), reason: "no such file or folder".into() });
        }
        let mut source = Self::from_files(&root.display().to_string(), root.is_dir().then_some(root), &found.files, size)?;
        // Sub-folders that could not be read are counted with the unreadable files.
        source.info.skipped.extend(found.unreadable);
        Ok(source)
    }

    /// Decodes a given list of files (e.g. files dropped on the window).
    pub fn from_files(name: &str, root: Option<&Path>, files: &[PathBuf], size: usize) -> Result<Self, DataError> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
        let chunk = files.len().div_ceil(threads).max(1);
        let decoded: Vec<(PathBuf, Result<HostImage, String>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|p| (p.clone(), decode_file(p).map(|img| resize_crop(&img, size))))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        });
        let mut images = Vec::new();
        let mut paths = Vec::new();
        let mut skipped = Vec::new();
        for (path, result) in decoded {
            match result {
                Ok(img) => {
                    images.push(img);
                    paths.push(path);
                }
                Err(reason) => skipped.push((path, reason)),
            }
        }
        if images.is_empty() {
            let details = if skipped.is_empty() {
                format!(" (looked for {})", EXTENSIONS.join(", "))
            } else {
                format!(" ({} unreadable file(s), e.g. {}: {})", skipped.len(), skipped[0].0.display(), skipped[0].1)
            };
            return Err(DataError::NoImages { path: name.to_string(), details });
        }
        let channels = if images.iter().any(|i| i.channels == 3) { 3 } else { 1 };
        // Sub-folders of the root name the classes, ImageFolder style.
        let (labels, class_names) = match root {
            Some(root) => {
                let class_of = |p: &Path| {
                    p.strip_prefix(root).ok().and_then(|rel| {
                        let mut comps = rel.components();
                        let first = comps.next()?;
                        comps.next().map(|_| first.as_os_str().to_string_lossy().to_string())
                    })
                };
                let classes: Vec<Option<String>> = paths.iter().map(|p| class_of(p)).collect();
                let mut names: Vec<String> = classes.iter().flatten().cloned().collect();
                names.sort();
                names.dedup();
                if names.len() > 1 && classes.iter().all(Option::is_some) {
                    let labels = classes.iter().map(|c| names.iter().position(|n| Some(n) == c.as_ref()).unwrap_or(0) as u32).collect();
                    (Some(labels), names)
                } else {
                    (None, vec![])
                }
            }
            None => (None, vec![]),
        };
        Ok(Self {
            info: SourceInfo { name: name.to_string(), channels, size: Some((size, size)), class_names, factor_names: vec![], skipped },
            images,
            labels,
        })
    }
}

impl ImageSource for FolderSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn len(&self) -> usize {
        self.images.len()
    }
    fn get(&self, index: usize) -> Sample {
        Sample { image: self.images[index].clone(), label: self.labels.as_ref().map(|l| l[index]), factors: vec![] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, w: u32, h: u32, rgb: bool) {
        if rgb {
            image::RgbaImage::from_fn(w, h, |x, _| image::Rgba([(x * 6) as u8, 0, 200, 128])).save(path).unwrap();
        } else {
            image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x + y) as u8])).save(path).unwrap();
        }
    }

    #[test]
    fn skips_and_names_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cats/deep")).unwrap();
        std::fs::create_dir_all(dir.path().join("dogs")).unwrap();
        write_png(&dir.path().join("cats/deep/a.png"), 40, 20, true);
        write_png(&dir.path().join("dogs/b.png"), 16, 16, false);
        std::fs::write(dir.path().join("dogs/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        std::fs::write(dir.path().join("dogs/notes.txt"), b"ignored").unwrap();
        let src = FolderSource::open(dir.path(), 8).unwrap();
        assert_eq!(src.len(), 2);
        assert_eq!(src.info().skipped.len(), 1);
        assert!(src.info().skipped[0].0.ends_with("broken.png"));
        assert_eq!(src.info().channels, 3, "alpha dropped, colour kept");
        let a = src.get(0);
        assert_eq!((a.image.width, a.image.height, a.image.channels), (8, 8, 3));
        assert_eq!(src.info().class_names, vec!["cats", "dogs"]);
        assert_eq!((a.label, src.get(1).label), (Some(0), Some(1)));
    }

    #[test]
    fn empty_or_all_corrupt_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = FolderSource::open(dir.path(), 8).err().unwrap().to_string();
        assert!(err.contains("no usable image"), "{err}");
        std::fs::write(dir.path().join("x.jpg"), b"garbage").unwrap();
        let err = FolderSource::open(dir.path(), 8).err().unwrap().to_string();
        assert!(err.contains("1 unreadable") && err.contains("x.jpg"), "{err}");
        let err = FolderSource::open(&dir.path().join("missing"), 8).err().unwrap().to_string();
        assert!(err.contains("no such file"), "{err}");
    }

    #[test]
    fn labelled_images_written_as_class_folders_read_back_with_their_classes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("augmented");
        let grey = |v: u8| HostImage::new(4, 4, 1, vec![v; 16]);
        let names = vec!["zero".to_string(), "one".to_string()];
        let images = vec![(0, grey(10)), (1, grey(200)), (1, grey(201))];
        assert_eq!(write_class_folders(&out, &names, &images).unwrap(), 3);
        assert!(out.join("one/one-00001.png").is_file());
        let back = FolderSource::open(&out, 4).unwrap();
        assert_eq!(back.info().class_names, vec!["one", "zero"]);
        let classes: Vec<(String, u8)> = (0..back.len()).map(|i| (back.info().class_names[back.label(i).unwrap() as usize].clone(), back.get(i).image.pixels[0])).collect();
        assert_eq!(classes, vec![("one".into(), 200), ("one".into(), 201), ("zero".into(), 10)]);
        let err = write_class_folders(&out, &names, &images).unwrap_err().to_string();
        assert!(err.contains("not empty"), "nothing is overwritten: {err}");
    }
}
