//! An enrolled machine: the normal sound of one real unit, learnt on the device from a few
//! takes, without retraining the network.
//!
//! A profile is a combined score ([`crate::combined`]) fitted to the takes: each member's
//! Gaussian on every window of every take, each member's normal spread from the takes left
//! out one at a time, and the threshold at the rule's percentile of the combined score of
//! those left-out takes ([`Combined::enroll`]). A clip's score is then in units of the
//! machine's own normal spread, like a trained ID's combined score, so the page shows both
//! the same way.

use crate::combined::{ClipRows, Combined, CombinedError, Member};
use crate::threshold::ThresholdRule;
use serde::{Deserialize, Serialize};

/// Version of the profile format; a reader refuses others.
pub const PROFILE_FORMAT: u32 = 2;

/// Fewest enrollment takes: the leave-one-out spreads need several.
pub const MIN_CLIPS: usize = 3;

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
    /// The fitted detector.
    pub detector: Combined,
    /// Decision threshold on the clip score.
    pub threshold: f64,
    /// The rule that set it.
    pub threshold_rule: ThresholdRule,
    /// Number of takes it was made from.
    pub takes: usize,
    /// Number of windows in them.
    pub windows: usize,
    /// When it was made (ISO 8601, from the caller's clock).
    pub created: String,
}

/// What a new profile needs besides its takes.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The user's name for the machine.
    pub name: String,
    /// Machine type of the model.
    pub machine_type: String,
    /// sha256 of the model's weights.
    pub model_sha256: String,
    /// The detectors to combine.
    pub members: Vec<Member>,
    /// Threshold rule.
    pub rule: ThresholdRule,
    /// ISO 8601 time stamp.
    pub created: String,
}

impl Enrollment {
    /// Builds the profile from each take's window vectors.
    pub fn fit(self, takes: &[ClipRows]) -> Result<Profile, ProfileError> {
        if takes.len() < MIN_CLIPS {
            return Err(ProfileError::TooFewTakes(takes.len()));
        }
        let detector = Combined::enroll(&self.members, takes)?;
        let windows = takes
            .iter()
            .map(|t| t.values().next().map_or(0, Vec::len))
            .sum();
        Ok(Profile {
            format_version: PROFILE_FORMAT,
            name: self.name,
            machine_type: self.machine_type,
            model_sha256: self.model_sha256,
            threshold: detector.threshold(&self.rule),
            detector,
            threshold_rule: self.rule,
            takes: takes.len(),
            windows,
            created: self.created,
        })
    }
}

/// Why a profile cannot be made, read or used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// Fewer takes than [`MIN_CLIPS`].
    #[error("enrollment needs at least {MIN_CLIPS} takes, got {0}")]
    TooFewTakes(usize),
    /// The takes give no usable detector.
    #[error(transparent)]
    Enroll(#[from] CombinedError),
    /// Made with other weights than the model's.
    #[error(
        "profile \"{name}\" was made with another {machine_type} model (weights {profile}…, this one {model}…): enroll the machine again"
    )]
    OtherModel {
        /// The profile's name.
        name: String,
        /// Its machine type.
        machine_type: String,
        /// The start of the weights hash it was made with.
        profile: String,
        /// The start of the model's weights hash.
        model: String,
    },
    /// Not JSON of a profile's shape.
    #[error("not a Mimimi profile: {0}")]
    NotAProfile(String),
    /// Written in another format version.
    #[error(
        "profile \"{name}\" has format {found}, this version of Mimimi reads {PROFILE_FORMAT}: rebuild it from its kept takes, or enroll the machine again"
    )]
    Format {
        /// The profile's name.
        name: String,
        /// Its format version.
        found: u32,
    },
    /// Stored values that cannot be right.
    #[error("profile \"{name}\" is damaged: {damage}")]
    Damaged {
        /// The profile's name.
        name: String,
        /// What is wrong.
        damage: Damage,
    },
}

/// What is wrong with a damaged profile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Damage {
    /// Its fields do not parse.
    #[error("{0}")]
    Fields(String),
    /// Its detector's values.
    #[error(transparent)]
    Detector(#[from] CombinedError),
    /// Its threshold.
    #[error("its threshold {0} is not usable")]
    Threshold(f64),
}

impl Profile {
    /// An error unless this profile was made with the model whose weights hash to
    /// `model_sha256`.
    pub fn usable_with(&self, model_sha256: &str) -> Result<(), ProfileError> {
        if self.model_sha256 != model_sha256 {
            let start = |h: &str| h.get(..12).unwrap_or(h).to_string();
            return Err(ProfileError::OtherModel {
                name: self.name.clone(),
                machine_type: self.machine_type.clone(),
                profile: start(&self.model_sha256),
                model: start(model_sha256),
            });
        }
        Ok(())
    }

