//! The disentanglement probe of the cycle-consistent VAE report (§4.0.2.1, digest §4.2): a
//! two-layer MLP trained separately on the unspecified part z (posterior means, as the
//! report's t-SNE uses them) and on the specified part s to predict the class. Train and
//! test accuracy beside chance: s should be high, z near chance. The report gives neither
//! the MLP's width nor its schedule; the defaults here (256 hidden units, ReLU, Adam 1e-3,
//! batch 128, 20 epochs) are settings.

use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation;
use serde::Serialize;

use super::probe::cross_entropy;
use crate::analysis::explorable::ExplorableModel;
use crate::data::loader::epoch_order;
use crate::data::{DataSpec, HostImage, SharedSource, Split};
use crate::device::ResolvedDevice;

#[derive(Debug, Clone, Copy)]
pub struct DisentangleSettings {
    pub epochs: usize,
    pub hidden: usize,
    pub lr: f64,
    pub batch: usize,
    /// At most this many images of each split (all by default).
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
    pub seed: u64,
}

impl Default for DisentangleSettings {
    fn default() -> Self {
        Self { epochs: 20, hidden: 256, lr: 1e-3, batch: 128, train_limit: None, test_limit: None, seed: 1 }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Accuracy {
    /// Top-1 accuracy in %, on the images the MLP trained on and on the test split.
    pub train: f64,
    pub test: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DisentangleReport {
    pub model: String,
    pub data: String,
    pub classes: usize,
    /// 100 / classes.
    pub chance: f64,
    pub train_images: usize,
    pub test_images: usize,
    pub unspecified_name: String,
    pub specified_name: String,
    pub unspecified: Accuracy,
    pub specified: Accuracy,
    /// For a model trained with classes held out (the few-shot setting): the same probes'
    /// test accuracy on those classes' test images and on the others'.
    pub held_out: Option<HeldOut>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HeldOut {
    pub classes: Vec<u32>,
    pub test_images: usize,
    pub unspecified_test: f64,
    pub specified_test: f64,
    /// The test accuracy of s on the classes it trained on, beside.
    pub specified_test_seen: f64,
}

/// One split's features: each image's z means and s, and its label.
struct Features {
    unspecified: Vec<Vec<f32>>,
    specified: Vec<Vec<f32>>,
    labels: Vec<u32>,
}

fn features(model: &ExplorableModel, source: &SharedSource, limit: Option<usize>) -> anyhow::Result<Features> {
    let n = limit.map_or(source.len(), |l| l.min(source.len()));
    let mut f = Features { unspecified: vec![], specified: vec![], labels: vec![] };
    for start in (0..n).step_by(256) {
        let samples: Vec<_> = (start..(start + 256).min(n)).map(|i| source.get(i)).collect();
        let images: Vec<HostImage> = samples.iter().map(|s| s.image.clone()).collect();
        let codes = model.encode_split(&images).ok_or_else(|| anyhow::anyhow!("a {} model has no class/style split to probe", model.kind()))?;
        for (code, sample) in codes.into_iter().zip(&samples) {
            let label = sample.label.ok_or_else(|| anyhow::anyhow!("{}: the probe needs labelled images", source.info().name))?;
            f.unspecified.push(code.unspecified.mu);
            f.specified.push(code.specified);
            f.labels.push(label);
        }
    }
    Ok(f)
}

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
}

impl Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(activation::relu(self.hidden.forward(x)))
    }
}

fn batch(rows: &[Vec<f32>], indices: &[usize], device: &Device) -> Tensor<2> {
    let d = rows.first().map_or(0, Vec::len);
    let values: Vec<f32> = indices.iter().flat_map(|&i| rows[i].iter().copied()).collect();
    Tensor::<2>::from_data(TensorData::new(values, [indices.len(), d]), device)
}

/// Whether the net names each row's label.
fn hits(net: &Mlp, rows: &[Vec<f32>], labels: &[u32], device: &Device) -> anyhow::Result<Vec<bool>> {
    let mut hits = Vec::with_capacity(rows.len());
    let all: Vec<usize> = (0..rows.len()).collect();
    for chunk in all.chunks(1024) {
        let predicted: Vec<i64> = net.forward(batch(rows, chunk, device)).argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        hits.extend(predicted.iter().zip(chunk).map(|(p, i)| *p == labels[*i] as i64));
    }
    Ok(hits)
}

/// The share in % of the hits whose label `keep` takes.
fn percent(hits: &[bool], labels: &[u32], keep: impl Fn(u32) -> bool) -> f64 {
    let kept: Vec<bool> = hits.iter().zip(labels).filter(|(_, l)| keep(**l)).map(|(h, _)| *h).collect();
    100.0 * kept.iter().filter(|h| **h).count() as f64 / kept.len().max(1) as f64
}

/// A probe's scores: train and test accuracy, and whether it named each test image.
struct Scores {
    accuracy: Accuracy,
    test_hits: Vec<bool>,
}

/// Trains the MLP on `train`'s rows and scores it on both splits.
fn probe(train: (&[Vec<f32>], &[u32]), test: (&[Vec<f32>], &[u32]), classes: usize, s: &DisentangleSettings, device: &Device) -> anyhow::Result<Scores> {
    let ad = device.clone().autodiff();
    let d = train.0.first().map_or(0, Vec::len);
    let mut net = crate::nn::init_seeded(&ad, s.seed, |dev| Mlp { hidden: LinearConfig::new(d, s.hidden).init(dev), out: LinearConfig::new(s.hidden, classes).init(dev) });
    let mut optimizer = AdamConfig::new().init();
    for epoch in 0..s.epochs {
        for chunk in epoch_order(train.1.len(), s.seed, epoch as u64).chunks(s.batch.max(1)) {
            let targets: Vec<i64> = chunk.iter().map(|&i| train.1[i] as i64).collect();
            let targets = Tensor::<1, Int>::from_data(TensorData::new(targets, [chunk.len()]), &ad);
            let loss = cross_entropy(net.forward(batch(train.0, chunk, &ad)), targets);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optimizer.step(s.lr, net, grads);
        }
    }
    let net = net.valid();
    let test_hits = hits(&net, test.0, test.1, device)?;
    let accuracy = Accuracy { train: percent(&hits(&net, train.0, train.1, device)?, train.1, |_| true), test: percent(&test_hits, test.1, |_| true) };
    Ok(Scores { accuracy, test_hits })
}

/// Probes the checkpoint at `checkpoint` (or a run folder's) on `data` (default: the data
/// it trained on), both splits.
pub fn run(checkpoint: &Path, data: Option<&DataSpec>, device: &ResolvedDevice, settings: &DisentangleSettings) -> anyhow::Result<DisentangleReport> {
    let meta = crate::checkpoint::read_meta(checkpoint)?;
    let model = ExplorableModel::load(&meta.dir, &device.device)?;
    let Some((names, _)) = model.split() else {
        let offering: Vec<String> = crate::families::FamilyKind::offering(crate::capabilities::Capability::Split).iter().map(|k| k.to_string()).collect();
        anyhow::bail!("{}: a {} model has no class/style split to probe ({} have one)", meta.dir.display(), model.kind(), offering.join(", "));
    };
    let data = match data {
        Some(d) => d.clone(),
        None => meta.config.data.parse::<DataSpec>()?,
    };
    let size = model.image_size();
    let (train_source, test_source) = (data.open(Split::Train, size)?, data.open(Split::Test, size)?);
    let (train, test) = (features(&model, &train_source, settings.train_limit)?, features(&model, &test_source, settings.test_limit)?);
    if train.labels.is_empty() || test.labels.is_empty() {
        anyhow::bail!("{data}: the probe needs labelled training and test images");
    }
    let classes = train_source.info().class_names.len().max(train.labels.iter().chain(&test.labels).copied().max().unwrap_or(0) as usize + 1);
    let plain = device.device.clone();
    let unspecified = probe((&train.unspecified, &train.labels), (&test.unspecified, &test.labels), classes, settings, &plain)?;
    let specified = probe((&train.specified, &train.labels), (&test.specified, &test.labels), classes, settings, &plain)?;
    Ok(DisentangleReport {
        model: model.kind().name().into(),
        data: data.to_string(),
        classes,
        chance: 100.0 / classes as f64,
        train_images: train.labels.len(),
        test_images: test.labels.len(),
        unspecified_name: names.unspecified.into(),
        specified_name: names.specified.into(),
        held_out: held_out_classes(&meta.config.model).map(|classes| {
            let of = |l: u32| classes.contains(&l);
            HeldOut {
                test_images: test.labels.iter().filter(|l| of(**l)).count(),
                unspecified_test: percent(&unspecified.test_hits, &test.labels, of),
                specified_test: percent(&specified.test_hits, &test.labels, of),
                specified_test_seen: percent(&specified.test_hits, &test.labels, |l| !of(l)),
                classes,
            }
        }),
        unspecified: unspecified.accuracy,
        specified: specified.accuracy,
    })
}

/// The classes a model's run left out of training, if it left any out.
fn held_out_classes(model: &crate::families::ModelConfig) -> Option<Vec<u32>> {
    use crate::families::settings::Value;
    match model.get("holdout_classes") {
        Some(Value::Count(mask)) if mask != 0 => Some(crate::families::settings::classes_of(mask)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_learns_what_features_carry_and_sits_at_chance_on_noise() {
        let device = Device::flex();
        let mut rng = crate::train::step_rng(3, 0);
        let n = 600;
        let labels: Vec<u32> = (0..n).map(|i| (i % 4) as u32).collect();
        // Informative: the label one-hot plus noise. Uninformative: noise alone.
        let noise = |rng: &mut crate::rng::SeededRng| crate::families::trainable::normal_noise(rng, 8);
        let informative: Vec<Vec<f32>> = labels.iter().map(|&l| noise(&mut rng).iter().enumerate().map(|(k, v)| v * 0.3 + if k == l as usize { 2.0 } else { 0.0 }).collect()).collect();
        let random: Vec<Vec<f32>> = (0..n).map(|_| noise(&mut rng)).collect();
        let settings = DisentangleSettings { epochs: 30, hidden: 32, ..Default::default() };
        type Rows = (Vec<Vec<f32>>, Vec<u32>);
        let split = |rows: &Vec<Vec<f32>>| -> (Rows, Rows) {
            ((rows[..400].to_vec(), labels[..400].to_vec()), (rows[400..].to_vec(), labels[400..].to_vec()))
        };
        let ((tr, trl), (te, tel)) = split(&informative);
        let good = probe((&tr, &trl), (&te, &tel), 4, &settings, &device).unwrap().accuracy;
        assert!(good.test > 95.0, "{good:?}");
        let ((tr, trl), (te, tel)) = split(&random);
        let chance = probe((&tr, &trl), (&te, &tel), 4, &settings, &device).unwrap().accuracy;
        assert!(chance.test < 40.0, "random features probe near 25 %: {chance:?}");
    }
}
