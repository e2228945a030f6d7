//! What a trained model offers the explorer, as small traits: every model reconstructs;
//! some have a latent space to traverse, parts with occurrence maps and appearance swaps,
//! or quadrant chunks to mix. Families implement them; views ask for a capability, never
//! for a family. Nothing here knows a family.

pub mod parts;

use std::sync::Arc;

use burn::prelude::*;
use crate::rng::SeededRng;

use crate::data::HostImage;
use crate::mixing::QuadrantMask;
use crate::mixing::neighbours::NeighbourIndex;
use parts::{PartAnalysis, PartCode};

/// A capability by name: what a family declares (`FamilyInfo::capabilities`) and what a
/// view needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// One latent vector to encode to, traverse and decode from ([`LatentSpace`]).
    Latents,
    /// Samples decoded from codes drawn from the prior.
    PriorSamples,
    /// Parts with occurrence maps and appearances ([`PartSpace`]).
    Parts,
    /// Quadrant chunks mixed between scenes ([`ChunkMixer`]).
    Chunks,
    /// A latent split into specified factors (a class, target factors) and unspecified
    /// ones (the style, common factors), swapped between images ([`FactorSplit`]).
    Split,
}

impl Capability {
    pub const ALL: [Capability; 5] = [Capability::Latents, Capability::PriorSamples, Capability::Parts, Capability::Chunks, Capability::Split];

    pub fn describe(self) -> &'static str {
        match self {
            Capability::Latents => "a latent vector to traverse",
            Capability::PriorSamples => "samples from the prior",
            Capability::Parts => "parts with occurrence maps",
            Capability::Chunks => "quadrant chunks to mix",
            Capability::Split => "a split of factors to swap (class/style, target/common)",
        }
    }
}

/// A trained model of any family, for inference.
pub trait Explorable: std::fmt::Debug + Send + Sync {
    fn image_size(&self) -> usize;
    fn channels(&self) -> usize;
    fn device(&self) -> Device;
    /// Deterministic reconstructions (posterior means) of a batch in [−1, 1], by the model
    /// as trained up to `step` (annealed settings such as a temperature depend on it).
    fn reconstruct(&self, x: Tensor<4>, step: u64) -> Tensor<4>;
    /// Samples decoded from codes drawn from the prior; `None` without a prior.
    fn prior(&self) -> Option<&dyn PriorSampler> {
        None
    }
    fn latents(&self) -> Option<&dyn LatentSpace> {
        None
    }
    fn parts(&self) -> Option<&dyn PartSpace> {
        None
    }
    fn chunks(&self) -> Option<&dyn ChunkMixer> {
        None
    }
    fn split(&self) -> Option<&dyn FactorSplit> {
        None
    }
    /// Whether this model offers `capability` (asked by the views every frame, so it
    /// only looks at which accessors answer).
    fn offers(&self, capability: Capability) -> bool {
        match capability {
            Capability::Latents => self.latents().is_some(),
            Capability::PriorSamples => self.prior().is_some(),
            Capability::Parts => self.parts().is_some(),
            Capability::Chunks => self.chunks().is_some(),
            Capability::Split => self.split().is_some(),
        }
    }
    /// The capabilities this model offers.
    fn capabilities(&self) -> Vec<Capability> {
        Capability::ALL.into_iter().filter(|&c| self.offers(c)).collect()
    }
}

/// Images decoded from codes drawn from the prior.
pub trait PriorSampler {
    /// `n` samples, the noise drawn from `rng`.
    fn sample(&self, n: usize, rng: &mut SeededRng) -> Vec<HostImage>;
}

/// One latent vector per image.
pub trait LatentSpace {
    fn dims(&self) -> usize;
    /// What dimension `dim` is called in labels ("latent 3"; "e3" where the vector joins
    /// two kinds of factor).
    fn dim_name(&self, dim: usize) -> String {
        format!("latent {dim}")
    }
    /// Named groups of dimensions where the vector joins two kinds of factor (the
    /// reference-based VAE's e and z), for showing one kind alone; none by default.
    fn dim_groups(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        vec![]
    }
    /// Posteriors of a batch in [−1, 1].
    fn encode(&self, x: Tensor<4>) -> Vec<LatentCode>;
    /// Images decoded from latent vectors (shorter ones are padded with zeros).
    fn decode(&self, codes: &[Vec<f32>]) -> Vec<HostImage>;
}

