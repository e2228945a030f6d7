//! β-VAE (Higgins et al.) and its capacity-annealed variant (Burgess et al.), with three
//! encoder/decoder architectures:
//! - `Mlp`: Kingma & Welling's fully connected VAE (any image size, e.g. 28×28),
//! - `Higgins`: the conv net of the β-VAE paper as in 1Konny/Beta-VAE's `BetaVAE_H`
//!   (4×4/2 convs 32-32-64-64, 4×4 conv to 256, linear to 2z; mirrored decoder),
//! - `Resnet9`: the PatchVAE paper's β-VAE baseline (Tables 8 and 10): Resnet-9 backbone,
//!   (1×1, 64) BN ReLU, μ and σ² heads (4×4, 96) at 32×32; decoder from a (4×4, 64, 1, 0)
//!   deconv. 888,192 + 774,144 parameters at 32×32 RGB, as the paper's tables.

mod settings;
mod train;

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation;
use serde::{Deserialize, Serialize};

use crate::nn::blocks::{self, RESNET9_CHANNELS, Resnet9, batch_norm, conv, deconv};
use crate::nn::losses::{bernoulli_nll_with_logits, edge_weighted_squared_error, gaussian_kl, reparameterize, sum_squared_error};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaeArch {
    Mlp,
    Higgins,
    Resnet9,
}

/// How reconstructions are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReconLoss {
    /// Sum of squared errors on [−1, 1] images (Gaussian decoder, decoder output tanh).
    Mse,
    /// Bernoulli likelihood with logits (binary images such as dSprites).
    Bernoulli,
}

/// Burgess et al.'s capacity annealing: loss = recon + γ |KL − C|, C rising linearly
/// from 0 to `c_max` over `ramp_steps`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub gamma: f64,
    pub c_max: f64,
    pub ramp_steps: u64,
}

impl Default for Capacity {
    /// 1Konny/Beta-VAE's defaults: γ = 1000, C_max = 25, ramp 1e5 iterations.
    fn default() -> Self {
        Self { gamma: 1000.0, c_max: 25.0, ramp_steps: 100_000 }
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct BetaVaeConfig {
    pub arch: VaeArch,
    #[config(default = 10)]
    pub latent: usize,
    #[config(default = 4.0)]
    pub beta: f64,
    #[config(default = 32)]
    pub image_size: usize,
    #[config(default = 1)]
    pub channels: usize,
    #[config(default = "ReconLoss::Mse")]
    pub recon: ReconLoss,
    /// `Some` selects the capacity-annealed objective (β is then unused).
    pub capacity: Option<Capacity>,
    /// Hidden width of the `Mlp` architecture.
    #[config(default = 400)]
    pub hidden: usize,
    /// The PatchVAE paper's weighted loss L_w on the MSE reconstruction.
    #[config(default = false)]
    pub weighted_loss: bool,
}

impl BetaVaeConfig {
    /// The PatchVAE paper's baseline: Resnet-9, 96 latents, 32×32.
    pub fn paper_baseline(channels: usize) -> Self {
        Self::new(VaeArch::Resnet9).with_latent(96).with_beta(1.0).with_channels(channels)
    }

    /// Checks the combination of settings, explaining what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.latent == 0 {
            return Err("latent must be at least 1".into());
        }
        if !(self.channels == 1 || self.channels == 3) {
            return Err(format!("channels must be 1 or 3, not {}", self.channels));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(format!("beta must be a finite number ≥ 0, not {}", self.beta));
        }
        if self.weighted_loss && (self.recon != ReconLoss::Mse || !self.image_size.is_multiple_of(8)) {
            return Err("the weighted loss L_w needs the mse reconstruction and an image size divisible by 8".into());
        }
        match self.arch {
            VaeArch::Mlp if self.image_size < 4 || self.image_size > 128 => {
                Err(format!("the mlp architecture takes image sizes 4 to 128, not {}", self.image_size))
            }
            VaeArch::Higgins | VaeArch::Resnet9 if !matches!(self.image_size, 32 | 64) => Err(format!(
                "the {:?} architecture takes image size 32 or 64, not {} (use arch mlp for 28×28)",
                self.arch, self.image_size
            )),
            _ => Ok(()),
        }
    }

