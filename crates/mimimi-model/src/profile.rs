//! An enrolled machine: the normal sound of one real unit, learnt on the device from a few
//! clips, without retraining the network.
//!
//! Enrollment embeds every window of every clip ([`crate::embedding`]) and fits a detector to
//! those vectors. A window's score is its distance from the machine's normal sound (divided by
//! the dimension, about 1 for a typical window); a clip's score is the mean over its windows,
//! like the network's score, so the page shows both the same way. The threshold comes from the
//! enrollment clips themselves: each clip is scored by a detector fitted on the other clips
//! (leave one clip out), and [`ThresholdRule`] is applied to those scores.
//!
//! Two detectors were measured with `trainer enroll-eval` on machines the network never heard
//! (README, "Enrolling a new machine"): a Gaussian with an OAS-shrunk covariance (Mahalanobis
//! distance) and the nearest enrollment window after scaling each value by its spread.

use crate::embedding::EmbeddingSpec;
use crate::gaussian::Gaussian;
use crate::threshold::ThresholdRule;
use serde::{Deserialize, Serialize};

/// Version of the profile format; a reader refuses others.
pub const PROFILE_FORMAT: u32 = 1;

/// Fewest enrollment clips: the leave-one-out threshold needs a spread of several scores.
pub const MIN_CLIPS: usize = 3;

/// How a profile scores a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Squared Mahalanobis distance from a shrinkage Gaussian.
    Gaussian,
    /// Squared distance to the nearest enrollment window, each value scaled by its spread.
    Nearest,
}

impl Method {
    /// Every method, for measurements.
    pub const ALL: [Method; 2] = [Method::Gaussian, Method::Nearest];

    /// The method chosen by measurement (README, "Enrolling a new machine"): with block-5
    /// features the Gaussian's mean AUC over the types beat the nearest window's at every K
    /// (0.844/0.860/0.871 against 0.826/0.829/0.860 for K = 5/10/30), and it stores a d × d
    /// matrix instead of every enrollment window.
    pub const CHOSEN: Method = Method::Gaussian;

    /// Name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Gaussian => "gaussian",
            Method::Nearest => "nearest",
        }
    }
}

/// A fitted detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// See [`Method::Gaussian`].
    Gaussian(Gaussian),
    /// See [`Method::Nearest`].
    Nearest {
        /// Per-value scale (the enrollment windows' standard deviation, floored).
        scale: Vec<f64>,
        /// The enrollment windows.
        rows: Vec<Vec<f32>>,
    },
}

impl Detector {
    /// Fits `method` to the windows `rows`.
    pub fn fit(method: Method, rows: &[Vec<f32>]) -> Result<Self, String> {
        match method {
            Method::Gaussian => Gaussian::fit(rows).map(Detector::Gaussian),
            Method::Nearest => {
                let d = rows.first().map_or(0, Vec::len);
                if rows.len() < 2 || d == 0 || rows.iter().any(|r| r.len() != d) {
                    return Err(
                        "nearest-window scoring needs at least 2 vectors of one length".into(),
                    );
                }
                let n = rows.len() as f64;
                let scale = (0..d)
                    .map(|j| {
                        let mean = rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n;
                        let var = rows
                            .iter()
                            .map(|r| (f64::from(r[j]) - mean).powi(2))
                            .sum::<f64>()
                            / n;
                        var.sqrt().max(1e-3)
                    })
                    .collect();
                Ok(Detector::Nearest {
                    scale,
                    rows: rows.to_vec(),
                })
            }
        }
    }

    /// The score of one window: its squared distance divided by the dimension.
    pub fn window_score(&self, x: &[f32]) -> f64 {
        match self {
            Detector::Gaussian(g) => g.mahalanobis2(x) / g.dim() as f64,
            Detector::Nearest { scale, rows } => {
                let nearest = rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .zip(x)
                            .zip(scale)
                            .map(|((a, b), s)| ((f64::from(*a) - f64::from(*b)) / s).powi(2))
                            .sum::<f64>()
                    })
                    .fold(f64::INFINITY, f64::min);
                nearest / scale.len() as f64
            }
        }
    }
}

/// An enrolled machine, as stored on the device and in exported files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// [`PROFILE_FORMAT`] of the writer.
    pub format_version: u32,
    /// The user's name for the machine.
    pub name: String,
    /// Machine type of the model it was made with.
    pub machine_type: String,
    /// sha256 of that model's weights: a profile only means something with the same network.
    pub model_sha256: String,
    /// The network features it models.
    pub embedding: EmbeddingSpec,
    /// The fitted detector.
    pub detector: Detector,
    /// Decision threshold on the clip score.
    pub threshold: f64,
    /// The rule applied to the leave-one-out scores.
    pub threshold_rule: ThresholdRule,
    /// Each enrollment clip's score against the other clips (leave one out).
    pub enrollment_scores: Vec<f64>,
    /// Number of enrollment windows.
    pub windows: usize,
    /// When it was made (ISO 8601, from the caller's clock).
    pub created: String,
}

/// What a new profile needs besides its clips.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The user's name for the machine.
    pub name: String,
    /// Machine type of the model.
    pub machine_type: String,
    /// sha256 of the model's weights.
    pub model_sha256: String,
    /// Features to model.
    pub embedding: EmbeddingSpec,
    /// Detector to fit.
    pub method: Method,
    /// Threshold rule.
    pub rule: ThresholdRule,
    /// ISO 8601 time stamp.
    pub created: String,
}

