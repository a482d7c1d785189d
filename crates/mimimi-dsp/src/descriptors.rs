//! Hand-made descriptions of a window of the spectrogram: what the classical members of a
//! combined score measure (`mimimi_model::judge`). They read the same normalised spectrogram
//! and the same 64-frame windows as the network, so a clip goes through the front end once.
//!
//! - [`Descriptor::LogMel`]: the level and the variability of each of 32 mel bands over the
//!   window: the mean and the standard deviation of its log-mel energies (64 values). Sees
//!   energy added or lost in a band (a leak's hiss, a bearing's ringing, a dry rail's squeal).
//! - [`Descriptor::Modulation`]: how the loudness of 8 broad mel bands pulses over the
//!   window: the log-magnitude of the first 8 modulation frequencies (0.49–3.9 Hz) of each
//!   band's log-energy envelope (64 values). Sees the rhythm of a machine (a valve's cycle,
//!   a slider's strokes, a pump's surge) change while its spectrum stays the same.
//!
//! - [`Descriptor::Frames`]: the classical baseline's view, compact: 32 log-mel bands of 5
//!   consecutive frames stacked (160 values, 160 ms of sound), every second frame of the
//!   window; a window's row holds all its stacks one after the other. Sees what changes from
//!   one 32 ms frame to the next (a jittering blade pass, a shake), which a window's
//!   statistics average away; its detector scores every stack, not the clip's mean
//!   (`mimimi_model::combined`).
//!
//! 64 values for the first two, not more: on the development families 64- and 128-value
//! versions ranked anomalies alike (docs/results/quality.md), and a Gaussian of 64 values
//! stores in a quarter of the bytes.
//!
//! Powers are of the sound itself: a model that hears a power-law compressed spectrum
//! ([`crate::Normalization::magnitude_exponent`]) has the compression undone here, so a
//! descriptor means the same for every model. The per-clip standardisation stays: levels are
//! relative to the clip's own, which a phone's unknown gain requires.

use crate::examples::Window;
use crate::mel::{MelBank, MelConfig};
use crate::stft::Spectrogram;
use serde::{Deserialize, Serialize};

/// Mel bands of [`Descriptor::LogMel`].
const MEL_BANDS: usize = 32;
/// Broad bands of [`Descriptor::Modulation`].
const ENVELOPE_BANDS: usize = 8;
/// Modulation frequencies kept per band (bins 1..=8 of the window's DFT).
const MODULATION_BINS: usize = 8;
/// Consecutive frames stacked by [`Descriptor::Frames`].
const STACKED_FRAMES: usize = 5;
/// Frames from one stack to the next.
const STACK_HOP: usize = 2;

/// A hand-made description of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Descriptor {
    /// Mean and standard deviation of 32 log-mel bands over the window.
    LogMel,
    /// Modulation spectrum of 8 broad bands' envelopes.
    Modulation,
    /// Stacks of 5 consecutive frames of 32 log-mel bands, several per window.
    Frames,
}

impl Descriptor {
    /// Every descriptor.
    pub const ALL: [Descriptor; 3] = [
        Descriptor::LogMel,
        Descriptor::Modulation,
        Descriptor::Frames,
    ];

    /// Values per vector: a window's row is one vector, or (for [`Descriptor::Frames`]) several
    /// vectors of this length one after the other ([`Descriptor::per_part`]).
    pub fn dim(self) -> usize {
        match self {
            Descriptor::LogMel => 2 * MEL_BANDS,
            Descriptor::Modulation => ENVELOPE_BANDS * MODULATION_BINS,
            Descriptor::Frames => STACKED_FRAMES * MEL_BANDS,
        }
    }

    /// Whether a window's row holds several vectors (each scored on its own) rather than one.
    pub fn per_part(self) -> bool {
        self == Descriptor::Frames
    }

    /// Name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Descriptor::LogMel => "logmel",
            Descriptor::Modulation => "modulation",
            Descriptor::Frames => "frames",
        }
    }
}

/// Computes descriptors of the windows of spectrograms of one shape.
#[derive(Debug, Clone)]
pub struct Describer {
    mel: MelBank,
    broad: MelBank,
    /// 1 / the magnitude exponent of the front end's normalisation.
    undo: f64,
}

