//! What the explorer does with a latent split into specified factors s (a class; the
//! reference-based VAE's target factors e) and unspecified ones z (a style; common factors):
//! the swap grid (cycle VAE report Fig. 4.1; attribute transfer, reference VAE Fig. 4/8), the
//! 2-D interpolation (Fig. 4.9), sampling z with s fixed (Fig. 4.10), and where the
//! specified part has a prior: conditional synthesis (reference VAE Fig. 3/7: each image's
//! z with random e shared down a column), the random grid (Fig. 9: panels share e,
//! positions share z) and the reference decode G(z, e_r).

use super::explorable::ExplorableModel;
use crate::capabilities::SplitCode;
use crate::data::HostImage;
use crate::train::step_rng;

/// A grid of decoded images, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitGrid {
    pub rows: usize,
    pub columns: usize,
    pub images: Vec<HostImage>,
}

impl SplitGrid {
    pub fn cell(&self, row: usize, column: usize) -> Option<&HostImage> {
        if row < self.rows && column < self.columns { self.images.get(row * self.columns + column) } else { None }
    }

    /// The grid as a figure shows it: a blank corner, `column_headers` along the top and
    /// `row_headers` down the left (a blank where a side has none), every header brought to
    /// the cells' size and channels. Returns the images row-major and the figure's columns.
    pub fn with_headers(&self, column_headers: Option<&[HostImage]>, row_headers: Option<&[HostImage]>) -> (Vec<HostImage>, usize) {
        let Some(first) = self.images.first() else { return (vec![], 1) };
        let blank = HostImage::new(first.width, first.height, first.channels, vec![0; first.width * first.height * first.channels]);
        let fit = |image: &HostImage| fit_to(image, first, &blank);
        let header = |headers: Option<&[HostImage]>, i: usize| headers.and_then(|h| h.get(i)).map_or_else(|| blank.clone(), fit);
        let columns = self.columns + 1;
        let mut out = Vec::with_capacity(columns * (self.rows + 1));
        out.push(blank.clone());
        out.extend((0..self.columns).map(|c| header(column_headers, c)));
        for row in 0..self.rows {
            out.push(header(row_headers, row));
            out.extend((0..self.columns).filter_map(|c| self.cell(row, c).cloned()));
        }
        (out, columns)
    }
}

/// `image` at `like`'s size and channels (the data's images may be larger than the model's:
/// the reference-style MNIST is 64×64 for a 32×32 model); `blank` where channels can't match.
pub fn fit_to(image: &HostImage, like: &HostImage, blank: &HostImage) -> HostImage {
    let sized = if (image.width, image.height) == (like.width, like.height) { image.clone() } else { crate::data::fit::resize_crop(image, like.width) };
    if sized.channels == like.channels {
        sized
    } else if like.channels == 3 {
        sized.to_rgb()
    } else {
        blank.clone()
    }
}

fn codes(model: &ExplorableModel, images: &[HostImage]) -> Result<Vec<SplitCode>, String> {
    model.encode_split(images).ok_or_else(|| format!("a {} model has no class/style split", model.kind()))
}

fn decode(model: &ExplorableModel, pairs: &[(Vec<f32>, Vec<f32>)]) -> Result<Vec<HostImage>, String> {
    model.decode_split(pairs).ok_or_else(|| format!("a {} model has no class/style split", model.kind()))
}

/// Cell (r, c) = Dec(z of `style_from[r]`, s of `class_from[c]`), z at its posterior mean.
/// With the same images on both sides, the diagonal is each image's reconstruction.
pub fn swap_grid(model: &ExplorableModel, style_from: &[HostImage], class_from: &[HostImage]) -> Result<SplitGrid, String> {
    let (z, s) = (codes(model, style_from)?, codes(model, class_from)?);
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = z.iter().flat_map(|zr| s.iter().map(|sc| (zr.unspecified.mu.clone(), sc.specified.clone()))).collect();
    Ok(SplitGrid { rows: z.len(), columns: s.len(), images: decode(model, &pairs)? })
}

/// `steps` points from `a` to `b`, ends included.
fn lerp(a: &[f32], b: &[f32], steps: usize) -> Vec<Vec<f32>> {
    (0..steps).map(|i| {
        let t = if steps > 1 { i as f32 / (steps - 1) as f32 } else { 0.0 };
        a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
    }).collect()
}

