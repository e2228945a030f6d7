//! How the cycle-consistent VAE trains, and what the explorer can ask of it (its class /
//! style split).
//!
//! One iteration is one Adam step on forward + reverse cycle. The reverse cycle's images
//! are decoded and then detached before they are re-encoded: its loss reaches the
//! encoder alone, as in the official code (where the decoder's gradient from it is
//! computed, never applied, and cleared). With one step instead of the code's two
//! optimisers, the encoder's Adam moments see the sum of both cycles' gradients.

use std::sync::Arc;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::Rng;
use crate::rng::SeededRng;

use super::{CycleVae, CycleVaeConfig, ReverseCycle, kl_sum, mse_01};
use crate::capabilities::{Explorable, FactorSplit, LatentCode, SplitCode, SplitNames};
use crate::data::loader::assemble;
use crate::data::{HostImage, SharedSource, Subset};
use crate::families::trainable::{explorable_from_trainable, Preparation, StepError, StepInput, StepLoss, Trainable, loss_values, normal_tensor, host_rows, padded, to_host_images};
use crate::train::StepReport;

/// The training images by class, for the pair sampler: same-class partners for the
/// forward cycle, other-class ones (where there are any) for the reverse cycle.
#[derive(Debug, Clone, Default)]
pub struct ClassIndex {
    by_class: Vec<Vec<usize>>,
    label_of: Vec<u32>,
}

impl ClassIndex {
    /// Reads every label of `source`; an unlabelled image or a single class is refused.
    pub fn build(source: &SharedSource, progress: &dyn Fn(f32)) -> anyhow::Result<Self> {
        let name = source.info().name.clone();
        let mut label_of = Vec::with_capacity(source.len());
        for i in 0..source.len() {
            let Some(label) = source.get(i).label else {
                anyhow::bail!("{name}: image {i} has no class; the cycle-consistent VAE trains on pairs of the same class (a labelled set, or a folder whose subfolders are the classes)");
            };
            label_of.push(label);
            if i % 1024 == 0 {
                progress(i as f32 / source.len().max(1) as f32);
            }
        }
        let classes = label_of.iter().max().map_or(0, |&m| m as usize + 1);
        let mut by_class = vec![vec![]; classes];
        for (i, &label) in label_of.iter().enumerate() {
            by_class[label as usize].push(i);
        }
        let present = by_class.iter().filter(|c| !c.is_empty()).count();
        if present < 2 {
            anyhow::bail!("{name}: {present} class(es); the cycle-consistent VAE needs at least two, to tell the class from the style");
        }
        Ok(Self { by_class, label_of })
    }

    pub fn label(&self, image: usize) -> Option<u32> {
        self.label_of.get(image).copied()
    }

    /// Another image of `image`'s class (itself when it is its class's only one).
    pub fn partner(&self, image: usize, rng: &mut SeededRng) -> usize {
        let Some(class) = self.label(image).and_then(|l| self.by_class.get(l as usize)) else { return image };
        match class.len() {
            0 | 1 => image,
            n => loop {
                let other = class[rng.random_range(0..n)];
                if other != image {
                    return other;
                }
            },
        }
    }

    /// An image of another class than `image`'s.
    pub fn other(&self, image: usize, rng: &mut SeededRng) -> usize {
        let own = self.label(image);
        let n = self.label_of.len();
        // At least two classes are present, so this ends; most draws hit another class.
        loop {
            let other = rng.random_range(0..n);
            if self.label_of.get(other).copied() != own {
                return other;
            }
        }
    }
}

impl Preparation for ClassIndex {
    /// Rebuilt from the data in a moment, so a checkpoint keeps none.
    fn save(&self, _dir: &std::path::Path) -> anyhow::Result<()> {
        Ok(())
    }
    fn load(_dir: &std::path::Path) -> anyhow::Result<Self> {
        Ok(Self::default())
    }
}

/// `source` without the held-out classes, except the first `keep` images of each.
pub fn without_held_out(source: SharedSource, classes: u64, keep: usize) -> anyhow::Result<SharedSource> {
    if classes == 0 {
        return Ok(source);
    }
    let mut kept_of = [0usize; 64];
    let mut indices = Vec::with_capacity(source.len());
    for i in 0..source.len() {
        match source.get(i).label {
            Some(l) if l < 64 && classes & (1 << l) != 0 => {
                if kept_of[l as usize] < keep {
                    kept_of[l as usize] += 1;
                    indices.push(i);
                }
            }
            _ => indices.push(i),
        }
    }
    let label = format!("without held-out classes ({keep} of each)");
    Ok(Arc::new(Subset::new(source, indices, &label)))
}