    pub fn init(&self, device: &Device) -> BetaVae {
        let (s, c, z) = (self.image_size, self.channels, self.latent);
        let (mlp, higgins, resnet) = match self.arch {
            VaeArch::Mlp => (Some(MlpVae::new(c * s * s, self.hidden, z, device)), None, None),
            VaeArch::Higgins => (None, Some(HigginsVae::new(c, s, z, device)), None),
            VaeArch::Resnet9 => (None, None, Some(Resnet9Vae::new(c, s, z, device))),
        };
        BetaVae { mlp, higgins, resnet, channels: c, image_size: s, latent: z }
    }
}

#[derive(Module, Debug)]
pub struct MlpVae {
    hidden: Linear,
    mu: Linear,
    logvar: Linear,
    dec_hidden: Linear,
    dec_out: Linear,
}

impl MlpVae {
    fn new(pixels: usize, hidden: usize, z: usize, d: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(pixels, hidden).init(d),
            mu: LinearConfig::new(hidden, z).init(d),
            logvar: LinearConfig::new(hidden, z).init(d),
            dec_hidden: LinearConfig::new(z, hidden).init(d),
            dec_out: LinearConfig::new(hidden, pixels).init(d),
        }
    }
}

#[derive(Module, Debug)]
pub struct HigginsVae {
    convs: Vec<Conv2d>,
    to_code: Conv2d,
    head: Linear,
    from_latent: Linear,
    from_code: ConvTranspose2d,
    deconvs: Vec<ConvTranspose2d>,
}

impl HigginsVae {
    fn new(c: usize, size: usize, z: usize, d: &Device) -> Self {
        // 64×64 uses four stride-2 stages (32-32-64-64), 32×32 the last three.
        let widths: &[usize] = if size == 64 { &[32, 32, 64, 64] } else { &[32, 64, 64] };
        let mut convs = Vec::new();
        let mut input = c;
        for &w in widths {
            convs.push(conv([input, w], 4, 2, 1, true, d));
            input = w;
        }
        let mut deconvs = Vec::new();
        for (i, &w) in widths.iter().enumerate().rev() {
            let out = if i == 0 { c } else { widths[i - 1] };
            deconvs.push(deconv([w, out], 4, 2, 1, true, d));
        }
        Self {
            convs,
            to_code: conv([input, 256], 4, 1, 0, true, d),
            head: LinearConfig::new(256, 2 * z).init(d),
            from_latent: LinearConfig::new(z, 256).init(d),
            from_code: deconv([256, input], 4, 1, 0, true, d),
            deconvs,
        }
    }
}

#[derive(Module, Debug)]
pub struct Resnet9Vae {
    backbone: Resnet9,
    reduce: Conv2d,
    reduce_bn: BatchNorm,
    mu: Conv2d,
    logvar: Conv2d,
    from_latent: ConvTranspose2d,
    from_latent_bn: BatchNorm,
    expand: Conv2d,
    expand_bn: BatchNorm,
    up1: ConvTranspose2d,
    up1_bn: BatchNorm,
    up2: ConvTranspose2d,
    up2_bn: BatchNorm,
    out: ConvTranspose2d,
}