/// The 2-D interpolation between two images: z from `top_left`'s to `bottom_right`'s down
/// the rows, s likewise across the columns. The top-left cell is `top_left`'s
/// reconstruction, the bottom-right `bottom_right`'s.
pub fn interpolation_grid(model: &ExplorableModel, top_left: &HostImage, bottom_right: &HostImage, steps: usize) -> Result<SplitGrid, String> {
    let c = codes(model, &[top_left.clone(), bottom_right.clone()])?;
    let (a, b) = (&c[0], &c[1]);
    let zs = lerp(&a.unspecified.mu, &b.unspecified.mu, steps);
    let ss = lerp(&a.specified, &b.specified, steps);
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = zs.iter().flat_map(|z| ss.iter().map(move |s| (z.clone(), s.clone()))).collect();
    Ok(SplitGrid { rows: steps, columns: steps, images: decode(model, &pairs)? })
}

/// Sampling with the class fixed: column c keeps the s of `class_from[c]`, row r draws a
/// z ~ N(0, I) from `seed` (the report's data augmentation, Fig. 4.10).
pub fn sample_grid(model: &ExplorableModel, class_from: &[HostImage], rows: usize, seed: u64) -> Result<SplitGrid, String> {
    let s = codes(model, class_from)?;
    let (z_dims, _) = model.split().map(|(_, dims)| dims).ok_or("no split")?;
    let zs = prior_draws(rows, z_dims, seed);
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = zs.iter().flat_map(|z| s.iter().map(move |sc| (z.clone(), sc.specified.clone()))).collect();
    Ok(SplitGrid { rows, columns: s.len(), images: decode(model, &pairs)? })
}

/// New labelled images, the report's data augmentation: for every class of `source`,
/// `per_class` images each decoded from the s of a random image of that class and a z drawn
/// from N(0, I), all from `seed`. Returns (label, image) pairs, class by class.
pub fn labelled_samples(model: &ExplorableModel, source: &crate::data::SharedSource, per_class: usize, seed: u64) -> Result<Vec<(u32, HostImage)>, String> {
    use rand::Rng;
    let name = source.info().name.clone();
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = std::collections::BTreeMap::new();
    for i in 0..source.len() {
        let label = source.label(i).ok_or_else(|| format!("{name}: image {i} has no class; labelled samples need a labelled source"))?;
        by_class.entry(label).or_default().push(i);
    }
    if by_class.is_empty() {
        return Err(format!("{name} has no images"));
    }
    let (z_dims, _) = model.split().map(|(_, dims)| dims).ok_or_else(|| format!("a {} model has no class/style split", model.kind()))?;
    let mut rng = step_rng(seed, 1);
    let mut out = Vec::with_capacity(by_class.len() * per_class);
    for (label, members) in by_class {
        let picked: Vec<HostImage> = (0..per_class).map(|_| source.get(members[rng.random_range(0..members.len())]).image).collect();
        let s = codes(model, &picked)?;
        let zs = prior_draws(per_class, z_dims, seed.wrapping_add(label as u64 + 1));
        let pairs: Vec<(Vec<f32>, Vec<f32>)> = zs.into_iter().zip(s).map(|(z, sc)| (z, sc.specified)).collect();
        out.extend(decode(model, &pairs)?.into_iter().map(|image| (label, image)));
    }
    Ok(out)
}

/// `n` draws of a `d`-vector from N(0, I), from `seed`.
fn prior_draws(n: usize, d: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = step_rng(seed, 0);
    (0..n).map(|_| crate::families::trainable::normal_noise(&mut rng, d)).collect()
}

/// Conditional synthesis: cell (r, c) = Dec(z of `images[r]`, e_c) with e_c ~ N(0, I)
/// drawn from `seed`, the same e down each column.
pub fn conditional_grid(model: &ExplorableModel, images: &[HostImage], columns: usize, seed: u64) -> Result<SplitGrid, String> {
    let z = codes(model, images)?;
    let (_, e_dims) = model.split().map(|(_, dims)| dims).ok_or("no split")?;
    let es = prior_draws(columns, e_dims, seed);
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = z.iter().flat_map(|zr| es.iter().map(move |e| (zr.unspecified.mu.clone(), e.clone()))).collect();
    Ok(SplitGrid { rows: z.len(), columns, images: decode(model, &pairs)? })
}

