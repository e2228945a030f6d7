//! The PatchVAE paper's recognition protocol (§4): keep the encoder's backbone φ, add
//! FC(512) + FC(classes), freeze the first convolutions and train the rest on labels.
//!
//! Regimes: `conv1` (conv1 frozen), `conv1-3` (the first three convolutions frozen:
//! conv1 and the first residual block), `conv1-5` (all of φ frozen: a probe). Classifier
//! as the official `classifier.py`: Dropout(0.5) → Linear(φ, 512) → ReLU → Linear(512,
//! classes), Linear weights N(0, 0.01); SGD with momentum 0.9 (no dampening), weight decay
//! 1e-4, batch 128, lr 1e-2 divided by 10 every 30 epochs, 90 epochs in the paper.
//!
//! The frozen prefix runs once, in evaluation mode (batch norm on its running statistics),
//! over the whole split: its features are kept on the host and only the rest is trained.

use burn::module::Initializer;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation;
use serde::Serialize;

use crate::checkpoint::CheckpointMeta;
use crate::data::loader::{assemble, epoch_order};
use crate::data::{DataSpec, SharedSource, Split};
use crate::device::ResolvedDevice;
use crate::nn::blocks::Resnet9;
use crate::families::{FamilyVisitor, Trainable};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum ProbeRegime {
    #[serde(rename = "conv1")]
    Conv1,
    #[serde(rename = "conv1-3")]
    Conv1To3,
    #[serde(rename = "conv1-5")]
    Conv1To5,
}

impl ProbeRegime {
    /// Convolutions of φ's main path that stay frozen (φ has 9).
    pub fn frozen_convs(self) -> usize {
        match self {
            ProbeRegime::Conv1 => 1,
            ProbeRegime::Conv1To3 => 3,
            ProbeRegime::Conv1To5 => 9,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ProbeRegime::Conv1 => "conv1",
            ProbeRegime::Conv1To3 => "conv1-3",
            ProbeRegime::Conv1To5 => "conv1-5",
        }
    }
}

impl std::str::FromStr for ProbeRegime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "conv1" => Ok(Self::Conv1),
            "conv1-3" => Ok(Self::Conv1To3),
            "conv1-5" => Ok(Self::Conv1To5),
            other => Err(format!("unknown regime '{other}' (expected conv1, conv1-3 or conv1-5)")),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeSettings {
    pub regime: ProbeRegime,
    /// Paper: 90.
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    /// The learning rate is divided by 10 every this many epochs.
    pub lr_step_epochs: usize,
    pub momentum: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Use at most this many training images (quick checks).
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
}

impl ProbeSettings {
    pub fn paper(regime: ProbeRegime) -> Self {
        Self { regime, epochs: 90, batch: 128, lr: 1e-2, lr_step_epochs: 30, momentum: 0.9, weight_decay: 1e-4, seed: 1, train_limit: None, test_limit: None }
    }

    fn lr_at(&self, epoch: usize) -> f64 {
        self.lr * 0.1f64.powi((epoch / self.lr_step_epochs.max(1)) as i32)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub regime: ProbeRegime,
    pub model: String,
    pub data: String,
    pub epochs: usize,
    pub train_images: usize,
    pub test_images: usize,
    pub classes: usize,
    /// Test top-1 accuracy in percent.
    pub top1: f64,
    /// Mean training cross-entropy of the last epoch.
    pub final_train_loss: f64,
}

/// The trained part: φ's unfrozen blocks (if any) and the classifier head.
#[derive(Module, Debug)]
struct ProbeNet {
    rest: Option<Resnet9>,
    dropout: Dropout,
    fc1: Linear,
    fc2: Linear,
    frozen_convs: usize,
}

impl ProbeNet {
    fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        let y = match &self.rest {
            Some(r) => r.forward_after(features, self.frozen_convs),
            None => features,
        };
        let [b, ..] = y.dims();
        let y = self.dropout.forward(y.reshape([b as i32, -1]));
        self.fc2.forward(activation::relu(self.fc1.forward(y)))
    }
}

fn linear(input: usize, output: usize, device: &Device) -> Linear {
    LinearConfig::new(input, output).with_initializer(Initializer::Normal { mean: 0.0, std: 0.01 }).init(device)
}

/// Features of the frozen prefix for a whole split, with labels.
struct Features {
    values: Vec<f32>,
    labels: Vec<u32>,
    shape: [usize; 3],
}

fn frozen_features(backbone: &Resnet9, convs: usize, source: &SharedSource, limit: Option<usize>, size: usize, channels: usize, device: &Device) -> anyhow::Result<Features> {
    let n = limit.map_or(source.len(), |l| l.min(source.len()));
    let (mut values, mut labels, mut shape) = (Vec::new(), Vec::with_capacity(n), [0; 3]);
    for start in (0..n).step_by(256) {
        let indices: Vec<usize> = (start..(start + 256).min(n)).collect();
        let (images, batch_labels) = assemble(source, &indices, size, channels);
        if batch_labels.len() != indices.len() {
            anyhow::bail!("{} has no class labels; the probe needs a labelled source", source.info().name);
        }
        let x = Tensor::<4>::from_data(TensorData::new(images, [indices.len(), channels, size, size]), device);
        let y = backbone.forward_until(x, convs);
        let [_, c, h, w] = y.dims();
        shape = [c, h, w];
        values.extend(y.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?);
        labels.extend(batch_labels);
    }
    Ok(Features { values, labels, shape })
}

