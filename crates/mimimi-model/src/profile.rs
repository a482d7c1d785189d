//! An enrolled machine: the normal sound of one real unit, learnt on the device from a few
//! takes, without retraining the network.
//!
//! A profile is a combined score ([`crate::combined`]) fitted to the takes: each member's
//! Gaussian on every window of every take, each member's normal spread from the takes left
//! out one at a time, and the threshold at the rule's percentile of the combined score of
//! those left-out takes ([`Combined::enroll`]). A clip's score is then in units of the
//! machine's own normal spread, like a trained ID's combined score, so the page shows both
//! the same way.

use crate::combined::{ClipRows, Combined, Member};
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
    pub fn fit(self, takes: &[ClipRows]) -> Result<Profile, String> {
        if takes.len() < MIN_CLIPS {
            return Err(format!(
                "enrollment needs at least {MIN_CLIPS} takes, got {}",
                takes.len()
            ));
        }
        let detector = Combined::enroll(&self.members, takes).map_err(|e| e.to_string())?;
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

impl Profile {
    /// An error unless this profile was made with the model whose weights hash to
    /// `model_sha256`.
    pub fn usable_with(&self, model_sha256: &str) -> Result<(), String> {
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

    /// An error unless every stored value is usable: a profile read from a file or from the
    /// device's storage may be damaged, and a damaged one must not judge.
    pub fn validate(&self) -> Result<(), String> {
        let named = |e: String| format!("profile \"{}\" is damaged: {e}", self.name);
        self.detector.validate().map_err(|e| named(e.to_string()))?;
        if !self.threshold.is_finite() || self.threshold.abs() > 1e6 {
            return Err(named(format!(
                "its threshold {} is not usable",
                self.threshold
            )));
        }
        Ok(())
    }

    /// Parses and validates a profile from JSON; a profile of another format version gets
    /// its own message.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Head {
            format_version: u32,
            #[serde(default)]
            name: String,
        }
        let head: Head =
            serde_json::from_slice(bytes).map_err(|e| format!("not a Mimimi profile: {e}"))?;
        if head.format_version != PROFILE_FORMAT {
            return Err(format!(
                "profile \"{}\" has format {}, this version of Mimimi reads {PROFILE_FORMAT}: rebuild it from its kept takes, or enroll the machine again",
                head.name, head.format_version
            ));
        }
        let profile: Profile = serde_json::from_slice(bytes)
            .map_err(|e| format!("profile \"{}\" is damaged: {e}", head.name))?;
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
        assert!(e.contains("another pump model"), "{e}");
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
        assert!(e.contains("format 1") && e.contains("rebuild"), "{e}");
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
            assert!(e.contains("damaged"), "{path}: {e}");
        }
    }
}
