//! Per-clip normalisation of a spectrogram before it enters the network.

use crate::stft::Spectrogram;
use serde::{Deserialize, Serialize};

/// How a clip's spectrogram is scaled before the network sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Normalization {
    /// What the reference does: the real and the imaginary parts are each standardised with
    /// their own mean and population standard deviation over the whole clip,
    /// `(x − mean) / (std + eps)`.
    PerClipRealImag {
        /// Added to the standard deviation (the reference uses 1e-8).
        eps: f64,
    },
    /// No scaling (for experiments; not used by shipped models).
    None,
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization::PerClipRealImag { eps: 1e-8 }
    }
}

/// The statistics a normalisation used: `[mean_re, std_re + eps, mean_im, std_im + eps]`,
/// the layout of the reference fixture `b.norm_stats`.
pub type NormStats = [f64; 4];

/// Mean and population standard deviation, accumulated in f64.
fn mean_std(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

impl Normalization {
    /// Normalises `spec` in place and returns the statistics used.
    pub fn apply(&self, spec: &mut Spectrogram) -> NormStats {
        match *self {
            Normalization::PerClipRealImag { eps } => {
                let (mean_re, std_re) = mean_std(&spec.re);
                let (mean_im, std_im) = mean_std(&spec.im);
                let stats = [mean_re, std_re + eps, mean_im, std_im + eps];
                for v in &mut spec.re {
                    *v = ((f64::from(*v) - stats[0]) / stats[1]) as f32;
                }
                for v in &mut spec.im {
                    *v = ((f64::from(*v) - stats[2]) / stats[3]) as f32;
                }
                stats
            }
            Normalization::None => [0.0, 1.0, 0.0, 1.0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_each_part_separately() {
        let mut s = Spectrogram {
            bins: 1,
            frames: 4,
            re: vec![1.0, 2.0, 3.0, 4.0],
            im: vec![10.0; 4],
        };
        let stats = Normalization::default().apply(&mut s);
        assert!((stats[0] - 2.5).abs() < 1e-12 && (stats[1] - 1.25f64.sqrt() - 1e-8).abs() < 1e-12);
        let mean: f32 = s.re.iter().sum::<f32>() / 4.0;
        let var: f32 = s.re.iter().map(|v| v * v).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5);
        // A constant part has std 0: eps keeps it finite (all zeros).
        assert!(s.im.iter().all(|v| *v == 0.0));
    }
}
