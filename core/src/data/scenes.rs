//! Quadrant scenes: 64×64 colour scenes made for the mixing-scenes model's "4 object
//! assumption" (mixing-scenes spec §1.1): a background cropped from one of six CC0 /
//! public-domain photos and textures (assets/backgrounds, see assets/LICENSES.md), and in
//! each quadrant at most one object, a Fashion-MNIST image coloured, scaled (18–30 px) and
//! placed inside that quadrant. Every scene carries its ground truth: the object class in
//! each quadrant (or none), as the sample's four factors in chunk order TL, TR, BL, BR.
//!
//! Scene `i` is a pure function of (split seed, i), so the set is unlimited and every run,
//! neighbour index and evaluation sees the same scenes. Training scenes use Fashion-MNIST's
//! training objects, test scenes its held-out test objects and another seed.

use std::sync::{Arc, OnceLock};

use crate::rng::SeededRng;
use rand::{Rng, SeedableRng};

use super::embedded::EmbeddedSet;
use super::idx::IdxSource;
use super::{DataError, HostImage, ImageSource, Sample, SourceInfo, Split};

pub const SCENE_SIZE: usize = 64;
pub const QUADRANT: usize = SCENE_SIZE / 2;
/// Scenes in the training pool unless the spec says otherwise (`scenes:N`).
pub const DEFAULT_TRAIN_SCENES: usize = 8_192;
pub const TEST_SCENES: usize = 1_024;
/// Chance that a quadrant holds an object.
pub const OBJECT_PROBABILITY: f64 = 0.7;
/// The factor value of a quadrant without an object.
pub const EMPTY: f32 = -1.0;

const BACKGROUNDS: [(&str, &[u8]); 6] = [
    ("grass", include_bytes!("../../../assets/backgrounds/grass.jpg")),
    ("brick", include_bytes!("../../../assets/backgrounds/brick.jpg")),
    ("coffee", include_bytes!("../../../assets/backgrounds/coffee.jpg")),
    ("chelsea", include_bytes!("../../../assets/backgrounds/chelsea.jpg")),
    ("rocket", include_bytes!("../../../assets/backgrounds/rocket.jpg")),
    ("astronaut", include_bytes!("../../../assets/backgrounds/astronaut.jpg")),
];

/// The decoded backgrounds (RGB), decoded once per process.
fn backgrounds() -> &'static [HostImage] {
    static DECODED: OnceLock<Vec<HostImage>> = OnceLock::new();
    DECODED.get_or_init(|| {
        BACKGROUNDS
            .iter()
            .filter_map(|(_, bytes)| image::load_from_memory(bytes).ok())
            .map(|img| HostImage::from_dynamic(&img).to_rgb())
            .collect()
    })
}

/// What sits in one scene: the object class per quadrant (chunk order), if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SceneTruth(pub [Option<u32>; 4]);

impl SceneTruth {
    /// Reads the ground truth back from a sample's factors.
    pub fn from_factors(factors: &[f32]) -> Option<Self> {
        (factors.len() == 4).then(|| Self(std::array::from_fn(|q| (factors[q] >= 0.0).then_some(factors[q] as u32))))
    }

    pub fn to_factors(self) -> Vec<f32> {
        self.0.iter().map(|c| c.map_or(EMPTY, |c| c as f32)).collect()
    }
}

pub struct QuadrantScenes {
    info: SourceInfo,
    objects: Arc<IdxSource>,
    seed: u64,
    len: usize,
}

impl QuadrantScenes {
    /// The training scenes (`len` of them) or the held-out test scenes.
    pub fn open(split: Split, len: usize) -> Result<Self, DataError> {
        let objects = Arc::new(EmbeddedSet::FashionMnist.open(split)?);
        let class_names = objects.info().class_names.clone();
        let (seed, len) = match split {
            Split::Train => (0x005c_e7e5_0001, len),
            Split::Test => (0x005c_e7e5_7e57, TEST_SCENES),
        };
        Ok(Self {
            info: SourceInfo {
                name: format!("quadrant scenes ({})", split.name()),
                channels: 3,
                size: Some((SCENE_SIZE, SCENE_SIZE)),
                class_names,
                factor_names: crate::mixing::Quadrant::ALL.iter().map(|q| format!("{} object", q.name())).collect(),
                skipped: vec![],
            },
            objects,
            seed,
            len,
        })
    }

