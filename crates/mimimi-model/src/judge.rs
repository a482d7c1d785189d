//! Judging a clip: the one place where what was computed from a clip ([`Evidence`]) becomes a
//! score and a [`Verdict`], against a machine ID the model was trained on (by the manifest's
//! [`ScoreRule`]) or an enrolled machine (by its [`Profile`]). The trainer's `score` and
//! `eval` and the page all come here.
//!
//! A verdict says how sure it is: its margin from the threshold in units of the normal spread
//! (for the combined score), and how many windows lie on the same side of the threshold as
//! the clip. It may also be "cannot tell": when the clip's spectral envelope lies farther
//! from the machine's normal one than any normal clip came ([`UNFAMILIAR_MIN_DB`]), the sound
//! is not the machine the model or the profile knows (another machine, a covered microphone),
//! and calling it normal or anomalous would be a guess.

use crate::clip_gaussian::ClipGaussianError;
use crate::combined::{ClipRows, Combined, CombinedError, Member};
use crate::file::{IdError, Manifest};
use crate::profile::{Profile, ProfileError};
use crate::rule::{Needs, ScoreRule};
use crate::score::ClipScore;
use serde::{Deserialize, Serialize};

/// Smallest spectral-envelope deviation (dB, root mean square over the bands) that makes a
/// clip unfamiliar, whatever the normal clips' own spread: a machine's faults add or remove
/// sound in some bands (a few dB over the envelope); a different sound reshapes all of it.
pub const UNFAMILIAR_MIN_DB: f64 = 6.0;

/// Normal spreads beyond the normal clips' mean envelope deviation that make a clip
/// unfamiliar (when that is more than [`UNFAMILIAR_MIN_DB`]).
pub const UNFAMILIAR_SPREADS: f64 = 6.0;

/// What a clip is judged against.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A machine ID the model was trained on.
    Id(String),
    /// An enrolled machine.
    Enrolled(Box<Profile>),
}

/// What was computed from a clip for a judgement ([`Target::needs`] says what).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Each needed member's vector per window.
    pub rows: ClipRows,
    /// The cross-entropy of each window, where the rule scores by it.
    pub cross_entropy: Vec<f64>,
    /// The total head's logits summed over the windows, where asked ([`Needs::classify`]).
    pub logit_sums: Vec<f64>,
}

impl Evidence {
    /// The class the total head picks for the clip: the largest mean logit.
    pub fn picked(&self) -> Option<usize> {
        (0..self.logit_sums.len())
            .max_by(|&a, &b| self.logit_sums[a].total_cmp(&self.logit_sums[b]))
    }
}

/// Why a clip could not be judged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JudgeError {
    /// The machine ID does not belong to the model, or has no threshold.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The profile was made with another model.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The clip's values do not fit the combined score (another model's, or incomplete).
    #[error(transparent)]
    Combined(#[from] CombinedError),
    /// The clip's features do not fit the clip Gaussians.
    #[error(transparent)]
    ClipGaussians(#[from] ClipGaussianError),
    /// The manifest has no combined score for a machine ID it knows.
    #[error("the model has no combined score for machine ID {0:?}")]
    NoScoreFor(String),
    /// The evidence lacks what the rule scores by.
    #[error("the clip has no {0} values")]
    Missing(&'static str),
    /// The score is not a number: an error, never a verdict.
    #[error("the score is not a finite number ({0}): the model or the profile is damaged")]
    NotFinite(f64),
}

/// The call a verdict makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// The score is at or below the threshold.
    Normal,
    /// The score is above the threshold.
    Anomalous,
    /// The clip is not the sound the model or the profile knows.
    CannotTell,
}

/// Normal, anomalous or cannot tell, with the numbers that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The clip's score.
    pub score: f64,
    /// The decision threshold.
    pub threshold: f64,
    /// The call.
    pub call: Call,
    /// The spread of normal clips' scores, where the rule knows it (the combined score): the
    /// unit of [`Verdict::margin`].
    pub spread: Option<f64>,
    /// Windows whose score lies on the same side of the threshold as the clip's.
    pub windows_agreeing: usize,
    /// Windows scored.
    pub windows: usize,
    /// How far the clip's spectral envelope lies from the machine's (dB), and the deviation
    /// beyond which it is unfamiliar, where the rule measures it.
    pub envelope: Option<(f64, f64)>,
}