/// The random grid: `panels` panels of `side` × `side` images, both parts from N(0, I);
/// every image of a panel shares its e, and the same position in every panel its z. Laid
/// out as one row of panels: row r, column p·side + c.
pub fn random_grid(model: &ExplorableModel, panels: usize, side: usize, seed: u64) -> Result<SplitGrid, String> {
    let (z_dims, e_dims) = model.split().map(|(_, dims)| dims).ok_or("no split")?;
    let es = prior_draws(panels, e_dims, seed);
    let zs = prior_draws(side * side, z_dims, seed.wrapping_add(1));
    let mut pairs = Vec::with_capacity(panels * side * side);
    for r in 0..side {
        for e in &es {
            for c in 0..side {
                pairs.push((zs[r * side + c].clone(), e.clone()));
            }
        }
    }
    Ok(SplitGrid { rows: side, columns: panels * side, images: decode(model, &pairs)? })
}

/// Each image in the reference style: Dec(z of the image, the learned reference code), one
/// row of reconstructions above one row of reference decodes.
pub fn reference_grid(model: &ExplorableModel, images: &[HostImage]) -> Result<SplitGrid, String> {
    let reference = model.model.split().and_then(|s| s.reference()).ok_or_else(|| format!("this {} model has no reference code (it was trained without a reference pool)", model.kind()))?;
    let c = codes(model, images)?;
    let own = c.iter().map(|code| (code.unspecified.mu.clone(), code.specified.clone()));
    let plain = c.iter().map(|code| (code.unspecified.mu.clone(), reference.clone()));
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = own.chain(plain).collect();
    Ok(SplitGrid { rows: 2, columns: c.len(), images: decode(model, &pairs)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::explorable::ModelOrigin;
    use crate::families::FamilyKind;

    fn close(a: &HostImage, b: &HostImage) -> bool {
        a.pixels.len() == b.pixels.len() && a.pixels.iter().zip(&b.pixels).all(|(x, y)| x.abs_diff(*y) <= 1)
    }

    #[test]
    fn the_swap_diagonal_is_the_reconstruction_and_interpolation_ends_at_the_corners() {
        for &kind in FamilyKind::ALL.iter().filter(|k| k.info().capabilities.contains(&crate::capabilities::Capability::Split)) {
            let model = ExplorableModel::untrained(&kind.default_config(1), &burn::prelude::Device::flex(), ModelOrigin::LiveRun(None)).unwrap();
            let size = model.image_size();
            let images: Vec<HostImage> = (0..3u8).map(|k| HostImage::new(size, size, 1, (0..size * size).map(|i| (i as u8).wrapping_mul(k + 3)).collect())).collect();
            let grid = swap_grid(&model, &images, &images).unwrap();
            let recon = model.reconstruct(&images);
            assert_eq!((grid.rows, grid.columns), (3, 3));
            for (i, reconstruction) in recon.iter().enumerate() {
                assert!(close(grid.cell(i, i).unwrap(), reconstruction), "{kind}: cell ({i}, {i})");
            }
            let inter = interpolation_grid(&model, &images[0], &images[2], 5).unwrap();
            assert!(close(inter.cell(0, 0).unwrap(), &recon[0]) && close(inter.cell(4, 4).unwrap(), &recon[2]), "{kind}: corners");
            let samples = sample_grid(&model, &images[..2], 4, 7).unwrap();
            assert_eq!((samples.rows, samples.columns, samples.images.len()), (4, 2, 8));
        }
    }

    #[test]
    fn conditional_random_and_reference_grids_have_their_layout_and_repeat_from_a_seed() {
        for &kind in FamilyKind::ALL.iter().filter(|k| k.info().capabilities.contains(&crate::capabilities::Capability::Split)) {
            let model = ExplorableModel::untrained(&kind.default_config(1), &burn::prelude::Device::flex(), ModelOrigin::LiveRun(None)).unwrap();
            let Some(split) = model.model.split() else { continue };
            if !split.specified_prior() {
                continue;
            }
            let size = model.image_size();
            let images: Vec<HostImage> = (0..3u8).map(|k| HostImage::new(size, size, 1, (0..size * size).map(|i| (i as u8).wrapping_mul(k + 3)).collect())).collect();
            let conditional = conditional_grid(&model, &images, 4, 5).unwrap();
            assert_eq!((conditional.rows, conditional.columns, conditional.images.len()), (3, 4, 12), "{kind}");
            assert_eq!(conditional, conditional_grid(&model, &images, 4, 5).unwrap(), "{kind}: the same seed, the same e's");
            let random = random_grid(&model, 2, 3, 1).unwrap();
            assert_eq!((random.rows, random.columns, random.images.len()), (3, 6, 18), "{kind}");
            let reference = reference_grid(&model, &images).unwrap();
            let recon = model.reconstruct(&images);
            for (i, r) in recon.iter().enumerate() {
                assert!(close(reference.cell(0, i).unwrap(), r), "{kind}: the top row is the reconstruction");
            }
        }
    }
}
