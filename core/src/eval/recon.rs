//! `patchwork eval recon`: reconstruction quality on the test split.

use burn::prelude::*;

use super::quality::{flat_mean_colour, psnr, ssim};
use crate::checkpoint::CheckpointMeta;
use crate::data::loader::assemble;
use crate::data::{DataSpec, SharedSource, Split};
use crate::families::{FamilyVisitor, Trainable};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReconReport {
    pub images: usize,
    /// Mean PSNR in dB (images compared in [0, 1]).
    pub psnr: f64,
    /// Mean SSIM (11-tap Gaussian window, σ = 1.5).
    pub ssim: f64,
    /// Mean PSNR of the floor every autoencoder should beat: each image replaced by a flat
    /// image of its own mean colour (a code of one number per channel).
    pub flat_psnr: f64,
}

/// Scores a checkpoint's reconstructions of `source` (its data's test split if `None`),
/// over at most `limit` images.
pub fn evaluate(meta: &CheckpointMeta, device: &Device, source: Option<SharedSource>, limit: Option<usize>) -> anyhow::Result<ReconReport> {
    let source = match source {
        Some(s) => s,
        None => meta.config.data.parse::<DataSpec>()?.open(Split::Test, meta.config.model.image_size())?,
    };
    struct Evaluate<'a>(&'a CheckpointMeta, &'a Device, &'a SharedSource, Option<usize>);
    impl FamilyVisitor for Evaluate<'_> {
        type Output = anyhow::Result<ReconReport>;
        fn visit<M: Trainable>(self) -> Self::Output {
            evaluate_model::<M>(self.0, self.1, self.2, self.3)
        }
    }
    meta.config.model.visit(Evaluate(meta, device, &source, limit))
}

fn evaluate_model<M: Trainable>(meta: &CheckpointMeta, device: &Device, source: &SharedSource, limit: Option<usize>) -> anyhow::Result<ReconReport> {
    let model: M = meta.load_model(device)?;
    let model = model.valid();
    let config = meta.model_config::<M>()?;
    let (size, channels) = (meta.config.model.image_size(), meta.config.model.channels());
    let n = limit.map_or(source.len(), |l| l.min(source.len()));
    let (mut psnr_sum, mut ssim_sum, mut flat_sum) = (0.0, 0.0, 0.0);
    let per = channels * size * size;
    for start in (0..n).step_by(256) {
        let indices: Vec<usize> = (start..(start + 256).min(n)).collect();
        let (images, _) = assemble(source, &indices, size, channels);
        let x = Tensor::<4>::from_data(TensorData::new(images.clone(), [indices.len(), channels, size, size]), device);
        let recon: Vec<f32> = model.reconstruct(x, config, meta.state.step).into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for i in 0..indices.len() {
            let (a, b) = (&images[i * per..(i + 1) * per], &recon[i * per..(i + 1) * per]);
            psnr_sum += psnr(a, b);
            ssim_sum += ssim(a, b, channels, size, size);
            flat_sum += psnr(a, &flat_mean_colour(a, channels, size, size));
        }
    }
    let mean = |sum: f64| sum / n.max(1) as f64;
    Ok(ReconReport { images: n, psnr: mean(psnr_sum), ssim: mean(ssim_sum), flat_psnr: mean(flat_sum) })
}
