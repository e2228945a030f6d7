//! The cycle-consistent VAE (Jha, Anand et al., ECCV 2018; Talwar's report, digest
//! `cycle-vae.md`): a latent split into the specified factors s (deterministic: what the
//! pairwise "same class" supervision names) and the unspecified ones z (a VAE posterior:
//! the style). The forward cycle reconstructs each image of a same-class pair from its own
//! z and its partner's s; the reverse cycle decodes one z ~ N(0, I) with the s of two
//! images, re-encodes both and pulls the two z's together, training the encoder only.
//!
//! Networks are the official code's (`networks.py`, 1×28×28): encoder 3× [conv 5×5/2 pad
//! 1, instance norm, ReLU] 16/32/64 to 64×2×2, heads style μ, log σ² and class s; decoder
//! a Linear + LeakyReLU(0.2) per latent to 256 each, concatenated to 128×2×2, then
//! transposed convolutions 4×4/2 to 32 and 16 (instance norm, LeakyReLU) and to the image
//! (padding 1). Init normal(0, 0.05) as the code's. The code ends in a sigmoid on [0, 1]
//! pixels; Patchwork's images are in [−1, 1], so tanh, and the losses are taken on the
//! [0, 1] scale so the code's coefficients (2, 3, 10) keep their meaning.
//!
//! The code has no network for larger images (it ships MNIST only). For 64×64 (colour) data
//! Patchwork extends it the same way, one stage more: 4× [conv 5×5/2 pad 2, instance norm,
//! ReLU] 16/32/64/128 to 128×4×4, heads from its 2,048 values; decoder Linears to 1,024
//! each, concatenated to 128×4×4, then transposed convolutions 4×4/2 pad 1 to 64, 32, 16
//! and the image.

mod settings;
mod train;

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, InstanceNorm, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation;
use serde::{Deserialize, Serialize};

use crate::nn::blocks::{instance_norm, leaky_relu};

pub use train::ClassIndex;

/// What the reverse cycle compares between the two re-encoded images (report §2, Table 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReverseCycle {
    /// ‖μ(x''₁) − μ(x''₂)‖₁, the code's (mean over elements).
    L1,
    /// The 2-Wasserstein distance between the two re-encoded diagonal Gaussians, in closed
    /// form ‖μ₁ − μ₂‖² + ‖σ₁ − σ₂‖² (the report's variant V3; it does not say how it was
    /// computed).
    Wasserstein,
    /// No reverse cycle: the ablation that shows what it buys.
    None,
}

/// The image sizes the networks take.
pub const IMAGE_SIZES: [usize; 2] = [28, 64];

#[derive(Config, Debug, PartialEq)]
pub struct CycleVaeConfig {
    /// Unspecified (style) dimensions z (code `style_dim` 16; the report's sweep 16…512).
    #[config(default = 16)]
    pub style_dim: usize,
    /// Specified (class) dimensions s (code `class_dim` 16).
    #[config(default = 16)]
    pub class_dim: usize,
    #[config(default = 28)]
    pub image_size: usize,
    #[config(default = 1)]
    pub channels: usize,
    /// Weight of each forward reconstruction (code 2; "3 for 64 dim space").
    #[config(default = 2.0)]
    pub reconstruction_coef: f64,
    /// Weight of the KL on z, divided as the code by the batch's pixels (code 3).
    #[config(default = 3.0)]
    pub kl_coef: f64,
    /// Weight of the reverse cycle (code 10).
    #[config(default = 10.0)]
    pub reverse_coef: f64,
    #[config(default = "ReverseCycle::L1")]
    pub reverse_cycle: ReverseCycle,
    /// The report's variant V1: in the reverse cycle, each image is also reconstructed from
    /// its own z and the s re-encoded from its generated image, training the decoder.
    #[config(default = false)]
    pub reverse_reconstruction: bool,
    /// Classes left out of training (bit c = class c), for the report's few-shot setting.
    #[config(default = 0)]
    pub holdout_classes: u64,
    /// Images of each held-out class let into training (report: 0, 1 or 10).
    #[config(default = 0)]
    pub holdout_examples: usize,
}

