//! A multivariate Gaussian with a shrinkage covariance, scored by Mahalanobis distance.
//!
//! The classical baseline models each machine ID's stacked log-mel frames with one; an
//! enrolled machine's profile models the network's features of its normal clips with one.
//! The covariance is shrunk towards a scaled identity by the OAS rule (Chen, Wiesel, Eldar &
//! Hero, 2010), whose weight comes from the data alone, so that a few clips in many dimensions
//! still give an invertible, well-conditioned matrix.

use serde::{Deserialize, Serialize};

/// Mean and Cholesky factor of the shrunk covariance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gaussian {
    /// Mean vector.
    pub mean: Vec<f64>,
    /// Lower-triangular Cholesky factor `L` of the covariance, row-major `d × d`.
    pub chol: Vec<f64>,
    /// The OAS shrinkage weight that was used (0: sample covariance, 1: scaled identity).
    pub shrinkage: f64,
    /// Number of vectors it was fitted on.
    pub samples: usize,
}

impl Gaussian {
    /// Fits a Gaussian to `vectors` (all of one length). Errors with fewer than two vectors,
    /// unequal lengths, or vectors without any spread.
    pub fn fit<V: AsRef<[f32]>>(vectors: &[V]) -> Result<Self, GaussianError> {
        let n = vectors.len();
        if n < 2 {
            return Err(GaussianError::TooFew(n));
        }
        let d = vectors[0].as_ref().len();
        if d == 0 || vectors.iter().any(|v| v.as_ref().len() != d) {
            return Err(GaussianError::Ragged);
        }
        let mut mean = vec![0.0f64; d];
        for v in vectors {
            for (m, &x) in mean.iter_mut().zip(v.as_ref()) {
                *m += f64::from(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        // Sample covariance (maximum likelihood), upper triangle then mirrored.
        let mut cov = vec![0.0f64; d * d];
        let mut centred = vec![0.0f64; d];
        for v in vectors {
            for ((c, &x), m) in centred.iter_mut().zip(v.as_ref()).zip(&mean) {
                *c = f64::from(x) - m;
            }
            for i in 0..d {
                let ci = centred[i];
                let row = &mut cov[i * d..(i + 1) * d];
                for j in i..d {
                    row[j] += ci * centred[j];
                }
            }
        }
        for i in 0..d {
            for j in i..d {
                let v = cov[i * d + j] / n as f64;
                cov[i * d + j] = v;
                cov[j * d + i] = v;
            }
        }
        let trace: f64 = (0..d).map(|i| cov[i * d + i]).sum();
        if trace <= 0.0 || !trace.is_finite() {
            return Err(GaussianError::NoSpread);
        }
        let trace_sq: f64 = cov.iter().map(|v| v * v).sum();
        let (df, nf) = (d as f64, n as f64);
        let num = (1.0 - 2.0 / df) * trace_sq + trace * trace;
        let den = (nf + 1.0 - 2.0 / df) * (trace_sq - trace * trace / df);
        let shrinkage = if den > 0.0 { (num / den).min(1.0) } else { 1.0 };
        let target = trace / df;
        for v in cov.iter_mut() {
            *v *= 1.0 - shrinkage;
        }
        for i in 0..d {
            cov[i * d + i] += shrinkage * target;
        }
        let chol = cholesky(&cov, d).ok_or(GaussianError::NotPositiveDefinite)?;
        Ok(Self {
            mean,
            chol,
            shrinkage,
            samples: n,
        })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Squared Mahalanobis distance of `x` from the mean.
    pub fn mahalanobis2(&self, x: &[f32]) -> f64 {
        let d = self.dim();
        assert_eq!(x.len(), d, "vector length");
        // Forward substitution: L y = x − μ; the distance is |y|².
        let mut y = vec![0.0f64; d];
        let mut sum = 0.0;
        for i in 0..d {
            let row = &self.chol[i * d..i * d + i];
            let dot: f64 = row.iter().zip(&y[..i]).map(|(l, y)| l * y).sum();
            y[i] = (f64::from(x[i]) - self.mean[i] - dot) / self.chol[i * d + i];
            sum += y[i] * y[i];
        }
        sum
    }

    /// `Σ⁻¹ v`, by two triangular solves with the Cholesky factor (`L y = v`, `Lᵀ z = y`).
    pub fn precision_times(&self, v: &[f64]) -> Vec<f64> {
        let d = self.dim();
        assert_eq!(v.len(), d, "vector length");
        let l = |i: usize, j: usize| self.chol[i * d + j];
        let mut y = vec![0.0f64; d];
        for i in 0..d {
            let dot: f64 = (0..i).map(|k| l(i, k) * y[k]).sum();
            y[i] = (v[i] - dot) / l(i, i);
        }
        let mut z = vec![0.0f64; d];
        for i in (0..d).rev() {
            let dot: f64 = (i + 1..d).map(|k| l(k, i) * z[k]).sum();
            z[i] = (y[i] - dot) / l(i, i);
        }
        z
    }

    /// An error unless the stored mean and factor have consistent sizes and a usable
    /// diagonal (a file may be damaged): the other methods assume it.
    pub fn validate(&self) -> Result<(), GaussianError> {
        let d = self.dim();
        if d == 0 || self.chol.len() != d * d {
            return Err(GaussianError::FactorSize {
                dim: d,
                values: self.chol.len(),
            });
        }
        if (0..d).any(|i| !(self.chol[i * d + i] > 0.0 && self.chol[i * d + i].is_finite()))
            || self.chol.iter().chain(&self.mean).any(|v| !v.is_finite())
        {
            return Err(GaussianError::Unusable);
        }
        Ok(())
    }

    /// Mean squared Mahalanobis distance of `vectors`, divided by the dimension (about 1 for
    /// vectors drawn from the fitted distribution): a clip's score from its frames.
    pub fn score<V: AsRef<[f32]>>(&self, vectors: &[V]) -> f64 {
        let total: f64 = vectors.iter().map(|v| self.mahalanobis2(v.as_ref())).sum();
        total / (vectors.len().max(1) * self.dim()) as f64
    }
}

/// Why a Gaussian cannot be fitted, stored or read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GaussianError {
    /// Fewer than two vectors to fit.
    #[error("a Gaussian needs at least 2 vectors, got {0}")]
    TooFew(usize),
    /// Empty vectors, or vectors of unequal lengths.
    #[error("vectors must be non-empty and of one length")]
    Ragged,
    /// Every vector the same.
    #[error("the vectors have no spread")]
    NoSpread,
    /// The covariance has no Cholesky factor.
    #[error("the covariance is not positive definite")]
    NotPositiveDefinite,
    /// The stored factor does not match the mean's dimension.
    #[error("a Gaussian of dimension {dim} needs {} factor values, it has {values}", dim * dim)]
    FactorSize {
        /// The mean's dimension.
        dim: usize,
        /// Factor values stored.
        values: usize,
    },
    /// Values that are not finite, or a singular factor.
    #[error("a Gaussian's values are not finite or its factor is singular")]
    Unusable,
    /// A stored dimension of 0 or above [`MAX_STORED_DIM`].
    #[error("dimension {0} is not in 1..={MAX_STORED_DIM}")]
    Dimension(usize),
    /// A stored part that is not base64.
    #[error("{part}: not base64 ({source})")]
    NotBase64 {
        /// Which part.
        part: Part,
        /// The decoder's complaint.
        source: base64::DecodeError,
    },
    /// A stored part of the wrong length.
    #[error("{part}: {bytes} bytes, {expected} expected")]
    Length {
        /// Which part.
        part: Part,
        /// Bytes stored.
        bytes: usize,
        /// Bytes the dimension needs.
        expected: usize,
    },
}

/// The stored parts of a [`Packed`] Gaussian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The mean.
    Mean,
    /// The Cholesky factor's lower triangle.
    Factor,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Mean => "mean",
            Part::Factor => "factor",
        })
    }
}