impl Verdict {
    /// The verdict for a clip score against `threshold`. A score or threshold that is not a
    /// finite number is an error, never "normal".
    pub fn new(
        score: &ClipScore,
        threshold: f64,
        spread: Option<f64>,
        envelope: Option<(f64, f64)>,
    ) -> Result<Self, JudgeError> {
        for v in std::iter::once(score.score)
            .chain([threshold])
            .chain(score.window_scores.iter().copied())
        {
            if !v.is_finite() {
                return Err(JudgeError::NotFinite(v));
            }
        }
        if let Some(s) = spread.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(JudgeError::NotFinite(s));
        }
        let anomalous = score.score > threshold;
        let call = match envelope {
            Some((deviation, limit)) if deviation > limit => Call::CannotTell,
            _ if anomalous => Call::Anomalous,
            _ => Call::Normal,
        };
        Ok(Self {
            score: score.score,
            threshold,
            call,
            spread,
            windows_agreeing: score
                .window_scores
                .iter()
                .filter(|&&w| (w > threshold) == anomalous)
                .count(),
            windows: score.window_scores.len(),
            envelope,
        })
    }

    /// Whether the call is anomalous.
    pub fn anomalous(&self) -> bool {
        self.call == Call::Anomalous
    }

    /// `(score − threshold)` in units of the normal spread, where the rule knows it.
    pub fn margin(&self) -> Option<f64> {
        self.spread.map(|s| (self.score - self.threshold) / s)
    }
}

/// A clip's score and verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The score and each window's part of it.
    pub score: ClipScore,
    /// The verdict.
    pub verdict: Verdict,
}

impl Target {
    /// An error unless the target belongs to the model `manifest` describes.
    pub fn check(&self, manifest: &Manifest) -> Result<(), JudgeError> {
        match self {
            Target::Id(id) => {
                manifest.threshold_of(id)?;
                Ok(())
            }
            Target::Enrolled(p) => Ok(p.usable_with(&manifest.weights.sha256)?),
        }
    }

    /// What judging a clip against this target needs computed.
    pub fn needs(&self, manifest: &Manifest) -> Needs {
        match self {
            Target::Id(id) => manifest.score_rule.needs(id),
            Target::Enrolled(p) => Needs::of_members(&p.detector.needs()),
        }
    }

    /// "fan · ID 02", "pump · Hall B (enrolled)".
    pub fn describe(&self, manifest: &Manifest) -> String {
        match self {
            Target::Id(id) => format!("{} · ID {id}", manifest.machine_type),
            Target::Enrolled(p) => format!("{} · {} (enrolled)", p.machine_type, p.name),
        }
    }
}

/// The envelope deviation of a clip and the limit beyond which it is unfamiliar.
fn envelope(c: &Combined, rows: &ClipRows) -> Option<(f64, f64)> {
    let deviation = c.envelope_deviation(rows)?;
    let normal = c.envelope?;
    Some((
        deviation,
        (normal.mean + UNFAMILIAR_SPREADS * normal.std).max(UNFAMILIAR_MIN_DB),
    ))
}