impl Trainable for CycleVae {
    type Config = CycleVaeConfig;
    type Prepared = ClassIndex;

    fn build(config: &CycleVaeConfig, device: &Device) -> Self {
        config.init(device)
    }

    /// The forward cycle of a batch with itself (each image its own partner), for code
    /// that wants one number; training goes through [`Trainable::train_step`].
    fn loss(&self, x: Tensor<4>, config: &CycleVaeConfig, _step: u64, rng: &mut SeededRng) -> StepLoss {
        let [b, c, h, w] = x.dims();
        let post = self.encode(x.clone());
        let z = post.mu.clone() + normal_tensor(rng, b, self.style_dim, &x.device()) * post.logvar.clone().mul_scalar(0.5).exp();
        let recon = mse_01(self.decode(z, post.class), x).mul_scalar(config.reconstruction_coef);
        let kl = kl_sum(post.mu, post.logvar).mul_scalar(config.kl_coef / (b * c * h * w) as f64);
        StepLoss { total: recon.clone() + kl.clone(), terms: vec![("recon", recon), ("kl", kl)], schedules: vec![] }
    }

    fn reconstruct(&self, x: Tensor<4>, _config: &CycleVaeConfig, _step: u64) -> Tensor<4> {
        CycleVae::reconstruct(self, x)
    }

    /// The live view's extra grid: each image's style with the next image's class.
    fn snapshot_extras(&self, x: Tensor<4>, _config: &CycleVaeConfig, _step: u64, _rng: &mut SeededRng) -> Vec<(String, Vec<HostImage>)> {
        let [b, ..] = x.dims();
        if b < 2 {
            return vec![];
        }
        let post = self.encode(x);
        let next = Tensor::cat(vec![post.class.clone().slice(1..b), post.class.slice(0..1)], 0);
        vec![("each image's style z with the next one's class s".into(), to_host_images(self.decode(post.mu, next)))]
    }

    /// No prior over s: samples need a class from an image (the Swap grid's sampling).
    fn sample_prior(&self, _config: &CycleVaeConfig, _n: usize, _rng: &mut SeededRng, _device: &Device) -> Vec<HostImage> {
        vec![]
    }

    fn explorable(self, config: &CycleVaeConfig, _prepared: &ClassIndex) -> Arc<dyn Explorable> {
        Arc::new(Explored { model: self, config: config.clone() })
    }

    fn training_source(config: &CycleVaeConfig, source: SharedSource) -> anyhow::Result<SharedSource> {
        without_held_out(source, config.holdout_classes, config.holdout_examples)
    }

    fn prepare(_config: &CycleVaeConfig, source: &SharedSource, _data: &str, _seed: u64, _resume: Option<&std::path::Path>, progress: &dyn Fn(&str, f32)) -> anyhow::Result<ClassIndex> {
        ClassIndex::build(source, &|f| progress("class index", f))
    }

