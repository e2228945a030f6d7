//! Scene mixing ("Learning Object Representations by Mixing Scenes", mixing-scenes spec):
//! the quadrant convention shared by core and UI, masks, and Algorithm 1.

pub mod algorithm;
pub mod neighbours;

/// The four quadrants, in the order of the encoder's latent chunks: a 2×2×192 map read
/// row-major, so chunk 0 = top-left, 1 = top-right, 2 = bottom-left, 3 = bottom-right
/// (spec §1.6: the only order consistent with the thesis's "car bottom-left = 0010").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quadrant {
    TopLeft = 0,
    TopRight = 1,
    BottomLeft = 2,
    BottomRight = 3,
}

impl Quadrant {
    pub const ALL: [Quadrant; 4] = [Quadrant::TopLeft, Quadrant::TopRight, Quadrant::BottomLeft, Quadrant::BottomRight];

    pub fn index(self) -> usize {
        self as usize
    }

    /// (row, column) in the 2×2 grid.
    pub fn cell(self) -> (usize, usize) {
        (self.index() / 2, self.index() % 2)
    }

    pub fn name(self) -> &'static str {
        match self {
            Quadrant::TopLeft => "top-left",
            Quadrant::TopRight => "top-right",
            Quadrant::BottomLeft => "bottom-left",
            Quadrant::BottomRight => "bottom-right",
        }
    }
}

/// Which quadrants come from the other image: bit i (written left to right as in the
/// thesis, "0010") for quadrant/chunk i; 1 = take from the other image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuadrantMask(pub [bool; 4]);

impl QuadrantMask {
    /// The thesis's presets (Tables 4.2 and C.1).
    pub const PRESETS: [&'static str; 6] = ["0010", "0001", "0100", "1100", "1010", "0101"];

    pub fn parse(text: &str) -> Result<Self, String> {
        let bits: Vec<char> = text.trim().chars().collect();
        if bits.len() != 4 || bits.iter().any(|c| !matches!(c, '0' | '1')) {
            return Err(format!("a quadrant mask is four 0/1 digits in the order TL, TR, BL, BR (e.g. 0010), not '{text}'"));
        }
        Ok(Self([bits[0] == '1', bits[1] == '1', bits[2] == '1', bits[3] == '1']))
    }

    pub fn replaced(&self) -> usize {
        self.0.iter().filter(|&&b| b).count()
    }

    /// Builds a mixed latent from chunked codes: chunk i from `other` where the mask is set,
    /// else from `base`. Both are `[4 · chunk]`, chunk-major in quadrant order.
    pub fn mix(&self, base: &[f32], other: &[f32]) -> Vec<f32> {
        let chunk = base.len() / 4;
        let mut out = base.to_vec();
        for (i, take) in self.0.iter().enumerate() {
            if *take {
                out[i * chunk..(i + 1) * chunk].copy_from_slice(&other[i * chunk..(i + 1) * chunk]);
            }
        }
        out
    }
}

impl std::fmt::Display for QuadrantMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{}", if b { '1' } else { '0' })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_bits_follow_the_chunk_order() {
        // The thesis's example: a car in the bottom-left quadrant moves with mask 0010.
        let mask = QuadrantMask::parse("0010").unwrap();
        assert_eq!(mask.0, [false, false, true, false]);
        assert_eq!(Quadrant::ALL[2], Quadrant::BottomLeft);
        assert_eq!(Quadrant::BottomLeft.cell(), (1, 0));
        assert_eq!(mask.to_string(), "0010");
        let base = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
        let other = [10.0, 10.0, 11.0, 11.0, 12.0, 12.0, 13.0, 13.0];
        assert_eq!(mask.mix(&base, &other), vec![0.0, 0.0, 1.0, 1.0, 12.0, 12.0, 3.0, 3.0]);
        assert_eq!(QuadrantMask::parse("0000").unwrap().mix(&base, &other), base.to_vec());
        assert!(QuadrantMask::parse("012").is_err() && QuadrantMask::parse("00100").is_err());
        for preset in QuadrantMask::PRESETS {
            assert_eq!(QuadrantMask::parse(preset).unwrap().to_string(), preset);
        }
    }
}