    /// Renders scene `index` and its ground truth.
    pub fn render(&self, index: usize) -> (HostImage, SceneTruth) {
        let mut rng = SeededRng::seed_from_u64(self.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut pixels = background_crop(&mut rng);
        let mut truth = [None; 4];
        for (q, slot) in truth.iter_mut().enumerate() {
            if !rng.random_bool(OBJECT_PROBABILITY) || self.objects.is_empty() {
                continue;
            }
            let object = self.objects.get(rng.random_range(0..self.objects.len()));
            let size = rng.random_range(18..=30usize);
            let (row, col) = (q / 2, q % 2);
            let top = row * QUADRANT + rng.random_range(0..=QUADRANT - size);
            let left = col * QUADRANT + rng.random_range(0..=QUADRANT - size);
            let colour = bright_colour(&mut rng);
            paste_object(&mut pixels, &object.image, size, top, left, colour);
            *slot = object.label;
        }
        (HostImage::new(SCENE_SIZE, SCENE_SIZE, 3, pixels), SceneTruth(truth))
    }
}

/// A random crop (48–160 px square) of a random background, resized to the scene.
fn background_crop(rng: &mut SeededRng) -> Vec<u8> {
    let all = backgrounds();
    let mut out = vec![0u8; SCENE_SIZE * SCENE_SIZE * 3];
    let Some(bg) = (!all.is_empty()).then(|| &all[rng.random_range(0..all.len())]) else {
        return out;
    };
    let crop = rng.random_range(48..=bg.width.min(bg.height).min(160));
    let x0 = rng.random_range(0..=bg.width - crop);
    let y0 = rng.random_range(0..=bg.height - crop);
    let flip = rng.random_bool(0.5);
    let scale = crop as f32 / SCENE_SIZE as f32;
    for y in 0..SCENE_SIZE {
        for x in 0..SCENE_SIZE {
            let sx = if flip { SCENE_SIZE - 1 - x } else { x };
            let px = (x0 as f32 + (sx as f32 + 0.5) * scale).min((bg.width - 1) as f32) as usize;
            let py = (y0 as f32 + (y as f32 + 0.5) * scale).min((bg.height - 1) as f32) as usize;
            let src = (py * bg.width + px) * 3;
            out[(y * SCENE_SIZE + x) * 3..][..3].copy_from_slice(&bg.pixels[src..src + 3]);
        }
    }
    out
}

/// A saturated colour, so objects stand out from any background.
fn bright_colour(rng: &mut SeededRng) -> [f32; 3] {
    let hue = rng.random_range(0.0..6.0f32);
    let f = hue.fract();
    let (hi, lo) = (1.0, 0.15);
    let mid_up = lo + (hi - lo) * f;
    let mid_down = hi - (hi - lo) * f;
    let rgb = match hue as usize {
        0 => [hi, mid_up, lo],
        1 => [mid_down, hi, lo],
        2 => [lo, hi, mid_up],
        3 => [lo, mid_down, hi],
        4 => [mid_up, lo, hi],
        _ => [hi, lo, mid_down],
    };
    rgb.map(|v| v * 255.0)
}

/// Alpha-blends a grey object (its intensity is the alpha) of `size` px at (top, left).
fn paste_object(pixels: &mut [u8], object: &HostImage, size: usize, top: usize, left: usize, colour: [f32; 3]) {
    let scale = object.width as f32 / size as f32;
    for y in 0..size {
        for x in 0..size {
            // Bilinear sample of the object at this pixel's centre.
            let fx = ((x as f32 + 0.5) * scale - 0.5).clamp(0.0, (object.width - 1) as f32);
            let fy = ((y as f32 + 0.5) * scale - 0.5).clamp(0.0, (object.height - 1) as f32);
            let (x0, y0) = (fx as usize, fy as usize);
            let (x1, y1) = ((x0 + 1).min(object.width - 1), (y0 + 1).min(object.height - 1));
            let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
            let at = |xx: usize, yy: usize| object.pixels[(yy * object.width + xx) * object.channels] as f32 / 255.0;
            let alpha = (at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx) * (1.0 - ty) + (at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx) * ty;
            let i = ((top + y) * SCENE_SIZE + left + x) * 3;
            for c in 0..3 {
                let v = pixels[i + c] as f32 * (1.0 - alpha) + colour[c] * alpha;
                pixels[i + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

impl ImageSource for QuadrantScenes {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> Sample {
        let (image, truth) = self.render(index);
        Sample { image, label: None, factors: truth.to_factors() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_seeded_and_carry_their_objects() {
        assert_eq!(backgrounds().len(), BACKGROUNDS.len(), "every background decodes");
        let train = QuadrantScenes::open(Split::Train, 100).unwrap();
        let test = QuadrantScenes::open(Split::Test, 0).unwrap();
        assert_eq!((train.len(), test.len()), (100, TEST_SCENES));
        let a = train.get(7);
        assert_eq!(a.image, train.get(7).image, "a scene is a function of its index");
        assert_ne!(a.image, train.get(8).image);
        assert_ne!(a.image, test.get(7).image, "test scenes differ from training scenes");
        assert_eq!((a.image.width, a.image.height, a.image.channels), (64, 64, 3));
        let mut objects = 0;
        for i in 0..100 {
            let truth = SceneTruth::from_factors(&train.get(i).factors).unwrap();
            objects += truth.0.iter().filter(|c| c.is_some()).count();
            assert!(truth.0.iter().flatten().all(|&c| c < 10));
        }
        // 70% of 400 quadrants, give or take.
        assert!((230..330).contains(&objects), "{objects} objects");
    }

    #[test]
    fn an_object_changes_only_its_own_quadrant() {
        // Find a scene with an empty quadrant and a full one; the object's pixels (bright,
        // saturated) must lie inside the full quadrant only: compare against the same
        // background without objects by rendering with the same RNG stream.
        let train = QuadrantScenes::open(Split::Train, 50).unwrap();
        for i in 0..50 {
            let (image, truth) = train.render(i);
            let mut rng = SeededRng::seed_from_u64(train.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let background = background_crop(&mut rng);
            for q in 0..4 {
                let (row, col) = (q / 2, q % 2);
                let mut changed = 0;
                for y in row * QUADRANT..(row + 1) * QUADRANT {
                    for x in col * QUADRANT..(col + 1) * QUADRANT {
                        let p = (y * SCENE_SIZE + x) * 3;
                        changed += usize::from(image.pixels[p..p + 3] != background[p..p + 3]);
                    }
                }
                assert_eq!(changed > 0, truth.0[q].is_some(), "scene {i} quadrant {q}");
            }
        }
    }
}