impl Describer {
    /// A describer for spectrograms of `bins` bins at `sample_rate` whose magnitudes were
    /// raised to `magnitude_exponent`.
    pub fn new(sample_rate: u32, bins: usize, magnitude_exponent: f64) -> Self {
        let bank = |bands| {
            let config = MelConfig {
                bands,
                ..MelConfig::default()
            };
            MelBank::new(&config, sample_rate, bins)
        };
        Self {
            mel: bank(MEL_BANDS),
            broad: bank(ENVELOPE_BANDS),
            undo: 1.0 / magnitude_exponent,
        }
    }

    /// The power of each bin of `window` as the sound had it, frame-major (`frames × bins`).
    fn powers(&self, spec: &Spectrogram, window: &Window) -> Spectrogram {
        let mut part = spec.frames_slice(window.start, window.width);
        for (re, im) in part.re.iter_mut().zip(part.im.iter_mut()) {
            let p = f64::from(*re).powi(2) + f64::from(*im).powi(2);
            *re = if self.undo == 1.0 {
                p
            } else {
                p.powf(self.undo)
            }
            .sqrt() as f32;
            *im = 0.0;
        }
        part
    }

    /// `descriptor` of one window of `spec`.
    pub fn describe(
        &self,
        descriptor: Descriptor,
        spec: &Spectrogram,
        window: &Window,
    ) -> Vec<f32> {
        let part = self.powers(spec, window);
        match descriptor {
            Descriptor::LogMel => {
                let bands = self.mel.bands();
                let levels = self.mel.log_mel(&part);
                let frames = part.frames.max(1) as f64;
                let mut out = vec![0.0f32; 2 * bands];
                for b in 0..bands {
                    let values = levels.iter().skip(b).step_by(bands).map(|&v| f64::from(v));
                    let (sum, sum_sq) = values.fold((0.0, 0.0), |(s, q), v| (s + v, q + v * v));
                    let mean = sum / frames;
                    out[b] = mean as f32;
                    out[bands + b] = (sum_sq / frames - mean * mean).max(0.0).sqrt() as f32;
                }
                out
            }
            Descriptor::Frames => {
                let bands = self.mel.bands();
                let levels = self.mel.log_mel(&part);
                let mut out = Vec::new();
                let mut t = 0;
                while t + STACKED_FRAMES <= part.frames {
                    out.extend_from_slice(&levels[t * bands..(t + STACKED_FRAMES) * bands]);
                    t += STACK_HOP;
                }
                out
            }
            Descriptor::Modulation => {
                let bands = self.broad.bands();
                let levels = self.broad.log_mel(&part);
                let frames = part.frames;
                let hann: Vec<f64> = (0..frames)
                    .map(|t| {
                        0.5 - 0.5
                            * (std::f64::consts::TAU * t as f64 / (frames.max(2) - 1) as f64).cos()
                    })
                    .collect();
                let mut out = Vec::with_capacity(bands * MODULATION_BINS);
                for b in 0..bands {
                    let envelope: Vec<f64> = levels
                        .iter()
                        .skip(b)
                        .step_by(bands)
                        .map(|&v| f64::from(v))
                        .collect();
                    let mean = envelope.iter().sum::<f64>() / frames.max(1) as f64;
                    for k in 1..=MODULATION_BINS {
                        let (mut re, mut im) = (0.0, 0.0);
                        for (t, (e, w)) in envelope.iter().zip(&hann).enumerate() {
                            let angle = std::f64::consts::TAU * (k * t) as f64 / frames as f64;
                            re += (e - mean) * w * angle.cos();
                            im -= (e - mean) * w * angle.sin();
                        }
                        out.push((re.hypot(im) + 1e-6).ln() as f32);
                    }
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stft::{StftConfig, stft};

    /// `f(t)` plus a noise floor about 30 dB below a full-scale sine: every band holds a sound,
    /// as in a recording (in bands of pure rounding noise, undoing a compression after the
    /// standardisation subtracted the clip's mean cannot agree).
    fn signal(f: impl Fn(f64) -> f64) -> Vec<f32> {
        let mut state = 7u64;
        (0..16_000 * 3)
            .map(|n| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.06;
                (f(n as f64 / 16_000.0) + noise) as f32
            })
            .collect()
    }

    fn describe(d: Descriptor, x: &[f32], exponent: f64) -> Vec<f32> {
        let mut spec = stft(x, &StftConfig::default());
        if exponent != 1.0 {
            crate::Normalization::power_law(exponent).apply(&mut spec);
        }
        let describer = Describer::new(16_000, spec.bins, exponent);
        let window = Window {
            start: 10,
            width: 64,
        };
        describer.describe(d, &spec, &window)
    }

    #[test]
    fn widths_match_and_values_are_finite() {
        let x = signal(|t| (std::f64::consts::TAU * 440.0 * t).sin());
        for d in Descriptor::ALL {
            let v = describe(d, &x, 1.0);
            // Frames: 30 stacks of 160 values in a 64-frame window (frames 0, 2, … 58).
            let parts = if d.per_part() { 30 } else { 1 };
            assert_eq!(v.len(), parts * d.dim(), "{d:?}");
            assert!(v.iter().all(|x| x.is_finite()), "{d:?}");
        }
    }

    #[test]
    fn frame_stacks_are_consecutive_frames_of_the_log_mel() {
        let x = signal(|t| {
            (std::f64::consts::TAU * 700.0 * t).sin()
                * (1.0 + (std::f64::consts::TAU * 3.0 * t).sin())
        });
        let frames = describe(Descriptor::Frames, &x, 1.0);
        let spec = stft(&x, &StftConfig::default());
        let window = Window {
            start: 10,
            width: 64,
        };
        let describer = Describer::new(16_000, spec.bins, 1.0);
        let levels = describer
            .mel
            .log_mel(&spec.frames_slice(window.start, window.width));
        // The second stack starts at the window's third frame (up to rounding: the descriptor
        // goes through the power's square root and back).
        let worst = frames[160..320]
            .iter()
            .zip(&levels[2 * 32..7 * 32])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "{worst} dB");
    }

    #[test]
    fn a_pulsing_noise_lights_its_modulation_frequency() {
        // Noise whose loudness pulses at 4 Hz: over 64 frames (2.048 s) that is bin 8.
        let mut state = 1u64;
        let mut noise = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 33) as f64 / (1u64 << 31) as f64 - 0.5
        };
        let x: Vec<f32> = (0..48_000)
            .map(|n| {
                let t = n as f64 / 16_000.0;
                ((1.0 + 0.9 * (std::f64::consts::TAU * 4.0 * t).sin()) * noise()) as f32
            })
            .collect();
        let v = describe(Descriptor::Modulation, &x, 1.0);
        // Band 4 (mid frequencies): its 8 modulation bins; bin 8 (index 7) is the loudest.
        let band = &v[4 * 8..5 * 8];
        let loudest = (0..8).max_by(|&a, &b| band[a].total_cmp(&band[b])).unwrap();
        assert_eq!(loudest + 1, 8, "{band:?}");
    }

