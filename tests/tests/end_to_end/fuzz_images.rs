//! Broken image files, seeded and reproducible, through the paths a user's files take: an
//! image folder opened as training data (the Data view, `train --data folder:…`, `eval`)
//! and single files decoded as dropped on a view (`decode_file`, which every drop uses).
//! Each case is a valid image of one kind (PNG grey, grey+alpha, RGB, RGBA, 16-bit, JPEG,
//! BMP, WebP; 1×1, 1×N, N×1 and ordinary sizes) put through one fault: none, truncation,
//! flipped bits, a zeroed range, another format's magic, a header claiming 60,000 × 60,000
//! (checksum fixed, so the decoder believes it), no bytes at all, or random bytes. Names
//! with spaces and not valid UTF-8, and a folder with a symbolic link back up the tree and
//! a dangling link, come with them.
//!
//! Expected: no panic, no abort, every file either decoded or skipped and named once, and no
//! file counted twice. `PATCHWORK_FUZZ_IMAGES` sets the number of cases (the test command
//! runs 300, in seconds; `scripts/fuzz.sh` 5,000) and `PATCHWORK_FUZZ_SEED` the seed.

use std::path::{Path, PathBuf};

use patchwork_core::data::ImageSource;
use patchwork_core::data::folder::{FolderSource, decode_file};
use rand::{Rng, SeedableRng};

const DEFAULT_CASES: usize = 300;

/// The kinds of valid image the faults start from.
const KINDS: &[&str] = &[
    "png-l8", "png-la8", "png-rgb8", "png-rgba8", "png-l16", "png-rgb16", "jpeg", "bmp", "webp",
    // Stored seed files (tests/fixtures/images, made by scripts/make-image-fixtures.py):
    // kinds `image` decodes but does not write.
    "stored:palette-8bit.png", "stored:palette-4bit.png", "stored:cmyk.jpg", "stored:progressive.jpg", "stored:animated.webp", "stored:lossy.webp",
];

