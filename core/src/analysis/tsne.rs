//! t-SNE maps of a split model's two codes (the cycle-consistent VAE report's Fig. 4.11 and
//! 4.12: s should fall into one cluster per class, z should not), through the `bhtsne`
//! crate's Barnes-Hut t-SNE rather than a t-SNE of our own.
//!
//! The crate runs its whole optimisation in one call and panics on parameters it does not
//! take; here the parameters are checked first and refused with a message, and a stop asked
//! for between two of its epochs unwinds out of that call (see [`embed`]).

use std::ops::ControlFlow;

use crate::analysis::explorable::ExplorableModel;
use crate::data::{HostImage, SharedSource};

/// Which code a map is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MapOf {
    /// The unspecified part z at its posterior mean (the report's choice).
    UnspecifiedMean,
    /// z drawn from its posterior, μ + σ·ε.
    UnspecifiedSample,
    /// The specified part s.
    Specified,
}

impl MapOf {
    pub const ALL: [MapOf; 3] = [MapOf::UnspecifiedMean, MapOf::UnspecifiedSample, MapOf::Specified];
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TsneSettings {
    /// The effective number of neighbours each point keeps (van der Maaten: 5…50).
    pub perplexity: f32,
    /// Gradient steps (the crate's and the original's default: 1,000).
    pub epochs: usize,
    /// Barnes-Hut's accuracy: 0.5 as in the original; smaller is slower and closer to exact.
    pub theta: f32,
    /// The starting layout's draw.
    pub seed: u64,
}

impl Default for TsneSettings {
    fn default() -> Self {
        Self { perplexity: 30.0, epochs: 1000, theta: 0.5, seed: 1 }
    }
}

impl TsneSettings {
    /// Checks the settings for `points` points, as the crate would panic on them.
    pub fn validate(&self, points: usize) -> Result<(), String> {
        if !(self.perplexity.is_finite() && self.perplexity > 0.0) {
            return Err(format!("the perplexity must be a positive number, not {}", self.perplexity));
        }
        // The crate keeps 3·perplexity neighbours of each point.
        let needed = (3.0 * self.perplexity).ceil() as usize + 1;
        if points < needed {
            return Err(format!("a perplexity of {} needs at least {needed} points; there are {points} (lower the perplexity or map more images)", self.perplexity));
        }
        if self.epochs == 0 {
            return Err("t-SNE needs at least 1 epoch".into());
        }
        if !(self.theta.is_finite() && self.theta > 0.0) {
            return Err(format!("theta must be above 0, not {}", self.theta));
        }
        Ok(())
    }
}

/// What unwinds out of the crate's epoch loop when a stop is asked for.
struct Stopped;

/// The 2-D t-SNE layout of `points` (all of one length), or `None` when `on_epoch` (called
/// after every epoch with the epoch and the layout so far, x and y interleaved) breaks.
pub fn embed(points: &[Vec<f32>], settings: &TsneSettings, mut on_epoch: impl FnMut(usize, &[f32]) -> ControlFlow<()>) -> Result<Option<Vec<[f32; 2]>>, String> {
    settings.validate(points.len())?;
    let dims = points.first().map_or(0, Vec::len);
    if let Some(i) = points.iter().position(|p| p.len() != dims) {
        return Err(format!("point {i} has {} values where the first has {dims}", points[i].len()));
    }
    if let Some(i) = points.iter().position(|p| p.iter().any(|v| !v.is_finite())) {
        return Err(format!("point {i} is not finite"));
    }
    let rows: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
    // A seeded start (the crate's own is unseeded): N(0, 1e-4²), as the original. The
    // crate's sums run in parallel, so two runs still differ in the last digits and the
    // optimisation carries that on: the same seed gives a map of the same shape, not the
    // same numbers.
    let mut rng = crate::train::step_rng(settings.seed, 0);
    let start: Vec<f32> = crate::families::trainable::normal_noise(&mut rng, 2 * points.len()).iter().map(|v| v * 1e-4).collect();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut tsne: bhtsne::tSNE<f32, &[f32]> = bhtsne::tSNE::new(&rows);
        tsne.perplexity(settings.perplexity).epochs(settings.epochs).initial_embedding(start);
        tsne.epoch_callback(|epoch, layout| {
            if on_epoch(epoch, layout).is_break() {
                // Unwinds out of the crate's loop without running the panic hook.
                std::panic::resume_unwind(Box::new(Stopped));
            }
        });
        tsne.barnes_hut(settings.theta, |a: &&[f32], b: &&[f32]| a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt());
        tsne.embedding()
    }));
    match result {
        Ok(flat) => Ok(Some(flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect())),
        Err(payload) if payload.is::<Stopped>() => Ok(None),
        Err(payload) => {
            let why = payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            Err(format!("t-SNE failed: {}", why.trim()))
        }
    }
}

/// The codes of `n` images of `source` (its first, or all where it has fewer) for maps:
/// each of [`MapOf::ALL`], and each image's label.
pub struct MapPoints {
    pub unspecified_mean: Vec<Vec<f32>>,
    pub unspecified_sample: Vec<Vec<f32>>,
    pub specified: Vec<Vec<f32>>,
    pub labels: Vec<Option<u32>>,
    /// The images' indices in the source.
    pub indices: Vec<usize>,
}