    fn train_step(&mut self, optimizer: &mut ModuleOptimizer, input: StepInput<'_, CycleVaeConfig, ClassIndex>) -> Result<StepReport, StepError> {
        let (config, index) = (input.config, input.prepared);
        if index.label_of.is_empty() {
            return Err(StepError::Failed("the cycle-consistent VAE trains from a class index, and none was prepared".into()));
        }
        let x1 = input.x;
        let [b, c, h, w] = x1.dims();
        let device = x1.device();
        let images = |indices: &[usize]| Tensor::<4>::from_data(TensorData::new(assemble(input.source, indices, h, c).0, [indices.len(), c, h, w]), &device);
        // Forward cycle: a same-class partner for each image, s swapped.
        let partners: Vec<usize> = input.indices.iter().map(|&i| index.partner(i, input.rng)).collect();
        let x2 = images(&partners);
        let (p1, p2) = (self.encode(x1.clone()), self.encode(x2.clone()));
        let sample = |p: &super::SplitPosterior, rng: &mut SeededRng| p.mu.clone() + normal_tensor(rng, b, self.style_dim, &device) * p.logvar.clone().mul_scalar(0.5).exp();
        let (z1, z2) = (sample(&p1, input.rng), sample(&p2, input.rng));
        let recon = (mse_01(self.decode(z1, p2.class.clone()), x1.clone()) + mse_01(self.decode(z2, p1.class.clone()), x2)).mul_scalar(config.reconstruction_coef);
        let kl = (kl_sum(p1.mu.clone(), p1.logvar.clone()) + kl_sum(p2.mu, p2.logvar)).mul_scalar(config.kl_coef / (b * c * h * w) as f64);
        let mut total = recon.clone() + kl.clone();
        let mut named = vec![("recon".to_string(), recon), ("kl".to_string(), kl)];
        // Reverse cycle: one z ~ N(0, I) decoded with the s of each image and of an image
        // of another class; the decoded images are detached, so only the re-encoding
        // (the encoder) learns from it.
        if config.reverse_cycle != ReverseCycle::None {
            let others: Vec<usize> = input.indices.iter().map(|&i| index.other(i, input.rng)).collect();
            let x3 = images(&others);
            let p3 = self.encode(x3.clone());
            let z = normal_tensor(input.rng, b, self.style_dim, &device);
            let g1 = self.decode(z.clone(), p1.class.clone().detach()).detach();
            let g3 = self.decode(z, p3.class.clone().detach()).detach();
            let (q1, q3) = (self.encode(g1), self.encode(g3));
            let distance = match config.reverse_cycle {
                ReverseCycle::Wasserstein => {
                    let sigma = |p: &super::SplitPosterior| p.logvar.clone().mul_scalar(0.5).exp();
                    let means = (q1.mu.clone() - q3.mu.clone()).powf_scalar(2.0).sum_dim(1);
                    let spreads = (sigma(&q1) - sigma(&q3)).powf_scalar(2.0).sum_dim(1);
                    (means + spreads).mean()
                }
                _ => (q1.mu.clone() - q3.mu.clone()).abs().mean(),
            };
            let reverse = distance.mul_scalar(config.reverse_coef);
            total = total + reverse.clone();
            named.push(("reverse".to_string(), reverse));
            if config.reverse_reconstruction {
                // Variant V1: each image again from its own z and the s re-encoded from its
                // generated image; the codes are detached, so this trains the decoder.
                let again = mse_01(self.decode(p1.mu.clone().detach(), q1.class.detach()), x1) + mse_01(self.decode(p3.mu.detach(), q3.class.detach()), x3);
                let again = again.mul_scalar(config.reconstruction_coef);
                total = total + again.clone();
                named.push(("reverse_recon".to_string(), again));
            }
        }
        named.insert(0, ("loss".to_string(), total.clone()));
        let losses = loss_values(named)?;
        let grads = GradientsParams::from_grads(total.backward(), self);
        *self = input.guard.step(optimizer, input.lr, self.clone(), grads)?;
        Ok(StepReport { losses, ..StepReport::default() })
    }
}

/// A trained cycle-consistent VAE for the explorer.
#[derive(Debug)]
struct Explored {
    model: CycleVae,
    config: CycleVaeConfig,
}

impl Explorable for Explored {
    explorable_from_trainable!();
    fn split(&self) -> Option<&dyn FactorSplit> {
        Some(self)
    }
}


impl FactorSplit for Explored {
    fn names(&self) -> SplitNames {
        SplitNames { unspecified: "style z", specified: "class s" }
    }

    fn dims(&self) -> (usize, usize) {
        (self.model.style_dim, self.model.class_dim)
    }

    fn encode(&self, x: Tensor<4>) -> Vec<SplitCode> {
        let post = self.model.encode(x);
        let (mu, var, class) = (host_rows(post.mu), host_rows(post.logvar.exp()), host_rows(post.class));
        mu.into_iter().zip(var).zip(class).map(|((mu, var), specified)| SplitCode { unspecified: LatentCode { mu, var }, specified }).collect()
    }

