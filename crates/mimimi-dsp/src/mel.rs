//! Log-mel features: the classical front end of the DCASE 2020 Task 2 baseline, used by the
//! trainer's baseline method (a Gaussian per machine ID on stacked log-mel frames).

use crate::stft::Spectrogram;

/// How the mel filterbank is laid out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MelConfig {
    /// Number of mel bands.
    pub bands: usize,
    /// Lowest frequency (Hz).
    pub f_min: f64,
    /// Highest frequency (Hz); `None` is the Nyquist frequency.
    pub f_max: Option<f64>,
}

impl Default for MelConfig {
    fn default() -> Self {
        Self {
            bands: 64,
            f_min: 0.0,
            f_max: None,
        }
    }
}

/// Hz to mel (HTK formula).
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Mel to Hz (HTK formula).
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// Triangular filters over the bins of a one-sided spectrum, evenly spaced on the mel scale,
/// each with a peak of 1.
#[derive(Debug, Clone)]
pub struct MelBank {
    /// Per band: its first bin and the weights of the bins from there.
    filters: Vec<(usize, Vec<f32>)>,
}

impl MelBank {
    /// The filterbank for a spectrum of `bins` bins (`n_fft / 2 + 1`) at `sample_rate`.
    pub fn new(config: &MelConfig, sample_rate: u32, bins: usize) -> Self {
        let nyquist = f64::from(sample_rate) / 2.0;
        let (lo, hi) = (
            hz_to_mel(config.f_min),
            hz_to_mel(config.f_max.unwrap_or(nyquist)),
        );
        let edges: Vec<f64> = (0..config.bands + 2)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (config.bands + 1) as f64))
            .collect();
        let bin_hz = nyquist / (bins - 1) as f64;
        let filters = edges
            .windows(3)
            .map(|e| {
                let weight = |bin: usize| {
                    let f = bin as f64 * bin_hz;
                    let up = (f - e[0]) / (e[1] - e[0]);
                    let down = (e[2] - f) / (e[2] - e[1]);
                    up.min(down).max(0.0) as f32
                };
                let first = ((e[0] / bin_hz).floor() as usize).min(bins - 1);
                let last = ((e[2] / bin_hz).ceil() as usize).min(bins - 1);
                let mut weights: Vec<f32> = (first..=last).map(weight).collect();
                if weights.iter().all(|&w| w == 0.0) {
                    // A band narrower than a bin: give it the nearest bin.
                    let centre = (e[1] / bin_hz).round() as usize;
                    weights = (first..=last)
                        .map(|b| f32::from(u8::from(b == centre)))
                        .collect();
                }
                (first, weights)
            })
            .collect();
        Self { filters }
    }

    /// Number of bands.
    pub fn bands(&self) -> usize {
        self.filters.len()
    }

    /// Log-mel energies in dB (`10·log10(mel power + 1e-10)`), frame-major: `frames × bands`.
    pub fn log_mel(&self, spec: &Spectrogram) -> Vec<f32> {
        let mut out = vec![0.0f32; spec.frames * self.bands()];
        for (band, (first, weights)) in self.filters.iter().enumerate() {
            for t in 0..spec.frames {
                let mut power = 0.0f64;
                for (k, &w) in weights.iter().enumerate() {
                    let i = (first + k) * spec.frames + t;
                    let (re, im) = (f64::from(spec.re[i]), f64::from(spec.im[i]));
                    power += f64::from(w) * (re * re + im * im);
                }
                out[t * self.bands() + band] = (10.0 * (power + 1e-10).log10()) as f32;
            }
        }
        out
    }
}

/// Stacks `context` consecutive frames of a frame-major `frames × bands` matrix into vectors of
/// `context · bands` values, one per position (hop one frame).
pub fn stack_frames(features: &[f32], bands: usize, context: usize) -> Vec<Vec<f32>> {
    let frames = features.len() / bands;
    (0..(frames + 1).saturating_sub(context))
        .map(|t| features[t * bands..(t + context) * bands].to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stft::{StftConfig, stft};

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 100.0, 1000.0, 7999.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!(
            (hz_to_mel(1000.0) - 1000.0).abs() < 0.5,
            "1 kHz is ≈1000 mel"
        );
    }

    #[test]
    fn a_tone_lights_the_band_that_holds_it() {
        let rate = 16_000;
        let config = MelConfig::default();
        let bank = MelBank::new(&config, rate, 513);
        let hz = 2000.0;
        let tone: Vec<f32> = (0..32_000)
            .map(|n| (std::f64::consts::TAU * hz * n as f64 / f64::from(rate)).sin() as f32)
            .collect();
        let spec = stft(&tone, &StftConfig::default());
        let mel = bank.log_mel(&spec);
        let t = spec.frames / 2;
        let frame = &mel[t * 64..(t + 1) * 64];
        let loudest = (0..64)
            .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
            .unwrap();
        // The band whose centre is nearest to 2 kHz.
        let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(8000.0));
        let centre = |b: usize| mel_to_hz(lo + (hi - lo) * (b + 1) as f64 / 65.0);
        let expected = (0..64)
            .min_by(|&a, &b| (centre(a) - hz).abs().total_cmp(&(centre(b) - hz).abs()))
            .unwrap();
        assert!(loudest.abs_diff(expected) <= 1, "{loudest} vs {expected}");
        assert!(
            frame[loudest] - frame[5] > 40.0,
            "the tone stands 40 dB above 100 Hz"
        );
    }

    #[test]
    fn stacking_hops_one_frame() {
        let features: Vec<f32> = (0..12).map(|v| v as f32).collect(); // 6 frames × 2 bands
        let stacked = stack_frames(&features, 2, 5);
        assert_eq!(stacked.len(), 2);
        assert_eq!(stacked[1], vec![2., 3., 4., 5., 6., 7., 8., 9., 10., 11.]);
        assert!(stack_frames(&features[..6], 2, 5).is_empty());
    }
}