impl MapPoints {
    pub fn of(&self, map: MapOf) -> &[Vec<f32>] {
        match map {
            MapOf::UnspecifiedMean => &self.unspecified_mean,
            MapOf::UnspecifiedSample => &self.unspecified_sample,
            MapOf::Specified => &self.specified,
        }
    }
}

/// Encodes `n` images of `source`, spread evenly over it (so every class is in a map of a
/// source sorted by class), `seed` drawing the z samples.
pub fn map_points(model: &ExplorableModel, source: &SharedSource, n: usize, seed: u64) -> Result<MapPoints, String> {
    let total = source.len();
    if total == 0 {
        return Err(format!("{} has no images", source.info().name));
    }
    let n = n.min(total);
    let indices: Vec<usize> = (0..n).map(|i| i * total / n).collect();
    let mut rng = crate::train::step_rng(seed, 2);
    let mut out = MapPoints { unspecified_mean: vec![], unspecified_sample: vec![], specified: vec![], labels: vec![], indices: indices.clone() };
    for chunk in indices.chunks(256) {
        let samples: Vec<_> = chunk.iter().map(|&i| source.get(i)).collect();
        let images: Vec<HostImage> = samples.iter().map(|s| s.image.clone()).collect();
        let codes = model.encode_split(&images).ok_or_else(|| format!("a {} model has no class/style split", model.kind()))?;
        for (code, sample) in codes.into_iter().zip(samples) {
            let noise = crate::families::trainable::normal_noise(&mut rng, code.unspecified.mu.len());
            out.unspecified_sample.push(code.unspecified.mu.iter().zip(&code.unspecified.var).zip(noise).map(|((m, v), e)| m + v.max(0.0).sqrt() * e).collect());
            out.unspecified_mean.push(code.unspecified.mu);
            out.specified.push(code.specified);
            out.labels.push(sample.label);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight clusters far apart in 10-d.
    fn clusters(per: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut rng = crate::train::step_rng(5, 0);
        let mut points = vec![];
        let mut labels = vec![];
        for c in 0..3 {
            for _ in 0..per {
                let noise = crate::families::trainable::normal_noise(&mut rng, 10);
                points.push(noise.iter().enumerate().map(|(k, v)| v * 0.1 + if k == c { 20.0 } else { 0.0 }).collect());
                labels.push(c);
            }
        }
        (points, labels)
    }

    #[test]
    fn clusters_stay_apart_and_a_stop_ends_it() {
        let (points, labels) = clusters(40);
        let settings = TsneSettings { perplexity: 10.0, epochs: 300, ..TsneSettings::default() };
        let mut seen = 0;
        let map = embed(&points, &settings, |_, _| {
            seen += 1;
            ControlFlow::Continue(())
        })
        .unwrap()
        .unwrap();
        assert_eq!((map.len(), seen), (120, 300));
        // Every point is nearer its own cluster's centre than any other's.
        let centre = |c: usize| {
            let own: Vec<&[f32; 2]> = map.iter().zip(&labels).filter(|(_, l)| **l == c).map(|(p, _)| p).collect();
            [own.iter().map(|p| p[0]).sum::<f32>() / own.len() as f32, own.iter().map(|p| p[1]).sum::<f32>() / own.len() as f32]
        };
        let centres: Vec<[f32; 2]> = (0..3).map(centre).collect();
        let d = |a: &[f32; 2], b: &[f32; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
        for (p, &l) in map.iter().zip(&labels) {
            let nearest = (0..3).min_by(|&a, &b| d(p, &centres[a]).total_cmp(&d(p, &centres[b]))).unwrap();
            assert_eq!(nearest, l);
        }
        let stopped = embed(&points, &settings, |epoch, _| if epoch >= 5 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }).unwrap();
        assert_eq!(stopped, None);
    }

    #[test]
    fn settings_the_crate_would_panic_on_are_refused_with_a_message() {
        let (points, _) = clusters(5);
        let refuse = |settings: TsneSettings, points: &[Vec<f32>]| embed(points, &settings, |_, _| ControlFlow::Continue(())).unwrap_err();
        assert!(refuse(TsneSettings { perplexity: 30.0, ..TsneSettings::default() }, &points).contains("needs at least 91 points; there are 15"));
        assert!(refuse(TsneSettings { perplexity: 0.0, ..TsneSettings::default() }, &points).contains("positive"));
        assert!(refuse(TsneSettings { perplexity: 2.0, theta: 0.0, ..TsneSettings::default() }, &points).contains("theta"));
        assert!(refuse(TsneSettings { perplexity: 2.0, epochs: 0, ..TsneSettings::default() }, &points).contains("epoch"));
        let mut bad = points.clone();
        bad[3][1] = f32::NAN;
        assert!(refuse(TsneSettings { perplexity: 2.0, ..TsneSettings::default() }, &bad).contains("point 3 is not finite"));
        bad[3] = vec![1.0];
        assert!(refuse(TsneSettings { perplexity: 2.0, ..TsneSettings::default() }, &bad).contains("point 3 has 1 values"));
    }
}
