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
    /// Each bin's magnitude is first compressed by a power law, `X ↦ |X|^exponent · X/|X|`
    /// (the phase is kept), then the clip is standardised as in
    /// [`Normalization::PerClipRealImag`]. On the linear spectrum a few loud low tones set the
    /// scale and a weak high hiss or crackle is nearly zero; with an exponent below 1 (0.3 is
    /// usual for compressed complex spectra) a band 40 dB down is only 12 dB down, so the
    /// network hears added energy anywhere in the spectrum, as log-mel features do.
    PowerLawPerClip {
        /// Power applied to the magnitude (0 < exponent ≤ 1; 1 is no compression).
        exponent: f64,
        /// Added to the standard deviation, as in `PerClipRealImag`.
        eps: f64,
    },
    /// No scaling (for experiments; not used by shipped models).
    None,
}

/// The reference's `eps`, added to the standard deviation.
const REFERENCE_EPS: f64 = 1e-8;

impl Default for Normalization {
    fn default() -> Self {
        Normalization::PerClipRealImag { eps: REFERENCE_EPS }
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

/// Standardises the real and the imaginary parts each with their own clip statistics.
fn standardise(spec: &mut Spectrogram, eps: f64) -> NormStats {
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

/// Raises each bin's magnitude to `exponent`, keeping its phase.
fn compress(spec: &mut Spectrogram, exponent: f64) {
    for (re, im) in spec.re.iter_mut().zip(spec.im.iter_mut()) {
        let (r, i) = (f64::from(*re), f64::from(*im));
        let magnitude = r.hypot(i);
        if magnitude > 0.0 {
            let gain = magnitude.powf(exponent - 1.0);
            *re = (r * gain) as f32;
            *im = (i * gain) as f32;
        }
    }
}

impl Normalization {
    /// The power-law compressed spectrum at `exponent`, standardised with the reference's eps.
    pub fn power_law(exponent: f64) -> Self {
        Normalization::PowerLawPerClip {
            exponent,
            eps: REFERENCE_EPS,
        }
    }

    /// Normalises `spec` in place and returns the statistics of the standardisation.
    pub fn apply(&self, spec: &mut Spectrogram) -> NormStats {
        match *self {
            Normalization::PerClipRealImag { eps } => standardise(spec, eps),
            Normalization::PowerLawPerClip { exponent, eps } => {
                compress(spec, exponent);
                standardise(spec, eps)
            }
            Normalization::None => [0.0, 1.0, 0.0, 1.0],
        }
    }

    /// The power the magnitudes were raised to (1 but for the power-law spectrum). Dividing a
    /// level in dB of the normalised spectrum by it gives the sound's own level (up to an
    /// offset): what the page's pictures show, not the network's compressed view.
    pub fn magnitude_exponent(&self) -> f64 {
        match *self {
            Normalization::PowerLawPerClip { exponent, .. } => exponent,
            Normalization::PerClipRealImag { .. } | Normalization::None => 1.0,
        }
    }

    /// Checks the parameters (a manifest is read from a file, so they can be anything).
    pub fn validate(&self) -> Result<(), BadExponent> {
        match *self {
            Normalization::PowerLawPerClip { exponent, .. }
                if !(exponent > 0.0 && exponent <= 1.0) =>
            {
                Err(BadExponent(exponent))
            }
            _ => Ok(()),
        }
    }
}

/// A power-law exponent outside (0, 1].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("power-law exponent must be in (0, 1], got {0}")]
pub struct BadExponent(pub f64);

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

    #[test]
    fn power_law_keeps_the_phase_and_compresses_the_magnitude() {
        // Two bins 40 dB apart (magnitudes 100 and 1), different phases, and a zero bin.
        let mut s = Spectrogram {
            bins: 1,
            frames: 3,
            re: vec![60.0, 0.0, 0.0],
            im: vec![80.0, -1.0, 0.0],
        };
        compress(&mut s, 0.5);
        // Magnitudes 10 and 1 (20 dB apart), same directions; zero stays zero.
        assert!((s.re[0] - 6.0).abs() < 1e-5 && (s.im[0] - 8.0).abs() < 1e-5);
        assert!(s.re[1] == 0.0 && (s.im[1] + 1.0).abs() < 1e-6);
        assert!(s.re[2] == 0.0 && s.im[2] == 0.0);
        // Exponent 1 is the plain standardisation.
        let fresh = || Spectrogram {
            bins: 1,
            frames: 3,
            re: vec![60.0, 0.0, 2.0],
            im: vec![80.0, -1.0, 3.0],
        };
        let (mut a, mut b) = (fresh(), fresh());
        Normalization::PowerLawPerClip {
            exponent: 1.0,
            eps: 1e-8,
        }
        .apply(&mut a);
        Normalization::default().apply(&mut b);
        assert_eq!(a, b);
        // Below 1, `apply` compresses before it standardises.
        let (mut c, mut d) = (fresh(), fresh());
        Normalization::PowerLawPerClip {
            exponent: 0.5,
            eps: 1e-8,
        }
        .apply(&mut c);
        compress(&mut d, 0.5);
        Normalization::default().apply(&mut d);
        assert_eq!(c, d);
        assert_ne!(c, b);
        assert!(
            Normalization::PowerLawPerClip {
                exponent: 0.0,
                eps: 1e-8
            }
            .validate()
            .is_err()
        );
        assert!(
            Normalization::PowerLawPerClip {
                exponent: 0.3,
                eps: 1e-8
            }
            .validate()
            .is_ok()
        );
    }
}