impl CycleVaeConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.style_dim == 0 || self.class_dim == 0 || self.style_dim > 4096 || self.class_dim > 4096 {
            return Err(format!("z and s take 1 to 4096 dimensions, not {} and {}", self.style_dim, self.class_dim));
        }
        if !IMAGE_SIZES.contains(&self.image_size) {
            return Err(format!("the cycle-consistent VAE's networks take 28×28 images (the official code's) or 64×64 (one stage more), not {}", self.image_size));
        }
        if !(self.channels == 1 || self.channels == 3) {
            return Err(format!("channels must be 1 or 3, not {}", self.channels));
        }
        for (name, v) in [("reconstruction_coef", self.reconstruction_coef), ("kl_coef", self.kl_coef), ("reverse_coef", self.reverse_coef)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a finite number ≥ 0, not {v}"));
            }
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> CycleVae {
        let init = Initializer::Normal { mean: 0.0, std: 0.05 };
        let c = self.channels;
        // 28×28: the code's padding 1 (28 → 13 → 6 → 2); 64×64: padding 2 (64 → 32 → 16 → 8 → 4).
        let pad = if self.image_size == 28 { 1 } else { 2 };
        let conv = |i: usize, o: usize| Conv2dConfig::new([i, o], [5, 5]).with_stride([2, 2]).with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad)).with_initializer(init.clone()).init(device);
        let deconv = |i: usize, o: usize, padding: usize| ConvTranspose2dConfig::new([i, o], [4, 4]).with_stride([2, 2]).with_padding([padding, padding]).with_initializer(init.clone()).init(device);
        let linear = |i: usize, o: usize| LinearConfig::new(i, o).with_initializer(init.clone()).init(device);
        // The encoder's last stage flattened (`trunk`), and the decoder's start: 128 channels
        // of side² cells, half of them from z and half from s.
        let (encoder_widths, trunk, side, decoder_widths, decoder_pads): (&[usize], usize, usize, &[usize], &[usize]) =
            if self.image_size == 28 { (&[16, 32, 64], 256, 2, &[32, 16], &[0, 0, 1]) } else { (&[16, 32, 64, 128], 2048, 4, &[64, 32, 16], &[1, 1, 1, 1]) };
        let half = 64 * side * side;
        let encoder_ins = std::iter::once(c).chain(encoder_widths.iter().copied());
        let decoder_ins = std::iter::once(128).chain(decoder_widths.iter().copied());
        let decoder_outs = decoder_widths.iter().copied().chain(std::iter::once(c));
        CycleVae {
            encoder: CycleEncoder {
                convs: encoder_ins.zip(encoder_widths).map(|(i, &o)| conv(i, o)).collect(),
                norms: encoder_widths.iter().map(|&w| instance_norm(w, device)).collect(),
                style_mu: linear(trunk, self.style_dim),
                style_logvar: linear(trunk, self.style_dim),
                class_output: linear(trunk, self.class_dim),
            },
            decoder: CycleDecoder {
                style_input: linear(self.style_dim, half),
                class_input: linear(self.class_dim, half),
                deconvs: decoder_ins.zip(decoder_outs).zip(decoder_pads).map(|((i, o), &p)| deconv(i, o, p)).collect(),
                norms: decoder_widths.iter().map(|&w| instance_norm(w, device)).collect(),
            },
            style_dim: self.style_dim,
            class_dim: self.class_dim,
        }
    }
}

#[derive(Module, Debug)]
pub struct CycleEncoder {
    convs: Vec<Conv2d>,
    norms: Vec<InstanceNorm>,
    style_mu: Linear,
    style_logvar: Linear,
    class_output: Linear,
}

#[derive(Module, Debug)]
pub struct CycleDecoder {
    style_input: Linear,
    class_input: Linear,
    deconvs: Vec<ConvTranspose2d>,
    norms: Vec<InstanceNorm>,
}

#[derive(Module, Debug)]
pub struct CycleVae {
    pub encoder: CycleEncoder,
    pub decoder: CycleDecoder,
    pub style_dim: usize,
    pub class_dim: usize,
}

/// One batch encoded: z's posterior and s.
#[derive(Debug, Clone)]
pub struct SplitPosterior {
    pub mu: Tensor<2>,
    pub logvar: Tensor<2>,
    pub class: Tensor<2>,
}

impl CycleEncoder {
    /// The trunk and its three heads, on a batch in [−1, 1].
    pub fn forward(&self, x: Tensor<4>) -> SplitPosterior {
        let mut h = x;
        for (conv, norm) in self.convs.iter().zip(&self.norms) {
            h = activation::relu(norm.forward(conv.forward(h)));
        }
        let [b, c, height, width] = h.dims();
        let h = h.reshape([b, c * height * width]);
        SplitPosterior { mu: self.style_mu.forward(h.clone()), logvar: self.style_logvar.forward(h.clone()), class: self.class_output.forward(h) }
    }
}

