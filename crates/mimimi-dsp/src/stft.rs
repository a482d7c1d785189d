//! Complex short-time Fourier transform, phase kept.
//!
//! Frame t covers samples `[t·hop − n_fft/2, t·hop + n_fft/2)` of the signal (centred frames):
//! the signal is padded by `n_fft/2` samples at both ends, with the [`PadMode`] chosen in the
//! config. Each frame is multiplied by a periodic Hann window and transformed with `rustfft`,
//! in f64, without scaling: `X[f, t] = Σₙ w[n]·x_pad[t·hop + n]·e^(−2πi·f·n/n_fft)`.
//! A 10 s clip at 16 kHz gives 513 bins × 313 frames.

use rustfft::{FftPlanner, num_complex::Complex};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How the signal is extended by `n_fft/2` samples at each end before framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// Mirror without repeating the edge sample (`torch.stft`, `np.pad(mode="reflect")`,
    /// librosa ≤ 0.8). Mimimi's default: the reference fixtures use it, and it does not
    /// invent a silent edge.
    #[default]
    Reflect,
    /// Zeros (`librosa.stft` since 0.9, which the reference's own data pipeline calls).
    /// Models imported from reference checkpoints use it.
    Zero,
}

/// STFT parameters. The defaults are the network's: 1024-point FFT, hop 512, reflect padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StftConfig {
    /// FFT size and window length (samples).
    pub n_fft: usize,
    /// Hop between frames (samples).
    pub hop: usize,
    /// Padding at both ends.
    pub pad: PadMode,
}

impl Default for StftConfig {
    fn default() -> Self {
        Self {
            n_fft: 1024,
            hop: 512,
            pad: PadMode::Reflect,
        }
    }
}

impl StftConfig {
    /// Frequency bins: `n_fft/2 + 1`.
    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames for a signal of `len` samples: `1 + ⌊len / hop⌋`.
    pub fn frames(&self, len: usize) -> usize {
        1 + len / self.hop
    }

    /// Shortest signal this config can transform (reflect padding needs `n_fft/2 + 1`).
    pub fn min_samples(&self) -> usize {
        self.n_fft / 2 + 1
    }
}

/// A complex spectrogram, stored frequency-major: value (f, t) is at `f · frames + t`, the
/// same order as the network's `[freq, time]` input plane.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    /// Frequency bins (rows).
    pub bins: usize,
    /// Time frames (columns).
    pub frames: usize,
    /// Real parts.
    pub re: Vec<f32>,
    /// Imaginary parts.
    pub im: Vec<f32>,
}

impl Spectrogram {
    /// The sub-spectrogram of frames `start..start + width`, all bins.
    pub fn frames_slice(&self, start: usize, width: usize) -> Spectrogram {
        let mut re = Vec::with_capacity(self.bins * width);
        let mut im = Vec::with_capacity(self.bins * width);
        for f in 0..self.bins {
            let row = f * self.frames + start;
            re.extend_from_slice(&self.re[row..row + width]);
            im.extend_from_slice(&self.im[row..row + width]);
        }
        Spectrogram {
            bins: self.bins,
            frames: width,
            re,
            im,
        }
    }

    /// Magnitude |X| in dB (20·log10, floored at −120 dB), for display.
    pub fn magnitude_db(&self) -> Vec<f32> {
        self.re
            .iter()
            .zip(&self.im)
            .map(|(r, i)| 10.0 * (r * r + i * i).max(1e-12).log10())
            .collect()
    }
}

/// Periodic Hann window of length n: `0.5 − 0.5·cos(2πk/n)`.
pub fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| 0.5 - 0.5 * (2.0 * PI * k as f64 / n as f64).cos())
        .collect()
}

/// Pads `x` by `pad` samples at both ends. Reflect mirrors around the edge samples; the
/// caller guarantees `x.len() > pad` for it.
fn pad_signal(x: &[f32], pad: usize, mode: PadMode) -> Vec<f64> {
    let n = x.len();
    let mut out = Vec::with_capacity(n + 2 * pad);
    match mode {
        PadMode::Reflect => {
            out.extend((1..=pad).rev().map(|i| f64::from(x[i])));
            out.extend(x.iter().map(|&v| f64::from(v)));
            out.extend((0..pad).map(|i| f64::from(x[n - 2 - i])));
        }
        PadMode::Zero => {
            out.resize(pad, 0.0);
            out.extend(x.iter().map(|&v| f64::from(v)));
            out.resize(n + 2 * pad, 0.0);
        }
    }
    out
}

/// Computes the complex STFT of a mono signal.
///
/// # Panics
/// If `signal` is shorter than [`StftConfig::min_samples`]; [`crate::FrontEnd`] checks the
/// length first and returns an error instead.
pub fn stft(signal: &[f32], config: &StftConfig) -> Spectrogram {
    assert!(
        signal.len() >= config.min_samples(),
        "signal of {} samples is shorter than {}",
        signal.len(),
        config.min_samples()
    );
    let n_fft = config.n_fft;
    let bins = config.bins();
    let frames = config.frames(signal.len());
    let padded = pad_signal(signal, n_fft / 2, config.pad);
    let window = hann_periodic(n_fft);
    let fft = FftPlanner::<f64>::new().plan_fft_forward(n_fft);
    let mut re = vec![0.0f32; bins * frames];
    let mut im = vec![0.0f32; bins * frames];
    let mut buf = vec![Complex::new(0.0, 0.0); n_fft];
    let mut scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
    for t in 0..frames {
        let start = t * config.hop;
        for (k, slot) in buf.iter_mut().enumerate() {
            *slot = Complex::new(padded[start + k] * window[k], 0.0);
        }
        fft.process_with_scratch(&mut buf, &mut scratch);
        for (f, value) in buf.iter().take(bins).enumerate() {
            re[f * frames + t] = value.re as f32;
            im[f * frames + t] = value.im as f32;
        }
    }
    Spectrogram {
        bins,
        frames,
        re,
        im,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_of_ten_seconds() {
        let s = stft(&vec![0.0; 160_000], &StftConfig::default());
        assert_eq!((s.bins, s.frames), (513, 313));
    }

    #[test]
    fn pad_modes() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            pad_signal(&x, 2, PadMode::Reflect),
            vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]
        );
        assert_eq!(
            pad_signal(&x, 2, PadMode::Zero),
            vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0]
        );
    }

    #[test]
    fn a_bin_centred_tone_lands_in_its_bin() {
        // 16 cycles per 1024 samples: bin 16, amplitude n_fft/4 for a Hann window.
        let x: Vec<f32> = (0..16_384)
            .map(|n| (2.0 * PI * 16.0 * n as f64 / 1024.0).cos() as f32)
            .collect();
        let s = stft(&x, &StftConfig::default());
        let t = 10;
        let mag =
            |f: usize| (s.re[f * s.frames + t].powi(2) + s.im[f * s.frames + t].powi(2)).sqrt();
        assert!((mag(16) - 256.0).abs() < 1e-2);
        assert!(mag(40) < 1e-3);
    }
}