/// A stored seed file's bytes.
fn stored(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
const FAULTS: &[&str] = &["none", "truncated", "bit flips", "zeroed range", "wrong magic", "huge header", "empty", "random bytes"];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn encode(kind: &str, w: u32, h: u32, seed: u32) -> Vec<u8> {
    use image::{DynamicImage, ImageFormat};
    if let Some(name) = kind.strip_prefix("stored:") {
        return stored(name);
    }
    let pixel = |x: u32, y: u32, c: u32| ((x * 7 + y * 13 + c * 29 + seed) % 251) as u8;
    let image: DynamicImage = match kind {
        "png-l8" | "jpeg" => image::GrayImage::from_fn(w, h, |x, y| image::Luma([pixel(x, y, 0)])).into(),
        "png-la8" => image::GrayAlphaImage::from_fn(w, h, |x, y| image::LumaA([pixel(x, y, 0), pixel(x, y, 1)])).into(),
        "png-rgba8" | "webp" => image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([pixel(x, y, 0), pixel(x, y, 1), pixel(x, y, 2), 255])).into(),
        "png-l16" => image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(w, h, |x, y| image::Luma([pixel(x, y, 0) as u16 * 257])).into(),
        "png-rgb16" => image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_fn(w, h, |x, y| image::Rgb([pixel(x, y, 0) as u16 * 257, 0, pixel(x, y, 2) as u16 * 3])).into(),
        _ => image::RgbImage::from_fn(w, h, |x, y| image::Rgb([pixel(x, y, 0), pixel(x, y, 1), pixel(x, y, 2)])).into(),
    };
    let format = match kind {
        "jpeg" => ImageFormat::Jpeg,
        "bmp" => ImageFormat::Bmp,
        "webp" => ImageFormat::WebP,
        _ => ImageFormat::Png,
    };
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap_or_else(|e| panic!("encoding {kind} {w}×{h}: {e}"));
    bytes.into_inner()
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Makes the header claim `side × side` pixels where the format has a header we know.
fn claim_size(kind: &str, bytes: &mut [u8], side: u32) {
    if kind.starts_with("png") && bytes.len() > 33 {
        // IHDR: width and height at 16..24, the chunk's CRC over type and data at 29..33.
        bytes[16..20].copy_from_slice(&side.to_be_bytes());
        bytes[20..24].copy_from_slice(&side.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    } else if kind == "bmp" && bytes.len() > 26 {
        bytes[18..22].copy_from_slice(&(side as i32).to_le_bytes());
        bytes[22..26].copy_from_slice(&(side as i32).to_le_bytes());
    } else if kind.starts_with("jpeg") || kind.ends_with(".jpg") {
        // SOF0 (baseline) or SOF2 (progressive): FF C0/C2, length (2), precision (1), height (2), width (2).
        if let Some(at) = bytes.windows(2).position(|w| w == [0xFF, 0xC0] || w == [0xFF, 0xC2]) {
            if at + 9 <= bytes.len() {
                let side = side.min(u16::MAX as u32) as u16;
                bytes[at + 5..at + 7].copy_from_slice(&side.to_be_bytes());
                bytes[at + 7..at + 9].copy_from_slice(&side.to_be_bytes());
            }
        }
    }
}

struct Case {
    name: String,
    bytes: Vec<u8>,
}

fn make_case(index: usize, rng: &mut patchwork_core::rng::SeededRng) -> Case {
    let kind = KINDS[rng.random_range(0..KINDS.len())];
    let fault = FAULTS[index % FAULTS.len()];
    let (w, h) = match rng.random_range(0..4) {
        0 => (1, 1),
        1 => (1, rng.random_range(2..300)),
        2 => (rng.random_range(2..300), 1),
        _ => (rng.random_range(8..96), rng.random_range(8..96)),
    };
    let mut bytes = encode(kind, w, h, index as u32);
    match fault {
        "truncated" => bytes.truncate(rng.random_range(0..bytes.len())),
        "bit flips" => {
            for _ in 0..rng.random_range(1..9) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] ^= 1 << rng.random_range(0..8);
            }
        }
        "zeroed range" => {
            let start = rng.random_range(0..bytes.len());
            let end = (start + rng.random_range(1..64)).min(bytes.len());
            bytes[start..end].fill(0);
        }
        "wrong magic" => {
            let magic: &[u8] = [&b"\x89PNG\r\n\x1a\n"[..], b"\xFF\xD8\xFF\xE0", b"BM", b"RIFF\0\0\0\0WEBP", b"GIF89a"][rng.random_range(0..5)];
            let n = magic.len().min(bytes.len());
            bytes[..n].copy_from_slice(&magic[..n]);
        }
        "huge header" => claim_size(kind, &mut bytes, 60_000),
        "empty" => bytes.clear(),
        "random bytes" => bytes = (0..rng.random_range(0..4096)).map(|_| rng.random()).collect(),
        _ => {}
    }
    let extension = match kind {
        stored if stored.starts_with("stored:") => stored.rsplit('.').next().unwrap_or("bin"),
        "jpeg" => "jpg",
        "bmp" => "bmp",
        "webp" => "webp",
        _ => "png",
    };
    let kind_name = kind.trim_start_matches("stored:").replace('.', "-");
    let name = match index % 5 {
        0 => format!("case {index:05} {kind_name} {fault}.{extension}"),
        _ => format!("case-{index:05}-{kind_name}-{}.{extension}", fault.replace(' ', "-")),
    };
    Case { name, bytes }
}

/// Decodes every file on its own, as a drop does: the count that decode, and each failure's
/// reason, non-empty.
fn decode_each(files: &[PathBuf]) -> (usize, usize) {
    let mut decoded = 0;
    let mut refused = 0;
    for path in files {
        match std::panic::catch_unwind(|| decode_file(path)) {
            Ok(Ok(image)) => {
                assert!(image.width > 0 && image.height > 0 && image.width as u32 <= patchwork_core::data::folder::MAX_SIDE, "{}", path.display());
                decoded += 1;
            }
            Ok(Err(reason)) => {
                assert!(!reason.is_empty(), "{}: refused without a reason", path.display());
                refused += 1;
            }
            Err(_) => panic!("decoding {} panicked", path.display()),
        }
    }
    (decoded, refused)
}