/// Parts: per part an occurrence map over a grid of locations and an appearance vector.
pub trait PartSpace {
    fn parts(&self) -> usize;
    fn part_dim(&self) -> usize;
    /// Side of the square location grid.
    fn grid(&self) -> usize;
    /// Part codes, maps and reconstructions of a batch in [−1, 1], by the model as trained
    /// up to `step`, with the sampling noise from `rng`.
    fn analyse(&self, x: Tensor<4>, step: u64, rng: &mut SeededRng) -> Vec<PartAnalysis>;
    /// Occurrence probabilities `[b, parts, grid, grid]` of a batch, flattened.
    fn occurrence_probabilities(&self, x: Tensor<4>) -> Vec<f32>;
    /// Images decoded from part codes of the model's shape.
    fn decode(&self, codes: &[PartCode]) -> Vec<HostImage>;
}

/// Four quadrant chunks of latent, mixed between scenes.
pub trait ChunkMixer {
    /// Dimensions of one chunk.
    fn chunk(&self) -> usize;
    /// Latents `[b, 4 × chunk]` of a batch, chunk-major (TL, TR, BL, BR).
    fn encode(&self, x: Tensor<4>) -> Tensor<2>;
    fn decode(&self, z: Tensor<2>) -> Tensor<4>;
    /// `references[i]` rendered with the quadrants set in `masks[i]` from `objects[i]`.
    fn transfer(&self, objects: Tensor<4>, references: Tensor<4>, masks: &[QuadrantMask]) -> Tensor<4>;
    /// The neighbour lists of the training pool, when the checkpoint or run has them.
    fn neighbour_index(&self) -> Option<&Arc<NeighbourIndex>>;
}

/// A latent split in two: the specified factors (what the supervision names: a class) and
/// the unspecified ones (the style), each decodable with the other's from another image.
pub trait FactorSplit {
    /// What the two parts stand for, for labels ("class s", "style z").
    fn names(&self) -> SplitNames;
    /// (unspecified, specified) dimensions.
    fn dims(&self) -> (usize, usize);
    /// Codes of a batch in [−1, 1]: the unspecified part's posterior, the specified vector.
    fn encode(&self, x: Tensor<4>) -> Vec<SplitCode>;
    /// Images decoded from (unspecified, specified) vectors.
    fn decode(&self, codes: &[(Vec<f32>, Vec<f32>)]) -> Vec<HostImage>;
    /// Whether the specified part has a N(0, I) prior too (the reference-based VAE's e),
    /// so it can be drawn; the cycle VAE's class s has none.
    fn specified_prior(&self) -> bool {
        false
    }
    /// The specified code every reference image shares (the reference-based VAE's learned
    /// e_r), where there is one.
    fn reference(&self) -> Option<Vec<f32>> {
        None
    }
}

/// Labels for the two parts of a [`FactorSplit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitNames {
    pub unspecified: &'static str,
    pub specified: &'static str,
}

/// One image's code under a [`FactorSplit`].
#[derive(Debug, Clone, PartialEq)]
pub struct SplitCode {
    pub unspecified: LatentCode,
    pub specified: Vec<f32>,
}

/// A posterior on the host: means and variances of every latent dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentCode {
    pub mu: Vec<f32>,
    pub var: Vec<f32>,
}

impl LatentCode {
    /// KL(q(z_i|x) ‖ N(0, 1)) of each dimension, in nats.
    pub fn kl_per_dim(&self) -> Vec<f32> {
        self.mu.iter().zip(&self.var).map(|(m, v)| 0.5 * (m * m + v - v.max(1e-12).ln() - 1.0)).collect()
    }

    /// Dimensions ordered by KL, most informative first (ties by index).
    pub fn dims_by_kl(&self) -> Vec<usize> {
        let kl = self.kl_per_dim();
        let mut order: Vec<usize> = (0..kl.len()).collect();
        order.sort_by(|&a, &b| kl[b].total_cmp(&kl[a]).then(a.cmp(&b)));
        order
    }
}

