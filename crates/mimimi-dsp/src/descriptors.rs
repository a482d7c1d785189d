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
//! - [`Descriptor::Envelope`]: how fast the loudness of 8 bands of the waveform itself pulses,
//!   3–300 Hz: each band's analytic signal is rebuilt from the window's complex spectrogram
//!   (phase kept), and the spectrum of its envelope, relative to the envelope's mean, is pooled
//!   into 8 logarithmic modulation bands (64 values). Sees what turns at the shaft's rate or a
//!   bearing's defect rate (an imbalance, a rub, a bearing's bursts), far faster than the
//!   frame rate that [`Descriptor::Modulation`] is limited to (15.6 Hz).
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
use crate::stft::{Spectrogram, StftConfig};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
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
/// Edges of [`Descriptor::Envelope`]'s bands (Hz): 8 logarithmic bands from 150 Hz to 7.8 kHz.
const ENVELOPE_LOW_HZ: f64 = 150.0;
const ENVELOPE_HIGH_HZ: f64 = 7_800.0;
/// Edges of [`Descriptor::Envelope`]'s modulation bands (Hz): 8 logarithmic bands.
const PULSE_LOW_HZ: f64 = 3.0;
const PULSE_HIGH_HZ: f64 = 300.0;

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
    /// Envelope spectrum (3–300 Hz) of 8 bands of the waveform.
    Envelope,
}

impl Descriptor {
    /// Every descriptor.
    pub const ALL: [Descriptor; 4] = [
        Descriptor::LogMel,
        Descriptor::Modulation,
        Descriptor::Frames,
        Descriptor::Envelope,
    ];

    /// Values per vector: a window's row is one vector, or (for [`Descriptor::Frames`]) several
    /// vectors of this length one after the other ([`Descriptor::per_part`]).
    pub fn dim(self) -> usize {
        match self {
            Descriptor::LogMel => 2 * MEL_BANDS,
            Descriptor::Modulation => ENVELOPE_BANDS * MODULATION_BINS,
            Descriptor::Frames => STACKED_FRAMES * MEL_BANDS,
            Descriptor::Envelope => ENVELOPE_BANDS * MODULATION_BINS,
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
            Descriptor::Envelope => "envelope",
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
    /// The bands of [`Descriptor::Envelope`].
    pulses: Vec<PulseBand>,
    /// Frames from one STFT frame to the next, and the FFT size (samples).
    hop: usize,
    n_fft: usize,
    sample_rate: f64,
    /// FFT plans of the bands and their envelopes, kept from window to window (planning costs
    /// more than transforming).
    plans: Plans,
}

/// A shared FFT planner: it keeps every plan it made.
#[derive(Clone)]
struct Plans(std::sync::Arc<std::sync::Mutex<FftPlanner<f64>>>);

impl std::fmt::Debug for Plans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Plans")
    }
}

impl Plans {
    fn planner(&self) -> std::sync::MutexGuard<'_, FftPlanner<f64>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn forward(&self, len: usize) -> std::sync::Arc<dyn Fft<f64>> {
        self.planner().plan_fft_forward(len)
    }

    fn inverse(&self, len: usize) -> std::sync::Arc<dyn Fft<f64>> {
        self.planner().plan_fft_inverse(len)
    }
}

/// One band of [`Descriptor::Envelope`]: its bins, rebuilt as a complex baseband signal `m`
/// samples per STFT frame (twice the band's width or 600 Hz's worth, rounded up to a power of
/// two), which is all an envelope of the band needs.
#[derive(Debug, Clone)]
struct PulseBand {
    /// First bin and one past the last.
    bins: (usize, usize),
    /// Samples per frame of the baseband signal; `hop · m / n_fft` per hop.
    m: usize,
}

impl PulseBand {
    /// The bands for an STFT of `n_fft` points every `hop` samples at `sample_rate`.
    fn bank(sample_rate: f64, n_fft: usize, hop: usize) -> Vec<PulseBand> {
        let bins = n_fft / 2 + 1;
        let high = ENVELOPE_HIGH_HZ.min(0.49 * sample_rate);
        let ratio = (high / ENVELOPE_LOW_HZ).powf(1.0 / ENVELOPE_BANDS as f64);
        let bin_of = |hz: f64| ((hz * n_fft as f64 / sample_rate).round() as usize).clamp(1, bins);
        (0..ENVELOPE_BANDS)
            .map(|b| {
                let lo = bin_of(ENVELOPE_LOW_HZ * ratio.powi(b as i32));
                let hi = bin_of(ENVELOPE_LOW_HZ * ratio.powi(b as i32 + 1)).max(lo + 1);
                // Enough samples for the band's width and for 2·300 Hz, each hop a whole
                // number of them; the full frame always is.
                let need = (2 * (hi - lo))
                    .max((2.0 * PULSE_HIGH_HZ * n_fft as f64 / sample_rate).ceil() as usize);
                let m = std::iter::successors(Some(8usize), |m| Some(m * 2))
                    .take_while(|&m| m < n_fft)
                    .find(|&m| m >= need && (hop * m).is_multiple_of(n_fft))
                    .unwrap_or(n_fft);
                PulseBand {
                    bins: (lo, hi.min(bins)),
                    m,
                }
            })
            .collect()
    }
}