impl CycleDecoder {
    /// An image in [−1, 1] from z and s.
    pub fn forward(&self, style: Tensor<2>, class: Tensor<2>) -> Tensor<4> {
        let [b, _] = style.dims();
        let z = leaky_relu(self.style_input.forward(style), 0.2);
        let s = leaky_relu(self.class_input.forward(class), 0.2);
        // The two halves make 128 channels of side² cells (2×2 at 28×28, 4×4 at 64×64).
        let [_, half] = z.dims();
        let side = ((2 * half / 128) as f64).sqrt().round() as usize;
        let mut h = Tensor::cat(vec![z, s], 1).reshape([b, 128, side, side]);
        for (i, deconv) in self.deconvs.iter().enumerate() {
            h = deconv.forward(h);
            if let Some(norm) = self.norms.get(i) {
                h = leaky_relu(norm.forward(h), 0.2);
            }
        }
        h.tanh()
    }
}

impl CycleVae {
    pub fn encode(&self, x: Tensor<4>) -> SplitPosterior {
        self.encoder.forward(x)
    }

    pub fn decode(&self, style: Tensor<2>, class: Tensor<2>) -> Tensor<4> {
        self.decoder.forward(style, class)
    }

    /// Deterministic reconstruction: the decoded posterior mean with the image's own s.
    pub fn reconstruct(&self, x: Tensor<4>) -> Tensor<4> {
        let post = self.encode(x);
        self.decode(post.mu, post.class)
    }
}

/// Mean squared error on the [0, 1] pixel scale of two batches in [−1, 1] (the code's
/// `MSELoss` on `ToTensor()` images).
pub fn mse_01(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).powf_scalar(2.0).mean().div_scalar(4.0)
}

/// KL(N(μ, σ²) ‖ N(0, I)) summed over the batch and dimensions, as the code sums it.
pub fn kl_sum(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    (logvar.clone().add_scalar(1.0) - mu.powf_scalar(2.0) - logvar.exp()).sum().mul_scalar(-0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::trainable_params;

    #[test]
    fn shapes_follow_the_official_networks() {
        let device = Device::flex();
        let config = CycleVaeConfig::new().with_style_dim(16).with_class_dim(8);
        let model = config.init(&device);
        let x = Tensor::<4>::zeros([3, 1, 28, 28], &device);
        let post = model.encode(x.clone());
        assert_eq!((post.mu.dims(), post.logvar.dims(), post.class.dims()), ([3, 16], [3, 16], [3, 8]));
        assert_eq!(model.decode(post.mu, post.class).dims(), [3, 1, 28, 28]);
        // Encoder 416 + 12,832 + 51,264, heads 2·(256·16 + 16) + 256·8 + 8; decoder
        // 17·256 + 9·256, transposed convolutions 128·32·16 + 32 + 32·16·16 + 16 + 16·16 + 1.
        let expected = (416 + 12_832 + 51_264) + 2 * (256 * 16 + 16) + (256 * 8 + 8) + (17 * 256 + 9 * 256) + (128 * 32 * 16 + 32) + (32 * 16 * 16 + 16) + (16 * 16 + 1);
        assert_eq!(trainable_params(&model), expected);
    }

    #[test]
    fn the_64_pixel_colour_variant_has_one_stage_more() {
        let device = Device::flex();
        let model = CycleVaeConfig::new().with_image_size(64).with_channels(3).init(&device);
        let x = Tensor::<4>::zeros([2, 3, 64, 64], &device);
        let post = model.encode(x.clone());
        assert_eq!((post.mu.dims(), post.class.dims()), ([2, 16], [2, 16]));
        assert_eq!(model.decode(post.mu, post.class).dims(), [2, 3, 64, 64]);
        assert_eq!(model.reconstruct(x).dims(), [2, 3, 64, 64]);
        assert!(CycleVaeConfig::new().with_image_size(32).validate().unwrap_err().contains("64×64"));
    }

    #[test]
    fn the_kl_is_zero_at_the_prior_and_the_mse_is_on_the_unit_scale() {
        let device = Device::flex();
        let kl: f32 = kl_sum(Tensor::<2>::zeros([2, 3], &device), Tensor::<2>::zeros([2, 3], &device)).into_scalar();
        assert!(kl.abs() < 1e-6);
        let mse: f32 = mse_01(Tensor::<4>::ones([1, 1, 2, 2], &device), Tensor::<4>::ones([1, 1, 2, 2], &device).neg()).into_scalar();
        assert!((mse - 1.0).abs() < 1e-6, "black against white is 1 on [0, 1]");
    }
}
