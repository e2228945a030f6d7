//! How much of each ground-truth factor a representation holds linearly: the reference-based
//! VAE paper's protocol (Sec. 5.3, digest §4.2). The test split of data with factors (the
//! reference-style MNIST: colour R, G, B, scale, width) is cut in two halves (the paper's
//! two 5,000-image probe sets on the full MNIST); a linear regressor per factor is fitted
//! by least squares on the first half's features and scored by mean absolute error on the
//! second. Lower is better.
//!
//! Features: a model with a factor split gives its target part (e), its common part (z,
//! posterior means) or both; any other model its latent means. The paper uses e for Rb-VAE
//! and sRb-VAE, all latents for the baselines, and z as the ablation.
//!
//! Targets are brought to [0, 1] before fitting, which the paper leaves unsaid: on the
//! reference-style MNIST by the generator's ranges (colour [0, 1], scale [0.5, 1], width
//! 1–10), on other data by each factor's range over the first half.

use std::path::Path;

use serde::Serialize;

use crate::analysis::explorable::ExplorableModel;
use crate::data::pools::PoolIndices;
use crate::data::{DataSpec, HostImage, SharedSource, Split, reference_style};
use crate::device::ResolvedDevice;

/// Which latents the regressors see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Features {
    /// The split's specified part (the reference-based VAE's e).
    #[serde(rename = "e")]
    Target,
    /// The split's unspecified part (z).
    #[serde(rename = "z")]
    Common,
    /// Every latent.
    All,
}

impl Features {
    pub fn name(self) -> &'static str {
        match self {
            Self::Target => "e",
            Self::Common => "z",
            Self::All => "all",
        }
    }
}

impl std::str::FromStr for Features {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "e" | "target" => Ok(Self::Target),
            "z" | "common" => Ok(Self::Common),
            "all" => Ok(Self::All),
            _ => Err(format!("features are e, z or all, not '{s}'")),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct FactorsSettings {
    /// Default: e for the two-pool reference-based objectives, all latents otherwise.
    pub features: Option<Features>,
    /// At most this many test images (both halves together).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FactorError {
    pub factor: String,
    /// Mean absolute error on the second half, targets on [0, 1].
    pub mae: f64,
    /// The error of predicting the first half's mean, for scale.
    pub constant_mae: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FactorsReport {
    pub model: String,
    pub data: String,
    pub features: Features,
    pub dims: usize,
    pub fit_images: usize,
    pub test_images: usize,
    pub factors: Vec<FactorError>,
    /// The mean of the factors' MAEs (the paper's "Avg.").
    pub average: f64,
}

/// Least squares with an intercept and a small ridge (1e-6 of the mean diagonal, for
/// collapsed dimensions): the weights (intercept last) for each column of `targets`.
pub fn fit_linear(rows: &[Vec<f32>], targets: &[Vec<f32>]) -> anyhow::Result<Vec<Vec<f64>>> {
    let d = rows.first().map_or(0, Vec::len) + 1;
    let k = targets.first().map_or(0, Vec::len);
    let mut gram = vec![0.0f64; d * d];
    let mut cross = vec![0.0f64; d * k];
    for (row, target) in rows.iter().zip(targets) {
        let x: Vec<f64> = row.iter().map(|&v| v as f64).chain([1.0]).collect();
        for i in 0..d {
            for j in 0..d {
                gram[i * d + j] += x[i] * x[j];
            }
            for (t, &y) in target.iter().enumerate() {
                cross[i * k + t] += x[i] * y as f64;
            }
        }
    }
    let ridge = 1e-6 * (0..d).map(|i| gram[i * d + i]).sum::<f64>() / d as f64;
    for i in 0..d - 1 {
        gram[i * d + i] += ridge.max(1e-9);
    }
    let solution = solve(gram, cross, d, k).ok_or_else(|| anyhow::anyhow!("the features' covariance is singular"))?;
    Ok((0..k).map(|t| (0..d).map(|i| solution[i * k + t]).collect()).collect())
}

/// Solves `a x = b` (a: n×n, b: n×k) by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize, k: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-12 {
            return None;
        }
        for j in 0..n {
            a.swap(col * n + j, pivot * n + j);
        }
        for j in 0..k {
            b.swap(col * k + j, pivot * k + j);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            for j in col..n {
                a[row * n + j] -= f * a[col * n + j];
            }
            for j in 0..k {
                b[row * k + j] -= f * b[col * k + j];
            }
        }
    }
    for col in (0..n).rev() {
        for j in 0..k {
            let mut v = b[col * k + j];
            for i in col + 1..n {
                v -= a[col * n + i] * b[i * k + j];
            }
            b[col * k + j] = v / a[col * n + col];
        }
    }
    Some(b)
}

fn predict(weights: &[f64], row: &[f32]) -> f64 {
    row.iter().zip(weights).map(|(&x, w)| x as f64 * w).sum::<f64>() + weights.last().copied().unwrap_or(0.0)
}