/// Largest dimension a stored Gaussian may claim: far above any feature vector Mimimi makes
/// (320), far below what would let a damaged file ask for gigabytes.
pub const MAX_STORED_DIM: usize = 4096;

/// The stored form of a Gaussian: the mean and the lower triangle of the Cholesky factor (row
/// by row) as little-endian f32, base64-encoded; a 128-dimensional Gaussian takes 44 kB
/// instead of some 400 kB of JSON numbers. [`packed`] stores a [`Gaussian`] field this way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Packed {
    dim: usize,
    samples: usize,
    shrinkage: f64,
    mean: String,
    chol_lower: String,
}

impl Packed {
    /// Packs `g`; refuses a damaged one (a file must not hold what cannot be read back).
    pub fn new(g: &Gaussian) -> Result<Self, GaussianError> {
        g.validate()?;
        let d = g.dim();
        let lower = (0..d).flat_map(|i| (0..=i).map(move |j| g.chol[i * d + j]));
        Ok(Self {
            dim: d,
            samples: g.samples,
            shrinkage: g.shrinkage,
            mean: encode(g.mean.iter().copied()),
            chol_lower: encode(lower),
        })
    }

    /// The Gaussian, checked ([`Gaussian::validate`]).
    pub fn unpack(&self) -> Result<Gaussian, GaussianError> {
        let d = self.dim;
        if d == 0 || d > MAX_STORED_DIM {
            return Err(GaussianError::Dimension(d));
        }
        let mean = decode(&self.mean, d, Part::Mean)?;
        let lower = decode(&self.chol_lower, d * (d + 1) / 2, Part::Factor)?;
        let mut chol = vec![0.0; d * d];
        let mut values = lower.into_iter();
        for i in 0..d {
            for j in 0..=i {
                chol[i * d + j] = values.next().expect("counted by decode");
            }
        }
        let g = Gaussian {
            mean,
            chol,
            shrinkage: self.shrinkage,
            samples: self.samples,
        };
        g.validate()?;
        Ok(g)
    }
}