/// Trains and scores the classifier of `settings.regime` on a checkpoint's backbone.
pub fn run(
    meta: &CheckpointMeta,
    data: &DataSpec,
    device: &ResolvedDevice,
    settings: &ProbeSettings,
    mut progress: impl FnMut(usize, f64),
) -> anyhow::Result<ProbeReport> {
    struct LoadBackbone<'a>(&'a CheckpointMeta, &'a Device);
    impl FamilyVisitor for LoadBackbone<'_> {
        type Output = anyhow::Result<Resnet9>;
        fn visit<M: Trainable>(self) -> Self::Output {
            let model: M = self.0.load_model(self.1)?;
            model.backbone().cloned().ok_or_else(|| {
                anyhow::anyhow!("{}: this model has no Resnet-9 backbone to probe (use beta-vae --arch resnet9 or patchvae)", self.0.dir.display())
            })
        }
    }
    let plain = device.device.clone();
    let backbone = meta.config.model.visit(LoadBackbone(meta, &plain))?;
    let (size, channels) = (meta.config.model.image_size(), meta.config.model.channels());
    let frozen = settings.regime.frozen_convs();
    let train_source = data.open(Split::Train, size)?;
    let test_source = data.open(Split::Test, size)?;
    let classes = train_source.info().class_names.len().max(1);
    let eval_backbone = backbone.valid();
    let train = frozen_features(&eval_backbone, frozen, &train_source, settings.train_limit, size, channels, &plain)?;
    let test = frozen_features(&eval_backbone, frozen, &test_source, settings.test_limit, size, channels, &plain)?;
    if train.labels.is_empty() || test.labels.is_empty() {
        anyhow::bail!("{data}: the probe needs labelled training and test images");
    }
    let classes = classes.max(train.labels.iter().copied().max().unwrap_or(0) as usize + 1);

    let ad = plain.clone().autodiff();
    // Output size of φ (the classifier's input).
    let out_dim = {
        let x = Tensor::<4>::zeros([1, train.shape[0], train.shape[1], train.shape[2]], &plain);
        let y = if frozen >= 9 { x } else { eval_backbone.forward_after(x, frozen) };
        y.dims()[1..].iter().product::<usize>()
    };
    let mut net = crate::nn::init_seeded(&ad, settings.seed, |d| ProbeNet {
        rest: (frozen < 9).then(|| backbone.clone().fork(d)),
        dropout: DropoutConfig::new(0.5).init(),
        fc1: linear(out_dim, 512, d),
        fc2: linear(512, classes, d),
        frozen_convs: frozen,
    });
    let mut optimizer = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(settings.momentum).with_dampening(0.0)))
        .with_weight_decay(Some(WeightDecayConfig::new(settings.weight_decay as f32)))
        .init();
    let per = train.shape.iter().product::<usize>();
    let n = train.labels.len();
    let mut final_loss = f64::NAN;
    for epoch in 0..settings.epochs {
        let order = epoch_order(n, settings.seed, epoch as u64);
        let (mut loss_sum, mut batches) = (0.0, 0usize);
        for chunk in order.chunks(settings.batch.max(1)) {
            let mut x = Vec::with_capacity(chunk.len() * per);
            for &i in chunk {
                x.extend_from_slice(&train.values[i * per..(i + 1) * per]);
            }
            let labels: Vec<i64> = chunk.iter().map(|&i| train.labels[i] as i64).collect();
            let x = Tensor::<4>::from_data(TensorData::new(x, [chunk.len(), train.shape[0], train.shape[1], train.shape[2]]), &ad);
            let logits = net.forward(x);
            let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [chunk.len()]), &ad);
            let loss = cross_entropy(logits, targets);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            loss_sum += loss.into_scalar::<f32>() as f64;
            batches += 1;
            net = optimizer.step(settings.lr_at(epoch), net, grads);
        }
        final_loss = loss_sum / batches.max(1) as f64;
        if !final_loss.is_finite() {
            anyhow::bail!("the classifier diverged at epoch {} (loss {final_loss}); try a lower lr", epoch + 1);
        }
        progress(epoch + 1, final_loss);
    }
    let eval = net.valid();
    let mut correct = 0usize;
    let tn = test.labels.len();
    for start in (0..tn).step_by(512) {
        let end = (start + 512).min(tn);
        let x = Tensor::<4>::from_data(
            TensorData::new(test.values[start * per..end * per].to_vec(), [end - start, test.shape[0], test.shape[1], test.shape[2]]),
            &plain,
        );
        let predicted: Vec<i64> = eval.forward(x).argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        correct += predicted.iter().zip(&test.labels[start..end]).filter(|(p, l)| **p == **l as i64).count();
    }
    Ok(ProbeReport {
        regime: settings.regime,
        model: meta.config.model.kind().name().into(),
        data: data.to_string(),
        epochs: settings.epochs,
        train_images: n,
        test_images: tn,
        classes,
        top1: 100.0 * correct as f64 / tn.max(1) as f64,
        final_train_loss: final_loss,
    })
}

/// Mean cross-entropy of logits `[b, classes]` against class indices.
pub(crate) fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [b, _] = logits.dims();
    let log_p = activation::log_softmax(logits, 1);
    let picked = log_p.gather(1, targets.reshape([b, 1]));
    picked.mean().neg()
}