/// The features of `images` under `model`.
fn features(model: &ExplorableModel, images: &[HostImage], which: Features) -> anyhow::Result<Vec<Vec<f32>>> {
    if model.split().is_some() {
        let codes = model.encode_split(images).ok_or_else(|| anyhow::anyhow!("no split"))?;
        return Ok(codes
            .into_iter()
            .map(|c| match which {
                Features::Target => c.specified,
                Features::Common => c.unspecified.mu,
                Features::All => c.unspecified.mu.into_iter().chain(c.specified).collect(),
            })
            .collect());
    }
    if which != Features::All {
        anyhow::bail!("a {} model has one latent vector: its features are all (e and z need a model with a factor split)", model.kind());
    }
    let codes = model.encode_latents(images).ok_or_else(|| anyhow::anyhow!("a {} model has no latent vector to probe", model.kind()))?;
    Ok(codes.into_iter().map(|c| c.mu).collect())
}

/// The test images with factors (the reference pool, if any, left out), up to `limit`.
fn probe_images(source: &SharedSource, limit: Option<usize>) -> Vec<usize> {
    let mut unlabelled = PoolIndices::of(source.as_ref()).unlabelled;
    unlabelled.truncate(limit.unwrap_or(usize::MAX));
    unlabelled
}

/// Each factor's [0, 1] range: the generator's on the reference-style MNIST, else the
/// first half's.
fn ranges(names: &[String], fit: &[Vec<f32>]) -> Vec<(f32, f32)> {
    if names.iter().map(String::as_str).eq(reference_style::FACTOR_NAMES) {
        return reference_style::FACTOR_RANGES.to_vec();
    }
    (0..names.len())
        .map(|f| {
            let values = fit.iter().map(|t| t[f]);
            let (lo, hi) = values.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
            (lo, if hi > lo { hi } else { lo + 1.0 })
        })
        .collect()
}

/// Probes the checkpoint at `checkpoint` on `data` (default: what it trained on), test split.
pub fn run(checkpoint: &Path, data: Option<&DataSpec>, device: &ResolvedDevice, settings: &FactorsSettings) -> anyhow::Result<FactorsReport> {
    let meta = crate::checkpoint::read_meta(checkpoint)?;
    let model = ExplorableModel::load(&meta.dir, &device.device)?;
    let data = match data {
        Some(d) => d.clone(),
        None => meta.config.data.parse::<DataSpec>()?,
    };
    let source = data.open(Split::Test, model.image_size())?;
    let names = source.info().factor_names.clone();
    if names.is_empty() {
        anyhow::bail!("{data}: its images have no ground-truth factors to regress (use reference-style or dsprites)");
    }
    // A model trained against a reference pool (it has e_r) is probed on e, others on all.
    let has_reference = model.model.split().and_then(|s| s.reference()).is_some();
    let which = settings.features.unwrap_or(if has_reference { Features::Target } else { Features::All });
    let chosen = probe_images(&source, settings.limit);
    if chosen.len() < 4 {
        anyhow::bail!("{data}: {} test image(s) with factors; the probe needs two halves", chosen.len());
    }
    let (mut rows, mut targets) = (Vec::with_capacity(chosen.len()), Vec::with_capacity(chosen.len()));
    for chunk in chosen.chunks(256) {
        let samples: Vec<_> = chunk.iter().map(|&i| source.get(i)).collect();
        let images: Vec<HostImage> = samples.iter().map(|s| s.image.clone()).collect();
        rows.extend(features(&model, &images, which)?);
        targets.extend(samples.into_iter().map(|s| s.factors));
    }
    let half = rows.len() / 2;
    let range = ranges(&names, &targets[..half]);
    let scaled: Vec<Vec<f32>> = targets.iter().map(|t| t.iter().zip(&range).map(|(&v, &(lo, hi))| (v - lo) / (hi - lo)).collect()).collect();
    let weights = fit_linear(&rows[..half], &scaled[..half])?;
    let factors: Vec<FactorError> = names
        .iter()
        .enumerate()
        .map(|(f, name)| {
            let mean = scaled[..half].iter().map(|t| t[f] as f64).sum::<f64>() / half as f64;
            let test = &scaled[half..];
            let mae = rows[half..].iter().zip(test).map(|(r, t)| (predict(&weights[f], r) - t[f] as f64).abs()).sum::<f64>() / test.len() as f64;
            let constant_mae = test.iter().map(|t| (mean - t[f] as f64).abs()).sum::<f64>() / test.len() as f64;
            FactorError { factor: name.clone(), mae, constant_mae }
        })
        .collect();
    let average = factors.iter().map(|f| f.mae).sum::<f64>() / factors.len() as f64;
    Ok(FactorsReport {
        model: model.kind().name().into(),
        data: data.to_string(),
        features: which,
        dims: rows.first().map_or(0, Vec::len),
        fit_images: half,
        test_images: rows.len() - half,
        factors,
        average,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_a_linear_map_and_its_intercept() {
        let rows: Vec<Vec<f32>> = (0..50).map(|i| vec![(i as f32 * 0.37).sin(), (i as f32 * 0.11).cos(), i as f32 / 50.0]).collect();
        let targets: Vec<Vec<f32>> = rows.iter().map(|r| vec![2.0 * r[0] - r[2] + 0.5, r[1]]).collect();
        let w = fit_linear(&rows, &targets).unwrap();
        for (r, t) in rows.iter().zip(&targets) {
            assert!((predict(&w[0], r) - t[0] as f64).abs() < 1e-3);
            assert!((predict(&w[1], r) - t[1] as f64).abs() < 1e-3);
        }
        // A dead dimension (all zeros) is held by the ridge, not refused.
        let dead: Vec<Vec<f32>> = rows.iter().map(|r| vec![r[0], 0.0]).collect();
        assert!(fit_linear(&dead, &targets).is_ok());
    }
}