fn encode(values: impl Iterator<Item = f64>) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = values.flat_map(|v| (v as f32).to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(text: &str, count: usize, part: Part) -> Result<Vec<f64>, GaussianError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|source| GaussianError::NotBase64 { part, source })?;
    if bytes.len() != 4 * count {
        return Err(GaussianError::Length {
            part,
            bytes: bytes.len(),
            expected: 4 * count,
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect())
}

/// `#[serde(with = "packed")]` for a [`Gaussian`] field: stored as [`Packed`].
pub mod packed {
    use super::{Gaussian, Packed};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `g` packed.
    pub fn serialize<S: Serializer>(g: &Gaussian, serializer: S) -> Result<S::Ok, S::Error> {
        Packed::new(g)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }

    /// Reads a packed Gaussian, checked.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Gaussian, D::Error> {
        Packed::deserialize(deserializer)?
            .unpack()
            .map_err(serde::de::Error::custom)
    }
}

impl Gaussian {
    /// The same Gaussian with its mean and factor rounded to f32, as [`Packed`] stores them:
    /// scores computed from it (thresholds, normal spreads) are those of the stored model.
    pub fn rounded(mut self) -> Self {
        for v in self.mean.iter_mut().chain(self.chol.iter_mut()) {
            *v = f64::from(*v as f32);
        }
        self
    }
}

/// Cholesky factor of a symmetric positive-definite `d × d` matrix; None if it is not.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; d * d];
    for i in 0..d {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            let v = a[i * d + j] - dot;
            if i == j {
                if v <= 0.0 || !v.is_finite() {
                    return None;
                }
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = v / l[j * d + j];
            }
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-normal draws (sum of uniforms) from a small LCG.
    fn draws(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        move || {
            let mut sum = 0.0;
            for _ in 0..12 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                sum += (s >> 11) as f64 / (1u64 << 53) as f64;
            }
            sum - 6.0
        }
    }

    #[test]
    fn distance_follows_the_covariance() {
        // x₀ ~ N(0, 4), x₁ = x₀/2 + N(0, 1): correlated, unequal variances.
        let mut z = draws(7);
        let v: Vec<Vec<f32>> = (0..20_000)
            .map(|_| {
                let a = 2.0 * z();
                vec![a as f32, (a / 2.0 + z()) as f32]
            })
            .collect();
        let g = Gaussian::fit(&v).unwrap();
        assert!(
            g.shrinkage < 0.01,
            "many samples need little shrinkage: {}",
            g.shrinkage
        );
        // Σ = [[4, 2], [2, 2]], Σ⁻¹ = [[0.5, −0.5], [−0.5, 1]].
        let exact = |x: f64, y: f64| 0.5 * x * x - x * y + y * y;
        for (x, y) in [(2.0, 0.0), (0.0, 1.0), (1.0, 1.0), (-3.0, 2.0)] {
            let m = g.mahalanobis2(&[x as f32, y as f32]);
            assert!(
                (m - exact(x, y)).abs() < 0.05 * exact(x, y).max(1.0),
                "{m} vs {}",
                exact(x, y)
            );
        }
        // Vectors from the distribution score about 1 per dimension.
        assert!((g.score(&v) - 1.0).abs() < 0.02, "{}", g.score(&v));
    }

    #[test]
    fn precision_times_inverts_the_covariance() {
        let mut z = draws(11);
        let v: Vec<Vec<f32>> = (0..200)
            .map(|_| {
                let a = z();
                vec![a as f32, (a + z()) as f32, z() as f32]
            })
            .collect();
        let g = Gaussian::fit(&v).unwrap();
        g.validate().unwrap();
        // xᵀ Σ⁻¹ x through the solves equals the Mahalanobis distance of μ + x.
        let x = [0.7f64, -1.3, 2.0];
        let p = g.precision_times(&x);
        let quad: f64 = x.iter().zip(&p).map(|(a, b)| a * b).sum();
        let shifted: Vec<f32> = x.iter().zip(&g.mean).map(|(a, m)| (a + m) as f32).collect();
        let m2 = g.mahalanobis2(&shifted);
        assert!((quad - m2).abs() < 1e-4 * m2, "{quad} vs {m2}");
        let mut damaged = g.clone();
        damaged.chol.pop();
        assert!(damaged.validate().is_err());
        damaged = g;
        damaged.chol[0] = 0.0;
        assert!(damaged.validate().is_err());
    }

    #[test]
    fn few_samples_in_many_dimensions_still_fit() {
        let mut z = draws(3);
        let v: Vec<Vec<f32>> = (0..10)
            .map(|_| (0..50).map(|_| z() as f32).collect())
            .collect();
        let g = Gaussian::fit(&v).unwrap();
        assert!(g.shrinkage > 0.3, "{}", g.shrinkage);
        assert!(g.mahalanobis2(&v[0]).is_finite());
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(Gaussian::fit(&[vec![1.0f32]]).is_err());
        assert!(Gaussian::fit(&[vec![1.0f32, 2.0], vec![1.0]]).is_err());
        assert!(Gaussian::fit(&[vec![1.0f32, 2.0], vec![1.0, 2.0]]).is_err());
    }
}