#[test]
fn broken_image_files_are_skipped_counted_and_named_and_nothing_panics() {
    let cases = env_number("PATCHWORK_FUZZ_IMAGES", DEFAULT_CASES as u64) as usize;
    let seed = env_number("PATCHWORK_FUZZ_SEED", 1);
    let mut rng = patchwork_core::rng::SeededRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("images");
    std::fs::create_dir(&root).unwrap();
    let mut files = Vec::new();
    for index in 0..cases {
        let case = make_case(index, &mut rng);
        // Sixteen sub-folders, so the folder source's classes and its threads both see them.
        let folder = root.join(format!("class {:02}", index % 16));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(&case.name);
        std::fs::write(&path, &case.bytes).unwrap();
        files.push(path);
    }
    // A name that is not UTF-8 (where the file system allows it).
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let path = root.join("class 00").join(std::ffi::OsStr::from_bytes(b"latin1 \xe9t\xe9.png"));
        std::fs::write(&path, encode("png-rgb8", 12, 12, 7)).unwrap();
        files.push(path);
        // A link back up the tree (a loop) and a link to nothing.
        std::os::unix::fs::symlink(&root, root.join("class 01").join("loop")).unwrap();
        std::os::unix::fs::symlink(root.join("missing.png"), root.join("class 02").join("dangling.png")).unwrap();
    }
    let (decoded, refused) = decode_each(&files);
    eprintln!("{cases} cases (seed {seed}): {decoded} decoded, {refused} refused, 0 panics");
    assert_eq!(decoded + refused, files.len());
    assert!(decoded > 0 && refused > 0, "the cases should hold both usable and broken files");

    // The same files as an image folder: every usable file used once, every other skipped
    // once with its reason (the dangling link among them), and nothing counted twice.
    let started = std::time::Instant::now();
    let source = std::panic::catch_unwind(|| FolderSource::open(&root, 32)).expect("opening the folder panicked").expect("the folder has usable images");
    let skipped = &source.info().skipped;
    eprintln!("as a folder: {} images, {} skipped, in {:.1} s", source.len(), skipped.len(), started.elapsed().as_secs_f64());
    assert_eq!(source.len(), decoded, "each usable file once (a loop must not repeat them)");
    assert_eq!(skipped.len(), refused + cfg!(unix) as usize, "each unusable file once, the dangling link too");
    let mut names: Vec<&Path> = skipped.iter().map(|(p, _)| p.as_path()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), skipped.len(), "a file named twice");
    assert!(skipped.iter().all(|(_, reason)| !reason.is_empty()));
}

#[test]
fn a_header_claiming_a_huge_image_is_refused_before_it_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["png-rgb8", "bmp", "jpeg"] {
        let mut bytes = encode(kind, 16, 16, 1);
        claim_size(kind, &mut bytes, 60_000);
        let path = dir.path().join(format!("huge-{kind}.img"));
        std::fs::write(&path, &bytes).unwrap();
        let reason = decode_file(&path).expect_err(kind);
        eprintln!("{kind} claiming 60000×60000: {reason}");
    }
}

#[test]
fn palette_cmyk_progressive_and_animated_images_decode() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images");
    for name in ["palette-8bit.png", "palette-4bit.png", "cmyk.jpg", "progressive.jpg", "animated.webp", "lossy.webp"] {
        let image = decode_file(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((image.width, image.height), (24, 16), "{name}");
        assert!(matches!(image.channels, 1 | 3 | 4), "{name}: {} channels", image.channels);
    }
    // CMYK comes back as the colours it was made from (the top-left pixel was RGB 0, 29, 58),
    // not inverted or channel-swapped.
    let cmyk = decode_file(&dir.join("cmyk.jpg")).unwrap();
    let first: Vec<i32> = cmyk.pixels[..3].iter().map(|&v| v as i32).collect();
    assert!(first.iter().zip([0, 29, 58]).all(|(a, b)| (a - b).abs() <= 16), "CMYK top-left pixel {first:?}");
}
