//! The whole signal path in one call: decoded audio → one channel at 16 kHz → complex STFT →
//! normalised spectrogram → example windows, with checks that turn bad input into clear errors.

use crate::MODEL_SAMPLE_RATE;
use crate::examples::{ExampleConfig, Window};
use crate::normalize::{BadExponent, NormStats, Normalization};
use crate::resample::{ResampleError, resample};
use crate::stft::{Spectrogram, StftConfig, stft};
use crate::wav::{Audio, WavError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Everything that decides how audio becomes network input. Each model's manifest stores the
/// one it was trained with, so the trainer and the page cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FrontEndConfig {
    /// Rate the audio is resampled to (Hz).
    pub sample_rate: u32,
    /// STFT parameters.
    pub stft: StftConfig,
    /// Per-clip normalisation.
    pub normalization: Normalization,
    /// Cutting into examples.
    pub examples: ExampleConfig,
    /// Longest clip accepted (seconds): a bound on memory, above all on a phone.
    pub max_seconds: f64,
    /// A clip whose RMS level is below this (dBFS) is rejected as silent.
    pub silence_dbfs: f64,
}

impl Default for FrontEndConfig {
    fn default() -> Self {
        Self {
            sample_rate: MODEL_SAMPLE_RATE,
            stft: StftConfig::default(),
            normalization: Normalization::default(),
            examples: ExampleConfig::default(),
            max_seconds: 300.0,
            silence_dbfs: -90.0,
        }
    }
}

impl FrontEndConfig {
    /// Checks the parameters: a manifest is read from a file, so they can be anything, and a
    /// hop of 0 or a window of 0 frames would divide by zero or never end.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let FrontEndConfig {
            sample_rate,
            stft,
            examples,
            max_seconds,
            silence_dbfs,
            normalization,
        } = *self;
        if !(1_000..=192_000).contains(&sample_rate) {
            return Err(ConfigError::SampleRate(sample_rate));
        }
        if !(16..=16_384).contains(&stft.n_fft) {
            return Err(ConfigError::FftSize(stft.n_fft));
        }
        if stft.hop == 0 || stft.hop > stft.n_fft {
            return Err(ConfigError::Hop {
                hop: stft.hop,
                n_fft: stft.n_fft,
            });
        }
        if !(16..=4_096).contains(&examples.frames) || examples.stride == 0 {
            return Err(ConfigError::Windows {
                frames: examples.frames,
                stride: examples.stride,
            });
        }
        if !(max_seconds.is_finite() && max_seconds > 0.0 && max_seconds <= 3_600.0) {
            return Err(ConfigError::MaxSeconds(max_seconds));
        }
        if !silence_dbfs.is_finite() {
            return Err(ConfigError::Silence);
        }
        Ok(normalization.validate()?)
    }
}

/// Front-end parameters that cannot be used (a manifest is read from a file).
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum ConfigError {
    /// Sample rate outside 1000–192000 Hz.
    #[error("sample rate {0} Hz is outside 1000–192000")]
    SampleRate(u32),
    /// FFT size outside 16–16384.
    #[error("FFT size {0} is outside 16–16384")]
    FftSize(usize),
    /// Hop of 0 or longer than the FFT.
    #[error("hop {hop} must be 1–{n_fft} (the FFT size)")]
    Hop {
        /// The hop.
        hop: usize,
        /// The FFT size.
        n_fft: usize,
    },
    /// Windows of too few or too many frames, or a stride of 0.
    #[error(
        "windows of {frames} frames every {stride} frames: need 16–4096 frames and a stride of at least 1"
    )]
    Windows {
        /// Frames per window.
        frames: usize,
        /// Frames between windows.
        stride: usize,
    },
    /// Longest clip outside (0, 3600] s.
    #[error("longest clip {0} s is outside (0, 3600]")]
    MaxSeconds(f64),
    /// A silence level that is not a number.
    #[error("the silence level is not a number")]
    Silence,
    /// The normalisation's exponent.
    #[error(transparent)]
    Normalization(#[from] BadExponent),
}

/// Why a clip cannot be scored.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum FrontEndError {
    /// The file could not be decoded.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// The sample rate could not be converted.
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// Shorter than one example.
    #[error("the clip is {seconds:.2} s long; at least {min_seconds:.2} s are needed")]
    TooShort {
        /// Length of the clip.
        seconds: f64,
        /// Shortest clip accepted.
        min_seconds: f64,
    },
    /// Longer than [`FrontEndConfig::max_seconds`].
    #[error("the clip is {seconds:.0} s long; at most {max_seconds:.0} s are accepted: trim it")]
    TooLong {
        /// Length of the clip.
        seconds: f64,
        /// Longest clip accepted.
        max_seconds: f64,
    },
    /// Below the silence level: nothing to judge.
    #[error("the clip is silent (level {dbfs:.0} dBFS): check the microphone or the file")]
    Silent {
        /// RMS level of the clip.
        dbfs: f64,
    },
    /// NaN or infinite samples (a broken float WAV).
    #[error("the clip contains invalid (NaN or infinite) samples")]
    NotFinite,
}

/// A clip ready for the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The normalised complex spectrogram, `[bins, frames]`.
    pub spectrogram: Spectrogram,
    /// The statistics the normalisation used.
    pub norm_stats: NormStats,
    /// The example windows to score.
    pub windows: Vec<Window>,
    /// Duration of the 16 kHz signal (seconds).
    pub seconds: f64,
}

