//! Is this recording good enough to learn a machine's normal sound from? Enrollment takes are
//! checked before they are kept: a take that is too short, nearly silent or clipped would
//! teach the profile the wrong sound, and the technician can simply record it again.

use crate::frontend::rms_dbfs;
use serde::{Deserialize, Serialize};
use std::ops::Range;

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

/// The digital silence a live recording picks up without the machine making it: exact zeros
/// before the microphone delivers its first sound and after its last, and runs of exact zeros
/// of 1 ms or more inside it, which are dropouts (a busy phone that missed an audio buffer
/// fills it with zeros). No microphone's own noise is exactly zero for 1 ms; a hole that long
/// is a click the detectors would judge, and in an enrollment take it widens the normal
/// spread. A recording that is all zeros has no gaps, so the quality checks call it silent.
pub fn gaps(samples: &[f32], sample_rate: u32) -> Vec<Range<usize>> {
    let Some(first) = samples.iter().position(|&x| x != 0.0) else {
        return Vec::new();
    };
    let min_run = (sample_rate as usize / 1000).max(1);
    let mut gaps = Vec::new();
    if first > 0 {
        gaps.push(0..first);
    }
    let mut run_start = None;
    for (i, &x) in samples.iter().enumerate().skip(first) {
        match (x == 0.0, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                if i - start >= min_run {
                    gaps.push(start..i);
                }
                run_start = None;
            }
            _ => {}
        }
    }
    if let Some(start) = run_start {
        gaps.push(start..samples.len());
    }
    gaps
}

/// Removes the [`gaps`] from a recording; returns them (as they were, in the input's indices).
pub fn remove_gaps(samples: &mut Vec<f32>, sample_rate: u32) -> Vec<Range<usize>> {
    let gaps = gaps(samples, sample_rate);
    let mut kept = Vec::with_capacity(samples.len());
    let mut from = 0;
    for gap in &gaps {
        kept.extend_from_slice(&samples[from..gap.start]);
        from = gap.end;
    }
    kept.extend_from_slice(&samples[from..]);
    *samples = kept;
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropouts_and_silent_edges_are_removed_and_quiet_samples_kept() {
        let rate = 16000;
        let mut sound = tone(1.0, 0.3);
        sound[0] = 0.1; // sin(0): a zero at the start would count as silence before the sound
        // Zeros before and after, a 10 ms dropout, and two exact zeros of the sound itself.
        let mut recording = vec![0.0; 320];
        recording.extend(&sound[..8000]);
        recording.extend([0.0; 160]);
        recording.extend(&sound[8000..]);
        recording.extend([0.0; 80]);
        recording[320 + 100] = 0.0;
        recording[320 + 101] = 0.0;
        let removed = remove_gaps(&mut recording, rate);
        let (dropout, end) = (320 + 8000, 320 + 8000 + 160 + 8000);
        assert_eq!(removed, [0..320, dropout..dropout + 160, end..end + 80]);
        assert_eq!(recording.len(), sound.len());
        assert_eq!(&recording[102..], &sound[102..]);
        assert_eq!(recording[100..102], [0.0, 0.0]);
        // A run just under 1 ms is the signal's own.
        let mut short = sound.clone();
        short.splice(4000..4000, [0.0; 15]);
        assert!(remove_gaps(&mut short, rate).is_empty());
        assert_eq!(short.len(), sound.len() + 15);
        // Digital silence stays, for the quality check to refuse as silent.
        let mut silence = vec![0.0; 96000];
        assert!(remove_gaps(&mut silence, rate).is_empty());
        assert_eq!(silence.len(), 96000);
        assert!(gaps(&[], rate).is_empty());
    }

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