    fn decode(&self, codes: &[(Vec<f32>, Vec<f32>)]) -> Vec<HostImage> {
        let (zd, sd) = self.dims();
        let z: Vec<f32> = codes.iter().flat_map(|(z, _)| padded(z, zd)).collect();
        let s: Vec<f32> = codes.iter().flat_map(|(_, s)| padded(s, sd)).collect();
        let device = self.device();
        let z = Tensor::<2>::from_data(TensorData::new(z, [codes.len(), zd]), &device);
        let s = Tensor::<2>::from_data(TensorData::new(s, [codes.len(), sd]), &device);
        to_host_images(self.model.decode(z, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageSource;
    use rand::SeedableRng;

    fn labelled(n: usize) -> SharedSource {
        let full = crate::data::DataSpec::Embedded(crate::data::embedded::EmbeddedSet::Mnist).open(crate::data::Split::Train, 28).unwrap();
        Arc::new(Subset::new(full, (0..n).collect(), "test"))
    }

    #[test]
    fn pairs_share_the_class_and_reverse_partners_do_not() {
        let source = labelled(300);
        let index = ClassIndex::build(&source, &|_| ()).unwrap();
        let mut rng = SeededRng::seed_from_u64(1);
        for i in 0..300 {
            let (p, o) = (index.partner(i, &mut rng), index.other(i, &mut rng));
            assert_eq!(source.get(p).label, source.get(i).label);
            assert_ne!(p, i, "MNIST's first 300 digits have no class of one");
            assert_ne!(source.get(o).label, source.get(i).label);
        }
    }

    #[test]
    fn held_out_classes_stay_out_but_for_the_examples_let_in() {
        let source = labelled(500);
        let held = without_held_out(source.clone(), 0b11_1000_0000, 1).unwrap();
        let labels: Vec<u32> = (0..held.len()).filter_map(|i| held.get(i).label).collect();
        for class in [7, 8, 9] {
            assert_eq!(labels.iter().filter(|&&l| l == class).count(), 1, "class {class}");
        }
        let in_all = (0..500).filter(|&i| source.get(i).label.is_some_and(|l| l < 7)).count();
        assert_eq!(labels.len(), in_all + 3);
        assert_eq!(without_held_out(source.clone(), 0b11_1000_0000, 0).unwrap().len(), in_all);
        assert_eq!(without_held_out(source.clone(), 0, 0).unwrap().len(), 500);
    }

    #[test]
    fn unlabelled_images_or_a_single_class_are_refused() {
        let single = without_held_out(labelled(200), !0b1, 0).unwrap();
        assert!(ClassIndex::build(&single, &|_| ()).unwrap_err().to_string().contains("at least two"));
        struct Unlabelled(crate::data::SourceInfo);
        impl ImageSource for Unlabelled {
            fn info(&self) -> &crate::data::SourceInfo {
                &self.0
            }
            fn len(&self) -> usize {
                3
            }
            fn get(&self, _index: usize) -> crate::data::Sample {
                crate::data::Sample { image: HostImage::new(28, 28, 1, vec![0; 28 * 28]), label: None, factors: vec![] }
            }
        }
        let info = crate::data::SourceInfo { name: "photos".into(), channels: 1, size: None, class_names: vec![], factor_names: vec![], skipped: vec![] };
        let err = ClassIndex::build(&(Arc::new(Unlabelled(info)) as SharedSource), &|_| ()).unwrap_err().to_string();
        assert!(err.starts_with("photos: image 0 has no class") && err.contains("subfolders are the classes"), "{err}");
    }

    #[test]
    fn the_reverse_cycle_trains_the_encoder_and_leaves_the_decoder_alone() {
        let device = Device::flex().autodiff();
        // Forward terms weighted 0: only the reverse cycle moves anything.
        let config = CycleVaeConfig::new().with_reconstruction_coef(0.0).with_kl_coef(0.0);
        let mut model = crate::nn::init_seeded(&device, 3, |d| config.init(d));
        let source = labelled(64);
        let index = ClassIndex::build(&source, &|_| ()).unwrap();
        let indices: Vec<usize> = (0..8).collect();
        let (images, _) = assemble(&source, &indices, 28, 1);
        let x = Tensor::<4>::from_data(TensorData::new(images, [8, 1, 28, 28]), &device);
        let flat = |m: &burn::module::Param<Tensor<2>>| m.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let (decoder_before, encoder_before) = (flat(&model.decoder.style_input.weight), flat(&model.encoder.style_mu.weight));
        let mut optimizer = burn::optim::AdamConfig::new().init();
        let mut rng = SeededRng::seed_from_u64(2);
        let input = StepInput { x, indices: &indices, config: &config, step: 0, lr: 1e-3, lr_factor: 1.0, rng: &mut rng, source: &source, prepared: &index, guard: Default::default() };
        let report = model.train_step(&mut optimizer, input).unwrap();
        assert!(report.losses.iter().any(|(n, v)| n == "reverse" && *v > 0.0), "{:?}", report.losses);
        assert_eq!(flat(&model.decoder.style_input.weight), decoder_before, "the decoder gets nothing from the reverse cycle");
        assert_ne!(flat(&model.encoder.style_mu.weight), encoder_before, "the encoder learns from it");
    }
}