impl Resnet9Vae {
    fn new(c: usize, size: usize, z: usize, d: &Device) -> Self {
        let k = size / 8; // the heads cover the whole H/8 × W/8 feature map
        Self {
            backbone: Resnet9::new(c, d),
            reduce: conv([RESNET9_CHANNELS, 64], 1, 1, 0, false, d),
            reduce_bn: batch_norm(64, d),
            mu: conv([64, z], k, 1, 0, true, d),
            logvar: conv([64, z], k, 1, 0, true, d),
            from_latent: deconv([z, 64], k, 1, 0, false, d),
            from_latent_bn: batch_norm(64, d),
            expand: conv([64, 256], 1, 1, 0, false, d),
            expand_bn: batch_norm(256, d),
            up1: deconv([256, 128], 4, 2, 1, false, d),
            up1_bn: batch_norm(128, d),
            up2: deconv([128, 64], 4, 2, 1, false, d),
            up2_bn: batch_norm(64, d),
            out: deconv([64, c], 4, 2, 1, false, d),
        }
    }
}

fn lrelu(x: Tensor<4>) -> Tensor<4> {
    blocks::leaky_relu(x, 0.2)
}

/// A β-VAE; exactly one of the architecture fields is set.
#[derive(Module, Debug)]
pub struct BetaVae {
    mlp: Option<MlpVae>,
    higgins: Option<HigginsVae>,
    resnet: Option<Resnet9Vae>,
    pub channels: usize,
    pub image_size: usize,
    pub latent: usize,
}

/// The encoder's output for a batch: `[batch, latent]` each.
pub struct Posterior {
    pub mu: Tensor<2>,
    pub logvar: Tensor<2>,
}

impl BetaVae {
    /// φ, for the `Resnet9` architecture.
    pub fn resnet_backbone(&self) -> Option<&Resnet9> {
        self.resnet.as_ref().map(|m| &m.backbone)
    }

    pub fn encode(&self, x: Tensor<4>) -> Posterior {
        let [b, ..] = x.dims();
        let z = self.latent;
        if let Some(m) = &self.mlp {
            let h = activation::relu(m.hidden.forward(x.reshape([b as i32, -1])));
            return Posterior { mu: m.mu.forward(h.clone()), logvar: m.logvar.forward(h) };
        }
        if let Some(m) = &self.higgins {
            let mut h = x;
            for c in &m.convs {
                h = activation::relu(c.forward(h));
            }
            let code = activation::relu(m.to_code.forward(h)).reshape([b, 256]);
            let stats = m.head.forward(code);
            return Posterior { mu: stats.clone().slice([0..b, 0..z]), logvar: stats.slice([0..b, z..2 * z]) };
        }
        let m = self.resnet.as_ref().expect("a BetaVae has exactly one architecture");
        let h = activation::relu(m.reduce_bn.forward(m.reduce.forward(m.backbone.forward(x))));
        Posterior { mu: m.mu.forward(h.clone()).reshape([b, z]), logvar: m.logvar.forward(h).reshape([b, z]) }
    }

