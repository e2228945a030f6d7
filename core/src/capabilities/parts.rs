//! A part-based model's code of single images as the explorer holds it: occurrence maps,
//! appearance vectors, reconstructions, part-appearance swaps and parts switched off.
//!
//! Everything here is host data (`Vec<f32>`), so views can keep, edit and compare codes
//! without holding tensors; decoding goes back through the model.

use crate::data::HostImage;

/// The occurrence above which a part fires at a location (the part browser's default).
pub const FIRE_THRESHOLD: f32 = 0.5;

/// One image's part code: an occurrence map and an appearance vector per part.
#[derive(Debug, Clone, PartialEq)]
pub struct PartCode {
    pub parts: usize,
    pub part_dim: usize,
    /// Side of the square location grid (H/8).
    pub grid: usize,
    /// `[parts, grid, grid]`, row-major.
    pub occurrence: Vec<f32>,
    /// `[parts, part_dim]`.
    pub appearance: Vec<f32>,
}

impl PartCode {
    /// Part `i`'s occurrence map (`grid × grid`, row-major).
    pub fn occurrence_of(&self, part: usize) -> &[f32] {
        let cells = self.grid * self.grid;
        &self.occurrence[part * cells..(part + 1) * cells]
    }

    pub fn appearance_of(&self, part: usize) -> &[f32] {
        &self.appearance[part * self.part_dim..(part + 1) * self.part_dim]
    }

    /// Parts by how much of the image they cover (summed occurrence), most first.
    pub fn parts_by_presence(&self) -> Vec<usize> {
        let mass: Vec<f32> = (0..self.parts).map(|p| self.occurrence_of(p).iter().sum()).collect();
        let mut order: Vec<usize> = (0..self.parts).collect();
        order.sort_by(|&a, &b| mass[b].total_cmp(&mass[a]).then(a.cmp(&b)));
        order
    }

    /// Parts by how much of the image they fire on, then by summed occurrence: the parts a
    /// person sees first, the absent ones last.
    pub fn parts_by_firing(&self) -> Vec<usize> {
        let mut order = self.parts_by_presence();
        // Stable: among equal shares (the absent ones above all) the summed occurrence decides.
        order.sort_by(|&a, &b| self.firing_share(b).total_cmp(&self.firing_share(a)));
        order
    }

    /// The fraction of locations where part `part` fires (occurrence above
    /// [`FIRE_THRESHOLD`], as the part browser counts firing); 0 for a part absent from the
    /// image.
    pub fn firing_share(&self, part: usize) -> f32 {
        self.occurrence_of(part).iter().filter(|&&v| v > FIRE_THRESHOLD).count() as f32 / (self.grid * self.grid).max(1) as f32
    }

    /// This code with part `target_part`'s appearance replaced by `source`'s part
    /// `source_part` appearance; the occurrence maps stay this code's (the paper's Fig. 5).
    pub fn with_appearance_from(&self, source: &PartCode, source_part: usize, target_part: usize) -> PartCode {
        let mut out = self.clone();
        let d = self.part_dim;
        out.appearance[target_part * d..(target_part + 1) * d].copy_from_slice(source.appearance_of(source_part));
        out
    }

    /// This code with the given parts' occurrence maps set to zero.
    pub fn with_parts_off(&self, off: &[usize]) -> PartCode {
        let mut out = self.clone();
        let cells = self.grid * self.grid;
        for &p in off.iter().filter(|&&p| p < self.parts) {
            out.occurrence[p * cells..(p + 1) * cells].fill(0.0);
        }
        out
    }

    /// The decoder's input on the host: `[parts·part_dim, grid, grid]`, part-major, the
    /// same layout as [`crate::families::patch_vae::patch_code`].
    pub fn patch_code(&self) -> Vec<f32> {
        let cells = self.grid * self.grid;
        let mut out = Vec::with_capacity(self.parts * self.part_dim * cells);
        for p in 0..self.parts {
            for k in 0..self.part_dim {
                let a = self.appearance[p * self.part_dim + k];
                out.extend(self.occurrence_of(p).iter().map(|o| o * a));
            }
        }
        out
    }
}

/// Everything the Parts and Swap views show about one image.
#[derive(Debug, Clone)]
pub struct PartAnalysis {
    /// Occurrence probabilities `[parts, grid, grid]`.
    pub probabilities: Vec<f32>,
    /// A sampled occurrence map (relaxed, at the step's temperature).
    pub sampled: Vec<f32>,
    /// The deterministic code the reconstruction decodes: noise-free occurrence maps at the
    /// step's temperature and the appearance means.
    pub code: PartCode,
    /// Appearance variances `[parts, part_dim]`.
    pub appearance_var: Vec<f32>,
    pub reconstruction: HostImage,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::families::trainable::{normal_noise, uniform_noise};

    pub(crate) fn code(parts: usize, part_dim: usize, grid: usize, seed: u64) -> PartCode {
        let mut rng = crate::train::step_rng(seed, 0);
        PartCode { parts, part_dim, grid, occurrence: uniform_noise(&mut rng, parts * grid * grid), appearance: normal_noise(&mut rng, parts * part_dim) }
    }

    #[test]
    fn a_swap_changes_only_the_swapped_parts_channels() {
        let (n, d, g) = (5, 3, 4);
        let target = code(n, d, g, 1);
        let source = code(n, d, g, 2);
        let swapped = target.with_appearance_from(&source, 1, 3);
        let (before, after) = (target.patch_code(), swapped.patch_code());
        let cells = g * g;
        for channel in 0..n * d {
            let same = before[channel * cells..(channel + 1) * cells] == after[channel * cells..(channel + 1) * cells];
            assert_eq!(same, channel / d != 3, "channel {channel}");
        }
        assert_eq!(swapped.appearance_of(3), source.appearance_of(1));
        assert_eq!(swapped.occurrence, target.occurrence);
    }

    #[test]
    fn parts_that_fire_come_first_and_absent_ones_by_their_mass() {
        // Grid 2×2: part 0 fires on one cell, part 1 on none (but weakly likely
        // everywhere, as a dead part at the prior), part 2 on three, part 3 on none.
        let code = PartCode { parts: 4, part_dim: 1, grid: 2, occurrence: vec![0.9, 0.0, 0.0, 0.0, 0.3, 0.3, 0.3, 0.3, 0.6, 0.6, 0.6, 0.0, 0.0, 0.0, 0.0, 0.1], appearance: vec![0.0; 4] };
        assert_eq!(code.firing_share(2), 0.75);
        assert_eq!(code.firing_share(1), 0.0);
        assert_eq!(code.parts_by_presence(), [2, 1, 0, 3]);
        assert_eq!(code.parts_by_firing(), [2, 0, 1, 3]);
    }

    #[test]
    fn switching_parts_off_zeroes_their_maps_only() {
        let c = code(4, 2, 2, 3);
        let off = c.with_parts_off(&[0, 2, 9]);
        assert!(off.occurrence_of(0).iter().all(|&v| v == 0.0) && off.occurrence_of(2).iter().all(|&v| v == 0.0));
        assert_eq!(off.occurrence_of(1), c.occurrence_of(1));
        assert_eq!(off.occurrence_of(3), c.occurrence_of(3));
    }
}
