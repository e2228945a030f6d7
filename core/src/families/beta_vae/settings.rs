//! The β-VAE's settings table and its place in the registry.

use super::{BetaVaeConfig, Capacity, ReconLoss, VaeArch};
use crate::bench::BenchSettings;
use crate::capabilities::Capability;
use crate::families::settings::{self, Configurable, Kind, Role, Setting, Value, choice, choice_of, count, number, switch};
use crate::families::{FamilyConfig, FamilyInfo};

const ARCHS: &[&str] = &["resnet9", "higgins", "mlp"];
const RECONS: &[&str] = &["mse", "bernoulli"];
const LIVE: Role = Role::Live { logged: true };

static SETTINGS: [Setting; 10] = [
    Setting::new(
        "arch",
        "arch",
        "architecture",
        Kind::Choice(ARCHS),
        Role::Network,
        "resnet9: the PatchVAE paper's baseline (Tables 8, 10)\nhiggins: the β-VAE paper's conv net\nmlp: Kingma & Welling's MLP, any size (28 = native MNIST)",
    ),
    Setting::new("image_size", "size", "image size", Kind::Size(&[28, 32, 64]), Role::Network, "image size the model sees: resnet9 and higgins take 32 or 64, mlp any (28 = native MNIST)"),
    Setting::new("latent", "latent", "latent size", Kind::Count { min: 1, max: 256 }, Role::Network, "latent dimensions (1Konny/Beta-VAE: 10; PatchVAE baseline: 96; 2 shows the manifold in Traverse)"),
    Setting::new("channels", "channels", "channels", Kind::Count { min: 1, max: 3 }, Role::Network, "image channels, 1 = grey or 3 = RGB (default: the data's)").not_in_form(),
    Setting::new("beta", "beta", "β", Kind::Number { min: 0.0, max: 100.0, speed: 0.1 }, LIVE, "KL weight: 1 = plain VAE; β-VAE default 4 (Higgins et al.)"),
    Setting::new("recon", "recon", "reconstruction loss", Kind::Choice(RECONS), Role::Objective, "mse: squared error on [−1, 1] (Gaussian decoder)\nbernoulli: Bernoulli likelihood with logits (binary images such as dSprites)"),
    Setting::new("capacity", "capacity", "capacity objective", Kind::Switch, Role::Objective, "Burgess et al.'s capacity-annealed objective recon + γ|KL − C|, C rising to C_max over 1e5 steps (1Konny/Beta-VAE's defaults); β is then unused"),
    Setting::new("gamma", "gamma", "γ", Kind::Number { min: 0.0, max: 10_000.0, speed: 1.0 }, LIVE, "capacity objective: weight of |KL − C| (1Konny/Beta-VAE: 1000)").needs("capacity"),
    Setting::new("c_max", "c-max", "C_max", Kind::Number { min: 0.0, max: 1000.0, speed: 0.1 }, LIVE, "capacity objective: the capacity C reached at the end of the ramp, in nats (1Konny/Beta-VAE: 25)").needs("capacity"),
    Setting::new("weighted", "weighted", "weighted loss L_w", Kind::Switch, Role::Objective, "the PatchVAE paper's weighted loss L_w: the reconstruction error of each 8×8 patch weighted by the input's Laplacian magnitude there (§3.3); off by default"),
];

impl Configurable for BetaVaeConfig {
    fn settings(&self) -> &'static [Setting] {
        &SETTINGS
    }

    fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "arch" => choice_of(&self.arch, ARCHS),
            "image_size" => Value::Count(self.image_size as u64),
            "latent" => Value::Count(self.latent as u64),
            "channels" => Value::Count(self.channels as u64),
            "beta" => Value::Number(self.beta),
            "recon" => choice_of(&self.recon, RECONS),
            "capacity" => Value::Switch(self.capacity.is_some()),
            "gamma" => settings::optional(self.capacity, |c| Value::Number(c.gamma)),
            "c_max" => settings::optional(self.capacity, |c| Value::Number(c.c_max)),
            "weighted" => Value::Switch(self.weighted_loss),
            _ => return None,
        })
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), String> {
        match name {
            "arch" => {
                let arch: VaeArch = choice(value, name)?;
                // The MLP is the one that takes native 28×28 digits; the conv nets' 32.
                if arch != self.arch {
                    self.image_size = if arch == VaeArch::Mlp { 28 } else { self.image_size.max(32) };
                }
                self.arch = arch;
            }
            "image_size" => self.image_size = count(value, name)?,
            "latent" => self.latent = count(value, name)?,
            "channels" => self.channels = count(value, name)?,
            "beta" => self.beta = number(value, name)?,
            "recon" => self.recon = choice::<ReconLoss>(value, name)?,
            "capacity" => {
                let on = switch(value, name)?;
                if on != self.capacity.is_some() {
                    self.capacity = on.then(Capacity::default);
                }
            }
            "gamma" | "c_max" => {
                let Some(capacity) = self.capacity.as_mut() else {
                    if value == Value::Unset {
                        return Ok(());
                    }
                    return Err(format!("{name} belongs to the capacity objective, which this model does not use (--capacity)"));
                };
                let x = number(value, name)?;
                if name == "gamma" {
                    capacity.gamma = x;
                } else {
                    capacity.c_max = x;
                }
            }
            "weighted" => self.weighted_loss = switch(value, name)?,
            _ => return Err(format!("{} has no setting '{name}'", Self::INFO.name)),
        }
        Ok(())
    }
}

impl FamilyConfig for BetaVaeConfig {
    const INFO: FamilyInfo = FamilyInfo {
        name: "beta-vae",
        aliases: &["vae"],
        summary: "one latent vector (Higgins et al.; Burgess et al.'s capacity objective)",
        capabilities: &[Capability::Latents, Capability::PriorSamples],
        batch_size: None,
        lr: None,
        adam_betas: None,
        lr_schedule: None,
        data: "fashion-mnist",
        needs_channels: None,
        shipped: None,
        bench: BenchSettings { batch: 128, warmup_steps: 3, runs: 5, steps_per_run: 5 },
        bench_each: None,
    };

    fn for_data(channels: usize) -> Self {
        BetaVaeConfig::new(VaeArch::Resnet9).with_channels(channels)
    }

    fn image_size(&self) -> usize {
        self.image_size
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn validate(&self) -> Result<(), String> {
        BetaVaeConfig::validate(self)
    }
}