    #[test]
    fn the_logmel_levels_follow_a_tone_and_undo_the_compression() {
        let quiet = signal(|t| 0.1 * (std::f64::consts::TAU * 1_030.0 * t).sin());
        let loud = signal(|t| (std::f64::consts::TAU * 1_030.0 * t).sin());
        let (q, l) = (
            describe(Descriptor::LogMel, &quiet, 1.0),
            describe(Descriptor::LogMel, &loud, 1.0),
        );
        let bands = Descriptor::LogMel.dim() / 2;
        let band = (0..bands).max_by(|&a, &b| l[a].total_cmp(&l[b])).unwrap();
        assert!(
            (l[band] - q[band] - 20.0).abs() < 0.2,
            "{} vs {}",
            l[band],
            q[band]
        );
        // A steady tone hardly varies over the window.
        assert!(l[bands + band] < 0.5);
        // The same sound through a power-law compressed spectrum describes the same.
        let compressed = describe(Descriptor::LogMel, &loud, 0.3);
        let plain = {
            let mut spec = stft(&loud, &StftConfig::default());
            crate::Normalization::default().apply(&mut spec);
            Describer::new(16_000, spec.bins, 1.0).describe(
                Descriptor::LogMel,
                &spec,
                &Window {
                    start: 10,
                    width: 64,
                },
            )
        };
        // Standardisations differ by a clip-wide factor: compare shapes (offset removed).
        let shape = |v: &[f32]| {
            let m = v[..bands].iter().sum::<f32>() / bands as f32;
            v[..bands].iter().map(|x| x - m).collect::<Vec<_>>()
        };
        let (a, b) = (shape(&compressed), shape(&plain));
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 0.1, "{worst}");
    }
}