    /// An error unless every stored value is usable: a profile read from a file or from the
    /// device's storage may be damaged, and a damaged one must not judge.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let damaged = |damage| ProfileError::Damaged {
            name: self.name.clone(),
            damage,
        };
        self.detector
            .validate()
            .map_err(|e| damaged(Damage::Detector(e)))?;
        if !self.threshold.is_finite() || self.threshold.abs() > 1e6 {
            return Err(damaged(Damage::Threshold(self.threshold)));
        }
        Ok(())
    }

    /// Parses and validates a profile from JSON; a profile of another format version gets
    /// its own message.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ProfileError> {
        #[derive(Deserialize)]
        struct Head {
            format_version: u32,
            #[serde(default)]
            name: String,
        }
        let head: Head =
            serde_json::from_slice(bytes).map_err(|e| ProfileError::NotAProfile(e.to_string()))?;
        if head.format_version != PROFILE_FORMAT {
            return Err(ProfileError::Format {
                name: head.name,
                found: head.format_version,
            });
        }
        let profile: Profile =
            serde_json::from_slice(bytes).map_err(|e| ProfileError::Damaged {
                name: head.name,
                damage: Damage::Fields(e.to_string()),
            })?;
        profile.validate()?;
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mimimi_dsp::Descriptor;

    /// A take of 9 windows of the modulation descriptor's width around `centre`.
    fn take(centre: f32, seed: u64) -> ClipRows {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let m = Member::Descriptor(Descriptor::Modulation);
        let rows = (0..9)
            .map(|_| {
                (0..m_dim())
                    .map(|i| (i % 7) as f32 + centre + next())
                    .collect()
            })
            .collect();
        [(m, rows)].into_iter().collect()
    }

    fn m_dim() -> usize {
        Descriptor::Modulation.dim()
    }

    fn enrollment() -> Enrollment {
        Enrollment {
            name: "pump 3".into(),
            machine_type: "pump".into(),
            model_sha256: "ab".repeat(32),
            members: vec![Member::Descriptor(Descriptor::Modulation)],
            rule: ThresholdRule::default(),
            created: "2026-12-01T00:00:00Z".into(),
        }
    }

    fn score(p: &Profile, t: &ClipRows) -> f64 {
        let w = p.detector.window_scores(t).unwrap();
        w.iter().sum::<f64>() / w.len() as f64
    }

    #[test]
    fn normal_takes_pass_and_shifted_takes_fail() {
        let takes: Vec<_> = (0..6).map(|s| take(0.0, s)).collect();
        let profile = enrollment().fit(&takes).unwrap();
        assert_eq!((profile.takes, profile.windows), (6, 54));
        assert!(score(&profile, &take(0.0, 99)) < profile.threshold);
        assert!(score(&profile, &take(1.5, 99)) > profile.threshold);
    }

    #[test]
    fn too_few_takes_and_another_model_are_refused() {
        let takes: Vec<_> = (0..2).map(|s| take(0.0, s)).collect();
        assert!(enrollment().fit(&takes).is_err());
        let takes: Vec<_> = (0..4).map(|s| take(0.0, s)).collect();
        let profile = enrollment().fit(&takes).unwrap();
        assert!(profile.usable_with(&"ab".repeat(32)).is_ok());
        let e = profile.usable_with(&"cd".repeat(32)).unwrap_err();
        assert!(
            matches!(&e, ProfileError::OtherModel { model, .. } if model == &"cd".repeat(6)),
            "{e}"
        );
        assert!(e.to_string().contains("another pump model"), "{e}");
    }

    #[test]
    fn json_round_trip_keeps_every_score_and_damage_is_refused() {
        let takes: Vec<_> = (0..4).map(|s| take(0.0, s)).collect();
        let profile = enrollment().fit(&takes).unwrap();
        let json = serde_json::to_value(&profile).unwrap();
        let back = Profile::from_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(back, profile);
        assert!(Profile::from_json(b"{\"name\": 1}").is_err());
        // An older format is named as such.
        let mut old = json.clone();
        old["format_version"] = 1.into();
        let e = Profile::from_json(old.to_string().as_bytes()).unwrap_err();
        assert!(matches!(e, ProfileError::Format { found: 1, .. }), "{e}");
        assert!(e.to_string().contains("rebuild"), "{e}");
        // A threshold that reads "normal" for every clip, a spread of zero, a cut factor.
        for (path, value) in [
            ("/threshold", serde_json::json!(1e308)),
            ("/detector/normal/std", serde_json::json!(0.0)),
            ("/detector/members/0/normal/mean", serde_json::json!(null)),
            (
                "/detector/members/0/gaussian/chol_lower",
                serde_json::json!("AAAA"),
            ),
        ] {
            let mut damaged = json.clone();
            *damaged.pointer_mut(path).unwrap() = value;
            let e = Profile::from_json(damaged.to_string().as_bytes()).unwrap_err();
            assert!(matches!(e, ProfileError::Damaged { .. }), "{path}: {e}");
        }
    }
}