impl Describer {
    /// A describer for spectrograms made by `stft` at `sample_rate` whose magnitudes were
    /// raised to `magnitude_exponent`.
    pub fn new(sample_rate: u32, stft: &StftConfig, magnitude_exponent: f64) -> Self {
        let bins = stft.bins();
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
            pulses: PulseBand::bank(f64::from(sample_rate), stft.n_fft, stft.hop),
            hop: stft.hop,
            n_fft: stft.n_fft,
            sample_rate: f64::from(sample_rate),
            plans: Plans(std::sync::Arc::new(
                std::sync::Mutex::new(FftPlanner::new()),
            )),
        }
    }

    /// [`Descriptor::Envelope`] of one window: for each band, its analytic signal (positive
    /// frequencies only) is the overlap-add of each frame's band bins brought down to
    /// baseband; a periodic Hann window at a hop of a half or a quarter of it sums to a
    /// constant, so the interior is the band's signal up to a scale, which the envelope's own
    /// mean divides away.
    fn envelope(&self, spec: &Spectrogram, window: &Window) -> Vec<f32> {
        let frames = window.width;
        let mut out = Vec::with_capacity(ENVELOPE_BANDS * MODULATION_BINS);
        for band in &self.pulses {
            let (lo, hi) = band.bins;
            let m = band.m;
            let step = self.hop * m / self.n_fft;
            let mut signal = vec![Complex::new(0.0, 0.0); (frames.max(1) - 1) * step + m];
            let mut frame = vec![Complex::new(0.0, 0.0); m];
            let inverse = self.plans.inverse(m);
            for t in 0..frames {
                frame.fill(Complex::new(0.0, 0.0));
                // Bin lo + j at the frame's sample n·n_fft/m is e^{2πi·lo·n/m}·e^{2πi·j·n/m};
                // brought down by lo relative to the window's first sample, the first factor
                // leaves this frame's twist, so that the frames add up coherently.
                let twist = Complex::from_polar(
                    1.0,
                    -std::f64::consts::TAU * ((lo % m) * ((t * step) % m) % m) as f64 / m as f64,
                );
                for (j, k) in (lo..hi).enumerate() {
                    let z = Complex::new(
                        f64::from(spec.re[k * spec.frames + window.start + t]),
                        f64::from(spec.im[k * spec.frames + window.start + t]),
                    );
                    let power = z.norm_sqr();
                    let scale = if self.undo == 1.0 || power == 0.0 {
                        1.0
                    } else {
                        power.powf(0.5 * (self.undo - 1.0))
                    };
                    frame[j] += z * scale * twist;
                }
                inverse.process(&mut frame);
                for (n, v) in frame.iter().enumerate() {
                    signal[t * step + n] += *v;
                }
            }
            // Frames at the window's edges lack their overlapping neighbour.
            let edge = (m / 2).min(signal.len() / 4);
            let envelope: Vec<f64> = signal[edge..signal.len() - edge]
                .iter()
                .map(|z| z.norm())
                .collect();
            out.extend(self.pulse_spectrum(&envelope, m));
        }
        out
    }

    /// The power of `envelope`'s pulsing (sampled `m` times per STFT frame) in each modulation
    /// band, relative to its mean's power, as a natural logarithm.
    fn pulse_spectrum(&self, envelope: &[f64], m: usize) -> Vec<f32> {
        let len = envelope.len();
        let mean = envelope.iter().sum::<f64>() / len as f64;
        let hann = |n: usize| 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / len as f64).cos();
        let mut buf: Vec<Complex<f64>> = envelope
            .iter()
            .enumerate()
            .map(|(n, e)| Complex::new((e - mean) * hann(n), 0.0))
            .collect();
        self.plans.forward(len).process(&mut buf);
        let rate = self.sample_rate * m as f64 / self.n_fft as f64;
        let hz_per_bin = rate / len as f64;
        let norm = (mean * mean * len as f64 * 0.375).max(1e-300);
        let ratio = (PULSE_HIGH_HZ / PULSE_LOW_HZ).powf(1.0 / MODULATION_BINS as f64);
        (0..MODULATION_BINS)
            .map(|b| {
                let from = PULSE_LOW_HZ * ratio.powi(b as i32) / hz_per_bin;
                let to = PULSE_LOW_HZ * ratio.powi(b as i32 + 1) / hz_per_bin;
                let first = (from.ceil() as usize).clamp(1, len / 2);
                let last = (to.ceil() as usize).clamp(first + 1, len / 2 + 1);
                let power = buf[first..last].iter().map(|z| z.norm_sqr()).sum::<f64>()
                    / (last - first) as f64;
                ((power / norm) + 1e-12).ln() as f32
            })
            .collect()
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
        let powers = || self.powers(spec, window);
        match descriptor {
            Descriptor::Envelope => self.envelope(spec, window),
            Descriptor::LogMel => {
                let part = powers();
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
                let part = powers();
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
                let part = powers();
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
        let describer = Describer::new(16_000, &StftConfig::default(), exponent);
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
        let describer = Describer::new(16_000, &StftConfig::default(), 1.0);
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

    /// 3 s of noise whose loudness pulses at `hz` with `depth` (drawn from `seed`).
    fn pulsing_noise(hz: f64, depth: f64, seed: u64) -> Vec<f32> {
        let mut state = seed;
        let mut noise = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 33) as f64 / (1u64 << 31) as f64 - 0.5
        };
        (0..48_000)
            .map(|n| {
                let t = n as f64 / 16_000.0;
                ((1.0 + depth * (std::f64::consts::TAU * hz * t).sin()) * noise()) as f32
            })
            .collect()
    }

    #[test]
    fn a_pulsing_noise_lights_its_modulation_frequency() {
        // Noise whose loudness pulses at 4 Hz: over 64 frames (2.048 s) that is bin 8.
        let x = pulsing_noise(4.0, 0.9, 1);
        let v = describe(Descriptor::Modulation, &x, 1.0);
        // Band 4 (mid frequencies): its 8 modulation bins; bin 8 (index 7) is the loudest.
        let band = &v[4 * 8..5 * 8];
        let loudest = (0..8).max_by(|&a, &b| band[a].total_cmp(&band[b])).unwrap();
        assert_eq!(loudest + 1, 8, "{band:?}");
    }

    #[test]
    fn a_noise_pulsing_at_a_shaft_rate_lights_its_band_of_the_envelope_spectrum() {
        // Noise whose loudness pulses at 40 Hz (a 2,400 rpm shaft), far above the frame rate:
        // every band pulses at 40 Hz, in modulation band 4 (30–53 Hz).
        let x = pulsing_noise(40.0, 0.8, 3);
        let steady = signal(|_| 0.0);
        // The same sound through a power-law compressed spectrum pulses as deeply: the
        // compression is undone before the envelope is taken (left in, the pulse reads
        // 0.08–0.26 lower).
        let (plain, compressed) = (
            describe(Descriptor::Envelope, &x, 1.0),
            describe(Descriptor::Envelope, &x, 0.3),
        );
        for band in [1, 4, 6] {
            let (a, b) = (plain[band * 8 + 4], compressed[band * 8 + 4]);
            assert!(
                (a - b).abs() < 0.05,
                "band {band}: {a} plain, {b} compressed"
            );
        }
        for exponent in [1.0, 0.3] {
            let pulsing = describe(Descriptor::Envelope, &x, exponent);
            let flat = describe(Descriptor::Envelope, &steady, exponent);
            for band in [1, 4, 6] {
                // A narrow band's envelope fluctuates by itself at low rates: the pulse shows
                // as the rise over steady noise, largest at 40 Hz.
                let rise: Vec<f32> = (0..8)
                    .map(|k| pulsing[band * 8 + k] - flat[band * 8 + k])
                    .collect();
                let most = (0..8).max_by(|&a, &b| rise[a].total_cmp(&rise[b])).unwrap();
                assert_eq!(most, 4, "band {band}, exponent {exponent}: {rise:?}");
                assert!(rise[4] > 1.0, "band {band}, exponent {exponent}: {rise:?}");
            }
        }
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
            Describer::new(16_000, &StftConfig::default(), 1.0).describe(
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
