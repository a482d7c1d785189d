//! Is this recording good enough to learn a machine's normal sound from? Enrollment takes are
//! checked before they are kept: a take that is too short, nearly silent or clipped would
//! teach the profile the wrong sound, and the technician can simply record it again.

use crate::frontend::rms_dbfs;
use serde::{Deserialize, Serialize};

/// Limits an enrollment take must meet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityConfig {
    /// Shortest take, seconds (a few windows of the network).
    pub min_seconds: f64,
    /// Quietest take, dB relative to full scale: below it the phone heard no machine.
    pub min_dbfs: f64,
    /// A sample at or above this magnitude counts as clipped.
    pub clip_level: f32,
    /// Largest share of clipped samples.
    pub max_clipped_share: f64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            min_seconds: 5.0,
            min_dbfs: -60.0,
            clip_level: 0.999,
            max_clipped_share: 0.001,
        }
    }
}

/// Why a take cannot be used, in words for the person holding the phone.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum TakeProblem {
    /// Shorter than the configured minimum.
    #[error("too short ({seconds:.1} s): record at least {min_seconds:.0} s")]
    TooShort {
        /// Its length.
        seconds: f64,
        /// The minimum.
        min_seconds: f64,
    },
    /// Below the configured level (or digital silence).
    #[error(
        "nearly silent ({dbfs:.0} dBFS): hold the phone closer to the machine and check it is running"
    )]
    Quiet {
        /// Its RMS level.
        dbfs: f64,
    },
    /// Too many samples at full scale.
    #[error(
        "clipped ({percent:.1} % of samples at full scale): hold the phone a little further away"
    )]
    Clipped {
        /// Share of clipped samples, in percent.
        percent: f64,
    },
}

/// What was measured on a take.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TakeQuality {
    /// Length, seconds.
    pub seconds: f64,
    /// RMS level, dBFS.
    pub dbfs: f64,
    /// Share of clipped samples.
    pub clipped_share: f64,
}

impl QualityConfig {
    /// Measures `samples` (one channel at `sample_rate`) and says why it cannot be used, if it
    /// cannot, in words for the person holding the phone.
    pub fn check(&self, samples: &[f32], sample_rate: u32) -> Result<TakeQuality, TakeProblem> {
        let seconds = samples.len() as f64 / f64::from(sample_rate.max(1));
        let dbfs = rms_dbfs(samples);
        let clipped = samples
            .iter()
            .filter(|x| x.abs() >= self.clip_level)
            .count();
        let clipped_share = clipped as f64 / samples.len().max(1) as f64;
        if seconds + 1e-9 < self.min_seconds {
            return Err(TakeProblem::TooShort {
                seconds,
                min_seconds: self.min_seconds,
            });
        }
        if dbfs.is_nan() || dbfs < self.min_dbfs {
            return Err(TakeProblem::Quiet { dbfs });
        }
        if clipped_share > self.max_clipped_share {
            return Err(TakeProblem::Clipped {
                percent: 100.0 * clipped_share,
            });
        }
        Ok(TakeQuality {
            seconds,
            dbfs,
            clipped_share,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f64, amplitude: f32) -> Vec<f32> {
        (0..(seconds * 16000.0) as usize)
            .map(|i| amplitude * (i as f32 * 0.07).sin())
            .collect()
    }

    #[test]
    fn a_steady_take_passes_with_its_measurements() {
        let q = QualityConfig::default()
            .check(&tone(6.0, 0.3), 16000)
            .unwrap();
        assert!((q.seconds - 6.0).abs() < 1e-9);
        assert!((q.dbfs - 20.0 * (0.3f64 / 2f64.sqrt()).log10()).abs() < 0.1);
        assert_eq!(q.clipped_share, 0.0);
    }

    #[test]
    fn short_silent_and_clipped_takes_are_refused_with_the_reason() {
        let c = QualityConfig::default();
        let short = c.check(&tone(4.0, 0.3), 16000).unwrap_err();
        assert!(matches!(short, TakeProblem::TooShort { .. }), "{short}");
        assert_eq!(short.to_string(), "too short (4.0 s): record at least 5 s");
        let quiet = c.check(&tone(6.0, 1e-4), 16000).unwrap_err();
        assert!(matches!(quiet, TakeProblem::Quiet { .. }), "{quiet}");
        let silence = c.check(&vec![0.0; 96000], 16000).unwrap_err();
        assert!(matches!(silence, TakeProblem::Quiet { .. }), "{silence}");
        let clipped: Vec<f32> = tone(6.0, 3.0).iter().map(|x| x.clamp(-1.0, 1.0)).collect();
        let clipped = c.check(&clipped, 16000).unwrap_err();
        assert!(matches!(clipped, TakeProblem::Clipped { .. }), "{clipped}");
    }
}
