//! Algorithm 1 of the thesis (§3.5): which chunks of a reference image's latent are replaced
//! by the same-position chunks of nearest-neighbour images.
//!
//! For each quadrant one candidate is drawn uniformly from that quadrant's neighbour list.
//! The candidate with the greatest distance is never used (at least one original chunk
//! stays), the one with the lowest distance always is (at least one chunk is replaced), and
//! the other two are used iff their distance is at most τ. The thesis's pseudo-code nesting
//! is garbled (spec §1.5); this is the if/elif/elif/else reading that gives its stated
//! guarantees. Ties: the first quadrant in chunk order among equals is "greatest", the
//! first of the remaining ones "lowest".

use rand::Rng;

use super::QuadrantMask;

/// The thesis's threshold, on its squared-L2 DeepCluster feature scale; recalibrate it to
/// whatever features compute the neighbour lists.
pub const THESIS_TAU: f32 = 16_000.0;

/// One entry of a quadrant's nearest-neighbour list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub image: usize,
    pub distance: f32,
}

/// What Algorithm 1 decided for one reference image.
#[derive(Debug, Clone, PartialEq)]
pub struct MixChoice {
    /// The candidate drawn for each quadrant (chunk order).
    pub candidates: [Neighbour; 4],
    /// 1 = this quadrant's chunk comes from its candidate.
    pub mask: QuadrantMask,
}

/// Which of Algorithm 1's rules decides a quadrant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixRule {
    /// The candidate with the greatest distance: never used.
    Farthest,
    /// The one with the lowest distance (of the other three): always used.
    Nearest,
    /// The others, used when their distance is at most τ…
    WithinTau,
    /// …and kept otherwise.
    BeyondTau,
}

impl MixRule {
    /// Whether the quadrant's chunk comes from its candidate.
    pub fn replaces(self) -> bool {
        matches!(self, MixRule::Nearest | MixRule::WithinTau)
    }
}

/// The rule deciding each quadrant, for four candidate distances (chunk order) and
/// threshold `tau`.
pub fn mix_rules(distances: [f32; 4], tau: f32) -> [MixRule; 4] {
    let mut greatest = 0;
    for i in 1..4 {
        if distances[i] > distances[greatest] {
            greatest = i;
        }
    }
    let mut lowest = if greatest == 0 { 1 } else { 0 };
    for i in 0..4 {
        if i != greatest && distances[i] < distances[lowest] {
            lowest = i;
        }
    }
    std::array::from_fn(|i| {
        if i == greatest {
            MixRule::Farthest
        } else if i == lowest {
            MixRule::Nearest
        } else if distances[i] <= tau {
            MixRule::WithinTau
        } else {
            MixRule::BeyondTau
        }
    })
}

/// The mask for four candidate distances (chunk order) and threshold `tau`.
pub fn mix_mask(distances: [f32; 4], tau: f32) -> QuadrantMask {
    QuadrantMask(mix_rules(distances, tau).map(MixRule::replaces))
}

/// Runs Algorithm 1 given each quadrant's neighbour list; `None` if a list is empty.
pub fn choose_mix(lists: [&[Neighbour]; 4], tau: f32, rng: &mut impl Rng) -> Option<MixChoice> {
    let mut candidates = [Neighbour { image: 0, distance: 0.0 }; 4];
    for (slot, list) in candidates.iter_mut().zip(lists) {
        if list.is_empty() {
            return None;
        }
        *slot = list[rng.random_range(0..list.len())];
    }
    let mask = mix_mask(candidates.map(|c| c.distance), tau);
    Some(MixChoice { candidates, mask })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn always_replaces_one_to_three_quadrants_by_the_rule() {
        let mut rng = crate::rng::SeededRng::seed_from_u64(5);
        for _ in 0..5_000 {
            let d: [f32; 4] = std::array::from_fn(|_| rng.random_range(0.0..40_000.0));
            // Ties happen too.
            let d = if rng.random_bool(0.1) { [d[0]; 4] } else { d };
            let mask = mix_mask(d, THESIS_TAU);
            assert!((1..=3).contains(&mask.replaced()), "{d:?} → {mask}");
            let greatest = (0..4).filter(|&i| !mask.0[i]).map(|i| d[i]).fold(f32::MIN, f32::max);
            assert_eq!(greatest, d.iter().copied().fold(f32::MIN, f32::max), "the farthest candidate is kept");
            for i in 0..4 {
                // A replaced quadrant is the closest one or within τ.
                let closest_replaced = (0..4).filter(|&j| mask.0[j]).map(|j| d[j]).fold(f32::MAX, f32::min);
                if mask.0[i] && d[i] > THESIS_TAU {
                    assert_eq!(d[i], closest_replaced, "{d:?} → {mask}: only the closest may exceed τ");
                }
            }
        }
        assert_eq!(mix_mask([100.0, 20_000.0, 15_000.0, 30_000.0], THESIS_TAU).to_string(), "1010");
        assert_eq!(mix_mask([50_000.0, 40_000.0, 30_000.0, 20_000.0], THESIS_TAU).to_string(), "0001");
    }

    #[test]
    fn candidates_come_from_their_own_quadrants_list() {
        let lists: [Vec<Neighbour>; 4] = std::array::from_fn(|q| (0..10).map(|k| Neighbour { image: 100 * q + k, distance: (1000 * (q + 1) + k) as f32 }).collect());
        let mut rng = crate::rng::SeededRng::seed_from_u64(9);
        for _ in 0..200 {
            let choice = choose_mix([&lists[0], &lists[1], &lists[2], &lists[3]], THESIS_TAU, &mut rng).unwrap();
            for (q, c) in choice.candidates.iter().enumerate() {
                assert!(lists[q].contains(c), "quadrant {q} drew {c:?}");
            }
            // Here every distance is under τ: all but the farthest (quadrant 3) are replaced.
            assert_eq!(choice.mask.to_string(), "1110");
        }
        assert!(choose_mix([&lists[0], &[], &lists[2], &lists[3]], THESIS_TAU, &mut rng).is_none());
    }
}