    /// Decoder logits `[batch, channels, size, size]`; see [`BetaVae::to_image`].
    pub fn decode_logits(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, _] = z.dims();
        let (c, s) = (self.channels, self.image_size);
        if let Some(m) = &self.mlp {
            let h = activation::relu(m.dec_hidden.forward(z));
            return m.dec_out.forward(h).reshape([b, c, s, s]);
        }
        if let Some(m) = &self.higgins {
            let h = activation::relu(m.from_latent.forward(z)).reshape([b, 256, 1, 1]);
            let mut h = activation::relu(m.from_code.forward(h));
            let last = m.deconvs.len() - 1;
            for (i, d) in m.deconvs.iter().enumerate() {
                h = d.forward(h);
                if i < last {
                    h = activation::relu(h);
                }
            }
            return h;
        }
        let m = self.resnet.as_ref().expect("a BetaVae has exactly one architecture");
        let h = lrelu(m.from_latent_bn.forward(m.from_latent.forward(z.reshape([b, self.latent, 1, 1]))));
        let h = lrelu(m.expand_bn.forward(m.expand.forward(h)));
        let h = lrelu(m.up1_bn.forward(m.up1.forward(h)));
        let h = lrelu(m.up2_bn.forward(m.up2.forward(h)));
        m.out.forward(h)
    }

    /// Maps decoder logits to an image in [−1, 1]: tanh for the Gaussian decoder,
    /// 2·sigmoid − 1 = tanh(l/2) for the Bernoulli one.
    pub fn to_image(logits: Tensor<4>, recon: ReconLoss) -> Tensor<4> {
        match recon {
            ReconLoss::Mse => logits.tanh(),
            ReconLoss::Bernoulli => (logits * 0.5).tanh(),
        }
    }

    /// Everything one training step needs: named loss terms and the total to minimise.
    pub fn loss(&self, x: Tensor<4>, eps: Tensor<2>, hyper: &BetaVaeHyper) -> VaeLoss {
        let post = self.encode(x.clone());
        let z = reparameterize(post.mu.clone(), post.logvar.clone(), eps);
        let logits = self.decode_logits(z);
        let recon = match hyper.recon {
            ReconLoss::Mse if hyper.weighted => edge_weighted_squared_error(logits.tanh(), x, 8),
            ReconLoss::Mse => sum_squared_error(logits.tanh(), x),
            ReconLoss::Bernoulli => bernoulli_nll_with_logits(logits, x),
        };
        let kl = gaussian_kl(post.mu, post.logvar);
        let (total, capacity) = match hyper.capacity {
            Some(cap) => {
                let c = cap.c_max * (hyper.step as f64 / cap.ramp_steps.max(1) as f64).min(1.0);
                (recon.clone() + (kl.clone() - c).abs() * cap.gamma, Some(c))
            }
            None => (recon.clone() + kl.clone() * hyper.beta, None),
        };
        VaeLoss { total, recon, kl, capacity }
    }
}

/// The hyperparameters a running loss reads each step (they may change mid-run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaVaeHyper {
    pub beta: f64,
    pub recon: ReconLoss,
    pub capacity: Option<Capacity>,
    pub step: u64,
    /// Weighted reconstruction loss L_w.
    pub weighted: bool,
}

pub struct VaeLoss {
    pub total: Tensor<1>,
    pub recon: Tensor<1>,
    pub kl: Tensor<1>,
    /// The capacity target C at this step, for the annealed objective.
    pub capacity: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::trainable_params;

    #[test]
    fn paper_baseline_matches_table_parameter_counts() {
        let d = Device::flex();
        let vae = BetaVaeConfig::paper_baseline(3).init(&d);
        let m = vae.resnet.as_ref().unwrap();
        let encoder = trainable_params(&m.backbone)
            + trainable_params(&m.reduce)
            + trainable_params(&m.reduce_bn)
            + trainable_params(&m.mu)
            + trainable_params(&m.logvar);
        assert_eq!(trainable_params(&m.backbone), 683_072);
        assert_eq!(encoder, 888_192);
        assert_eq!(trainable_params(&vae) - encoder, 774_144);
    }

    #[test]
    fn every_architecture_round_trips_shapes() {
        let d = Device::flex();
        for (arch, size) in [(VaeArch::Mlp, 28), (VaeArch::Higgins, 64), (VaeArch::Higgins, 32), (VaeArch::Resnet9, 32), (VaeArch::Resnet9, 64)] {
            let cfg = BetaVaeConfig::new(arch).with_image_size(size).with_channels(3).with_latent(5);
            cfg.validate().unwrap();
            let vae = cfg.init(&d);
            let x = Tensor::<4>::zeros([2, 3, size, size], &d);
            let post = vae.encode(x);
            assert_eq!(post.mu.dims(), [2, 5]);
            assert_eq!(vae.decode_logits(post.mu).dims(), [2, 3, size, size], "{arch:?} {size}");
        }
        assert!(BetaVaeConfig::new(VaeArch::Resnet9).with_image_size(28).validate().is_err());
    }
}