/// The rows of network layers concatenated in the order an embedding of `layers` has them.
fn embedding_rows(
    rows: &ClipRows,
    layers: &[crate::embedding::Layer],
) -> Result<Vec<Vec<f32>>, JudgeError> {
    let parts = layers
        .iter()
        .map(|&l| {
            rows.get(&Member::Network(l))
                .ok_or(CombinedError::Missing(Member::Network(l)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let windows = parts.first().map_or(0, |p| p.len());
    Ok((0..windows)
        .map(|w| parts.iter().flat_map(|p| p[w].iter().copied()).collect())
        .collect())
}

/// A clip's score against `target` and what its verdict needs besides the threshold: the
/// normal spread and the envelope check, where the rule has them.
struct Scored {
    score: ClipScore,
    spread: Option<f64>,
    envelope: Option<(f64, f64)>,
}

fn scored(manifest: &Manifest, target: &Target, evidence: &Evidence) -> Result<Scored, JudgeError> {
    let combined = |c: &Combined| -> Result<Scored, JudgeError> {
        Ok(Scored {
            score: ClipScore::from_windows(c.window_scores(&evidence.rows)?),
            spread: Some(c.normal.std),
            envelope: envelope(c, &evidence.rows),
        })
    };
    let plain = |windows| Scored {
        score: ClipScore::from_windows(windows),
        spread: None,
        envelope: None,
    };
    match target {
        Target::Enrolled(p) => {
            p.usable_with(&manifest.weights.sha256)?;
            combined(&p.detector)
        }
        Target::Id(id) => {
            manifest.class_of(id)?;
            match &manifest.score_rule {
                ScoreRule::CrossEntropy { .. } if evidence.cross_entropy.is_empty() => {
                    Err(JudgeError::Missing("cross-entropy"))
                }
                ScoreRule::CrossEntropy { .. } => Ok(plain(evidence.cross_entropy.clone())),
                ScoreRule::ClipGaussians(g) => {
                    let rows = embedding_rows(&evidence.rows, &g.embedding.layers)?;
                    Ok(plain(g.window_scores(id, &rows)?))
                }
                ScoreRule::Combined { ids } => combined(
                    ids.get(id)
                        .ok_or_else(|| JudgeError::NoScoreFor(id.clone()))?,
                ),
            }
        }
    }
}

/// A clip's score against `target` by its rule, without a verdict (what sets thresholds).
pub fn score(
    manifest: &Manifest,
    target: &Target,
    evidence: &Evidence,
) -> Result<ClipScore, JudgeError> {
    let s = scored(manifest, target, evidence)?.score;
    let bad = s
        .window_scores
        .iter()
        .chain([&s.score])
        .copied()
        .find(|v| !v.is_finite());
    match bad {
        Some(v) => Err(JudgeError::NotFinite(v)),
        None => Ok(s),
    }
}

/// Judges a clip's evidence against `target` of the model `manifest` describes.
pub fn judge(
    manifest: &Manifest,
    target: &Target,
    evidence: &Evidence,
) -> Result<Judgement, JudgeError> {
    let threshold = match target {
        Target::Id(id) => manifest.threshold_of(id)?,
        Target::Enrolled(p) => p.threshold,
    };
    let Scored {
        score,
        spread,
        envelope,
    } = scored(manifest, target, evidence)?;
    let verdict = Verdict::new(&score, threshold, spread, envelope)?;
    Ok(Judgement { score, verdict })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(windows: &[f64]) -> ClipScore {
        ClipScore::from_windows(windows.to_vec())
    }

    #[test]
    fn a_verdict_says_how_sure_it_is() {
        let v = Verdict::new(&score(&[3.0, 5.0, 1.0]), 2.0, Some(0.5), None).unwrap();
        assert_eq!(v.call, Call::Anomalous);
        assert!((v.margin().unwrap() - 2.0).abs() < 1e-12, "(3 − 2) / 0.5");
        assert_eq!((v.windows_agreeing, v.windows), (2, 3));
        let v = Verdict::new(&score(&[1.0, 1.5]), 2.0, None, None).unwrap();
        assert_eq!(v.call, Call::Normal);
        assert_eq!((v.windows_agreeing, v.margin()), (2, None));
    }

    #[test]
    fn an_unfamiliar_clip_cannot_be_told() {
        let v = Verdict::new(&score(&[9.0]), 2.0, Some(1.0), Some((14.0, 6.0))).unwrap();
        assert_eq!(v.call, Call::CannotTell);
        assert!(!v.anomalous());
        let v = Verdict::new(&score(&[9.0]), 2.0, Some(1.0), Some((3.0, 6.0))).unwrap();
        assert_eq!(v.call, Call::Anomalous);
    }

    #[test]
    fn a_score_that_is_not_a_number_is_an_error_not_normal() {
        for bad in [f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Verdict::new(&score(&[bad]), 2.0, None, None),
                Err(JudgeError::NotFinite(_))
            ));
            assert!(Verdict::new(&score(&[1.0]), bad, None, None).is_err());
        }
        // One window's NaN is an error even when the mean would hide nothing: it is NaN too.
        assert!(Verdict::new(&score(&[1.0, f64::NAN]), 2.0, None, None).is_err());
    }
}
