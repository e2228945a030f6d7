//! Mixing scenes' settings table and its place in the registry.

use super::{MixingPreset, MixingScenesConfig, SCENE_SIZE};
use crate::bench::BenchSettings;
use crate::capabilities::Capability;
use crate::families::settings::{self, Configurable, Kind, Role, Setting, Value, choice, choice_of, count, number, optional_number, switch};
use crate::families::{FamilyConfig, FamilyInfo};

const PRESETS: &[&str] = &["small", "full"];
const WEIGHT: Kind = Kind::Number { min: 0.0, max: 10.0, speed: 0.01 };
const LIVE: Role = Role::Live { logged: true };

static SETTINGS: [Setting; 11] = [
    Setting::new(
        "preset",
        "preset",
        "preset",
        Kind::Choice(PRESETS),
        Role::Network,
        "network size\nsmall: fewer, wider layers (48-d chunks), trains on a CPU\nfull: the thesis's networks (encoder 2,800,512, decoder 5,300,339, PatchGAN 1,188,391 parameters)",
    ),
    Setting::new("image_size", "size", "image size", Kind::Size(&[SCENE_SIZE as u64]), Role::Network, "64×64 colour images: the encoder's 32× downsampling leaves a 2×2 chunk map").not_in_form(),
    Setting::new("use_rec", "no-rec", "reconstruction term", Kind::Switch, Role::Objective, "L_G's L1 reconstruction term (direct + cycle); off: the thesis's ablation without it (Table 4.5)"),
    Setting::new("lambda_rec", "lambda-rec", "λ_rec", WEIGHT, LIVE, "weight of the L1 reconstruction (direct + cycle); thesis 0.904").needs("use_rec"),
    Setting::new("use_adv", "no-adv", "adversarial term", Kind::Switch, Role::Objective, "L_G's adversarial term on mixes; off: the ablation without it"),
    Setting::new("lambda_adv", "lambda-adv", "λ_adv", WEIGHT, LIVE, "weight of the non-saturating GAN loss on mixes; thesis 0.052").needs("use_adv"),
    Setting::new("use_cls", "no-cls", "classifier term", Kind::Switch, Role::Objective, "L_G's quadrant-classifier term; off: the ablation without it"),
    Setting::new("lambda_cls", "lambda-cls", "λ_cls", WEIGHT, LIVE, "weight of the quadrant classifier's BCE; thesis 0.044 (it suspects too high)").needs("use_cls"),
    Setting::new(
        "rec_warmup",
        "rec-warmup",
        "warm-up",
        Kind::Count { min: 0, max: 10_000_000 },
        Role::Live { logged: false },
        "steps of the plain autoencoder (direct L1 reconstruction: no mixing, no judges) before Algorithm 1's iterations start; each costs about a sixth of an iteration (0: the thesis's schedule). Set on a running or resumed run at the step it reached, it ends the warm-up there",
    )
    .needs("use_rec"),
    Setting::new(
        "warmup_collage",
        "warmup-collage",
        "λ_collage",
        WEIGHT,
        Role::Objective,
        "not in the thesis: in warm-up steps, also decode the batch's codes mixed chunk-wise with the next image's under random 1–3-quadrant masks and pull them towards the pixel collages (L1), so each chunk learns its own quadrant (0: off)",
    )
    .needs("rec_warmup"),
    Setting::new("tau", "tau", "τ", Kind::Number { min: 0.0, max: 1e9, speed: 0.01 }, Role::Objective, "Algorithm 1's threshold on the neighbour index's distance scale (default: the third quantile of the stored neighbour distances)").optional(),
];

impl Configurable for MixingScenesConfig {
    fn settings(&self) -> &'static [Setting] {
        &SETTINGS
    }

    fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "preset" => choice_of(&self.preset, PRESETS),
            "image_size" => Value::Count(self.image_size as u64),
            "use_rec" => Value::Switch(self.use_rec),
            "lambda_rec" => Value::Number(self.lambda_rec),
            "use_adv" => Value::Switch(self.use_adv),
            "lambda_adv" => Value::Number(self.lambda_adv),
            "use_cls" => Value::Switch(self.use_cls),
            "lambda_cls" => Value::Number(self.lambda_cls),
            "rec_warmup" => Value::Count(self.rec_warmup.unwrap_or(0)),
            "warmup_collage" => Value::Number(self.warmup_collage.unwrap_or(0.0)),
            "tau" => settings::optional(self.neighbours.tau, Value::Number),
            _ => return None,
        })
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), String> {
        match name {
            "preset" => self.preset = choice::<MixingPreset>(value, name)?,
            "image_size" => self.image_size = count(value, name)?,
            "use_rec" => self.use_rec = switch(value, name)?,
            "lambda_rec" => self.lambda_rec = number(value, name)?,
            "use_adv" => self.use_adv = switch(value, name)?,
            "lambda_adv" => self.lambda_adv = number(value, name)?,
            "use_cls" => self.use_cls = switch(value, name)?,
            "lambda_cls" => self.lambda_cls = number(value, name)?,
            // 0 is none: the thesis's schedule.
            "rec_warmup" => self.rec_warmup = Some(count(value, name)? as u64).filter(|&n| n > 0),
            "warmup_collage" => self.warmup_collage = Some(number(value, name)?).filter(|&w| w > 0.0),
            "tau" => self.neighbours.tau = optional_number(value, name)?,
            _ => return Err(format!("{} has no setting '{name}'", Self::INFO.name)),
        }
        Ok(())
    }
}

impl FamilyConfig for MixingScenesConfig {
    const INFO: FamilyInfo = FamilyInfo {
        name: "mixing-scenes",
        aliases: &["mixing"],
        summary: "four quadrant chunks, trained by mixing scenes (Algorithm 1); 64×64 colour, e.g. the quadrant scenes",
        capabilities: &[Capability::Chunks],
        // The thesis's batch of 12 references (each brings 4 candidates) and lr_G 2e-4.
        batch_size: Some(12),
        lr: Some(2e-4),
        adam_betas: None,
        lr_schedule: None,
        data: "scenes",
        needs_channels: Some(3),
        shipped: Some("mixing-scenes-small"),
        // An iteration is 4 updates (2 generator steps, D, the classifier).
        bench: BenchSettings { batch: 12, warmup_steps: 1, runs: 3, steps_per_run: 1 },
        bench_each: Some("preset"),
    };

    fn for_data(_channels: usize) -> Self {
        MixingScenesConfig::new()
    }

    fn image_size(&self) -> usize {
        self.image_size
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn validate(&self) -> Result<(), String> {
        MixingScenesConfig::validate(self)
    }

    /// The new run counts its steps from 0: the old run's warm-up does not carry over.
    fn for_run_from_its_weights(&mut self) {
        self.rec_warmup = None;
    }
}
