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
    let mut tracker = GapTracker::new(sample_rate);
    tracker.push(samples);
    tracker.gaps()
}

/// Removes the [`gaps`] from a recording; returns them (as they were, in the input's indices).
pub fn remove_gaps(samples: &mut Vec<f32>, sample_rate: u32) -> Vec<Range<usize>> {
    let gaps = gaps(samples, sample_rate);
    cut(samples, &gaps);
    gaps
}

/// Removes the given ascending ranges from `samples` (a [`GapTracker`]'s gaps), in place (a
/// minute's recording is not held twice); parts of a range that overlap an earlier one or lie
/// past the end are ignored.
pub fn cut(samples: &mut Vec<f32>, gaps: &[Range<usize>]) {
    let len = samples.len();
    let (mut from, mut kept) = (0, 0);
    for gap in gaps {
        let start = gap.start.clamp(from, len);
        samples.copy_within(from..start, kept);
        kept += start - from;
        from = gap.end.clamp(start, len);
    }
    samples.copy_within(from..len, kept);
    samples.truncate(kept + len - from);
}

/// The [`gaps`] of a recording that arrives block by block: each sample is looked at once, so
/// a recorder can show the seconds of sound it holds after every block without rescanning
/// the whole recording (a minute at 48 kHz is 2.9 million samples).
#[derive(Debug, Clone)]
pub struct GapTracker {
    min_run: usize,
    /// Samples pushed so far.
    len: usize,
    /// Whether a sample that is not zero has come yet.
    heard: bool,
    /// Start of the run of zeros the recording ends in so far (after its first sound).
    run_start: Option<usize>,
    /// The leading silence and the dropouts that have ended.
    closed: Vec<Range<usize>>,
    /// Their total length.
    closed_len: usize,
}

impl GapTracker {
    /// An empty recording at `sample_rate`.
    pub fn new(sample_rate: u32) -> Self {
        Self {
            min_run: (sample_rate as usize / 1000).max(1),
            len: 0,
            heard: false,
            run_start: None,
            closed: Vec::new(),
            closed_len: 0,
        }
    }

    /// Takes the next block of the recording.
    pub fn push(&mut self, block: &[f32]) {
        for (i, &x) in (self.len..).zip(block) {
            if x == 0.0 {
                if self.heard && self.run_start.is_none() {
                    self.run_start = Some(i);
                }
                continue;
            }
            match (self.heard, self.run_start.take()) {
                (false, _) => {
                    self.heard = true;
                    if i > 0 {
                        self.close(0..i);
                    }
                }
                (true, Some(start)) if i - start >= self.min_run => self.close(start..i),
                _ => {}
            }
        }
        self.len += block.len();
    }

    fn close(&mut self, gap: Range<usize>) {
        self.closed_len += gap.len();
        self.closed.push(gap);
    }

    /// Samples pushed so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Samples that are sound, not gaps: what [`cut`] keeps.
    pub fn kept(&self) -> usize {
        let open = self.run_start.map_or(0, |start| self.len - start);
        self.len - self.closed_len - open
    }

    /// The gaps so far, in ascending order: the recording's zeros at its end count as silence
    /// after its last sound, however short, until a sound follows them.
    pub fn gaps(&self) -> Vec<Range<usize>> {
        let mut gaps = self.closed.clone();
        gaps.extend(self.run_start.map(|start| start..self.len));
        gaps
    }
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

    #[test]
    fn the_tracker_fed_block_by_block_finds_the_gaps_of_the_whole() {
        // Sound with leading and trailing silence, dropouts of every length around 1 ms at
        // 8 kHz (8 samples), and blocks of every size from 1 to 40, so that runs start and
        // end on block edges.
        let rate = 8000;
        let mut recording = vec![0.0; 5];
        let mut state = 1u32;
        for run in 0..30 {
            for _ in 0..37 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                recording.push((state >> 8) as f32 / 16_777_216.0 + 0.01);
            }
            recording.extend(std::iter::repeat_n(0.0, run % 12));
        }
        recording.extend([0.0; 3]);
        let whole = gaps(&recording, rate);
        // The leading silence, 8 dropouts of 8 to 11 zeros, the trailing silence.
        assert_eq!(whole.len(), 10, "{whole:?}");
        for block in 1..=40 {
            let mut tracker = GapTracker::new(rate);
            let mut seen = 0;
            for chunk in recording.chunks(block) {
                tracker.push(chunk);
                seen += chunk.len();
                let so_far = gaps(&recording[..seen], rate);
                assert_eq!(tracker.gaps(), so_far, "block {block}, at {seen}");
                let gap_len: usize = so_far.iter().map(ExactSizeIterator::len).sum();
                assert_eq!(tracker.kept(), seen - gap_len);
            }
            assert_eq!(tracker.len(), recording.len());
            assert_eq!(tracker.gaps(), whole);
        }
        // Cut in place: the samples outside every gap, in order.
        let outside: Vec<f32> = (0..recording.len())
            .filter(|i| !whole.iter().any(|g| g.contains(i)))
            .map(|i| recording[i])
            .collect();
        let mut removed = recording.clone();
        remove_gaps(&mut removed, rate);
        assert_eq!(removed, outside);
        assert_eq!(removed.len(), GapTracker::new(rate).tap(&recording).kept());
        // All zeros: no gaps (the quality check calls it silent), so nothing is cut; ranges
        // past the end or overlapping cut only what is there.
        let silent = GapTracker::new(rate).tap(&[0.0; 100]);
        assert!(silent.gaps().is_empty());
        assert_eq!(silent.kept(), 100);
        let mut short = vec![1.0, 2.0, 3.0, 4.0];
        cut(&mut short, &[1..2, 1..3, 3..9, 20..30]);
        assert_eq!(short, [1.0]);
    }

    impl GapTracker {
        fn tap(mut self, samples: &[f32]) -> Self {
            self.push(samples);
            self
        }
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