/// The configured signal path.
#[derive(Debug, Clone, Default)]
pub struct FrontEnd {
    /// Its configuration.
    pub config: FrontEndConfig,
}

impl FrontEnd {
    /// A front end with the given configuration.
    pub fn new(config: FrontEndConfig) -> Self {
        Self { config }
    }

    /// Shortest clip (seconds at the model rate) that yields one example.
    pub fn min_seconds(&self) -> f64 {
        let c = &self.config;
        ((c.examples.frames.max(1) - 1) * c.stft.hop).max(c.stft.min_samples()) as f64
            / f64::from(c.sample_rate)
    }

    /// Picks `channel` of `audio` and brings it to the model's sample rate, after the length
    /// and level checks (done first, so a one-hour file is refused before any work on it).
    pub fn to_model_rate(&self, audio: &Audio, channel: usize) -> Result<Vec<f32>, FrontEndError> {
        let samples = audio.channel(channel)?;
        let seconds = audio.duration_s();
        if seconds > self.config.max_seconds {
            return Err(FrontEndError::TooLong {
                seconds,
                max_seconds: self.config.max_seconds,
            });
        }
        if samples.iter().any(|x| !x.is_finite()) {
            return Err(FrontEndError::NotFinite);
        }
        self.check_length(seconds)?;
        Ok(resample(
            samples,
            audio.sample_rate,
            self.config.sample_rate,
        )?)
    }

    fn check_length(&self, seconds: f64) -> Result<(), FrontEndError> {
        let min_seconds = self.min_seconds();
        if seconds + 1e-9 < min_seconds {
            return Err(FrontEndError::TooShort {
                seconds,
                min_seconds,
            });
        }
        Ok(())
    }

    /// The full path for a signal already at the model rate.
    pub fn prepare_samples(&self, samples: &[f32]) -> Result<Prepared, FrontEndError> {
        let seconds = samples.len() as f64 / f64::from(self.config.sample_rate);
        self.check_length(seconds)?;
        if samples.iter().any(|x| !x.is_finite()) {
            return Err(FrontEndError::NotFinite);
        }
        let dbfs = rms_dbfs(samples);
        if dbfs < self.config.silence_dbfs {
            return Err(FrontEndError::Silent { dbfs });
        }
        let mut spectrogram = stft(samples, &self.config.stft);
        let norm_stats = self.config.normalization.apply(&mut spectrogram);
        let windows = self.config.examples.windows(spectrogram.frames);
        if windows.is_empty() {
            let min_seconds = self.min_seconds();
            return Err(FrontEndError::TooShort {
                seconds,
                min_seconds,
            });
        }
        Ok(Prepared {
            spectrogram,
            norm_stats,
            windows,
            seconds,
        })
    }

    /// The full path from decoded audio: channel choice, resampling, STFT, normalisation,
    /// windows.
    pub fn prepare(&self, audio: &Audio, channel: usize) -> Result<Prepared, FrontEndError> {
        let samples = self.to_model_rate(audio, channel)?;
        self.prepare_samples(&samples)
    }
}

/// RMS level in dB relative to full scale (−inf for digital silence).
pub fn rms_dbfs(samples: &[f32]) -> f64 {
    let power = samples
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / samples.len().max(1) as f64;
    10.0 * power.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize) -> Vec<f32> {
        // A deterministic pseudo-random sequence (LCG); enough for level checks.
        let mut s = 12345u32;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn bad_clips_get_their_errors() {
        let fe = FrontEnd::default();
        let short = Audio::mono(16_000, noise(1_600));
        assert!(matches!(
            fe.prepare(&short, 0),
            Err(FrontEndError::TooShort { .. })
        ));
        let silent = Audio::mono(16_000, vec![0.0; 160_000]);
        assert!(matches!(
            fe.prepare(&silent, 0),
            Err(FrontEndError::Silent { .. })
        ));
        let long = Audio::mono(8_000, vec![0.0; 8_000 * 3_600]);
        assert!(matches!(
            fe.prepare(&long, 0),
            Err(FrontEndError::TooLong { .. })
        ));
        let mut nan = noise(40_000);
        nan[5] = f32::NAN;
        assert_eq!(
            fe.prepare(&Audio::mono(16_000, nan), 0),
            Err(FrontEndError::NotFinite)
        );
        assert!(matches!(
            fe.prepare(&short, 3),
            Err(FrontEndError::Wav(WavError::NoSuchChannel { .. }))
        ));
    }

    #[test]
    fn ten_seconds_at_48k_give_313_frames_and_9_windows() {
        let audio = Audio::mono(48_000, noise(480_000));
        let p = FrontEnd::default().prepare(&audio, 0).unwrap();
        assert_eq!(
            (p.spectrogram.bins, p.spectrogram.frames, p.windows.len()),
            (513, 313, 9)
        );
        assert!((p.seconds - 10.0).abs() < 1e-9);
    }

    #[test]
    fn shortest_accepted_clip() {
        let fe = FrontEnd::default();
        let n = (fe.min_seconds() * 16_000.0).round() as usize;
        assert_eq!(fe.prepare_samples(&noise(n)).unwrap().windows.len(), 1);
        assert!(fe.prepare_samples(&noise(n - 1)).is_err());
    }
}