/// Mean window score of a clip.
fn clip_score(detector: &Detector, windows: &[Vec<f32>]) -> f64 {
    windows
        .iter()
        .map(|w| detector.window_score(w))
        .sum::<f64>()
        / windows.len().max(1) as f64
}

impl Enrollment {
    /// Builds the profile from the window embeddings of each enrollment clip.
    pub fn fit(self, clips: &[Vec<Vec<f32>>]) -> Result<Profile, String> {
        if clips.len() < MIN_CLIPS {
            return Err(format!(
                "enrollment needs at least {MIN_CLIPS} clips, got {}",
                clips.len()
            ));
        }
        if clips.iter().any(Vec::is_empty) {
            return Err("an enrollment clip has no windows".into());
        }
        let mut loo = Vec::with_capacity(clips.len());
        for held in 0..clips.len() {
            let rows: Vec<Vec<f32>> = clips
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != held)
                .flat_map(|(_, c)| c.iter().cloned())
                .collect();
            loo.push(clip_score(
                &Detector::fit(self.method, &rows)?,
                &clips[held],
            ));
        }
        let threshold = self.rule.threshold(&loo).ok_or(
            "the enrollment clips score identically: record the machine for longer, at several moments",
        )?;
        let rows: Vec<Vec<f32>> = clips.iter().flatten().cloned().collect();
        Ok(Profile {
            format_version: PROFILE_FORMAT,
            name: self.name,
            machine_type: self.machine_type,
            model_sha256: self.model_sha256,
            embedding: self.embedding,
            detector: Detector::fit(self.method, &rows)?,
            threshold,
            threshold_rule: self.rule,
            enrollment_scores: loo,
            windows: rows.len(),
            created: self.created,
        })
    }
}

impl Profile {
    /// The score of each window of a clip.
    pub fn window_scores(&self, windows: &[Vec<f32>]) -> Vec<f64> {
        windows
            .iter()
            .map(|w| self.detector.window_score(w))
            .collect()
    }

    /// An error unless this profile was made with the model whose weights hash to
    /// `model_sha256` and in a format this code reads.
    pub fn usable_with(&self, model_sha256: &str) -> Result<(), String> {
        if self.format_version != PROFILE_FORMAT {
            return Err(format!(
                "profile \"{}\" has format {}, this version reads {PROFILE_FORMAT}",
                self.name, self.format_version
            ));
        }
        if self.model_sha256 != model_sha256 {
            return Err(format!(
                "profile \"{}\" was made with another {} model (weights {}…, this one {}…): enroll the machine again",
                self.name,
                self.machine_type,
                self.model_sha256.get(..12).unwrap_or(&self.model_sha256),
                model_sha256.get(..12).unwrap_or(model_sha256)
            ));
        }
        Ok(())
    }

    /// Parses a profile from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a Mimimi profile: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows around `centre` with a pseudo-random spread (xorshift, seeded).
    fn clip(centre: f32, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        (0..9)
            .map(|_| (0..6).map(|_| centre + next()).collect())
            .collect()
    }

    fn enrollment(method: Method) -> Enrollment {
        Enrollment {
            name: "pump 3".into(),
            machine_type: "pump".into(),
            model_sha256: "ab".repeat(32),
            embedding: EmbeddingSpec::default(),
            method,
            rule: ThresholdRule::default(),
            created: "2026-11-30T00:00:00Z".into(),
        }
    }

    #[test]
    fn normal_clips_pass_and_shifted_clips_fail_with_either_method() {
        let clips: Vec<_> = (0..6).map(|s| clip(0.0, s)).collect();
        for method in Method::ALL {
            let profile = enrollment(method).fit(&clips).unwrap();
            assert_eq!(profile.enrollment_scores.len(), 6);
            assert_eq!(profile.windows, 54);
            let normal = clip_score(&profile.detector, &clip(0.0, 99));
            let shifted = clip_score(&profile.detector, &clip(1.5, 99));
            assert!(
                normal < profile.threshold,
                "{method:?}: {normal} vs {}",
                profile.threshold
            );
            assert!(shifted > profile.threshold, "{method:?}: {shifted}");
        }
    }

    #[test]
    fn too_few_clips_and_another_model_are_refused() {
        let clips: Vec<_> = (0..2).map(|s| clip(0.0, s)).collect();
        assert!(enrollment(Method::Gaussian).fit(&clips).is_err());
        let clips: Vec<_> = (0..4).map(|s| clip(0.0, s)).collect();
        let profile = enrollment(Method::Gaussian).fit(&clips).unwrap();
        assert!(profile.usable_with(&"ab".repeat(32)).is_ok());
        let e = profile.usable_with(&"cd".repeat(32)).unwrap_err();
        assert!(e.contains("another pump model"), "{e}");
    }

    #[test]
    fn json_round_trip_keeps_every_score() {
        let clips: Vec<_> = (0..4).map(|s| clip(0.0, s)).collect();
        let profile = enrollment(Method::Gaussian).fit(&clips).unwrap();
        let json = serde_json::to_vec(&profile).unwrap();
        let back = Profile::from_json(&json).unwrap();
        assert_eq!(back, profile);
        assert!(Profile::from_json(b"{\"name\": 1}").is_err());
    }
}
