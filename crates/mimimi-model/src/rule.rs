//! How a clip is scored against a machine ID the model was trained on: the rule a manifest
//! stores, and so what its thresholds apply to.

use crate::clip_gaussian::ClipGaussians;
use crate::combined::{Combined, CombinedError, Member};
use crate::embedding::{EmbeddingSpec, Layer};
use crate::gaussian::GaussianError;
use crate::score::ScoreHeads;
use mimimi_dsp::Descriptor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The closed set of score rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScoreRule {
    /// The cross-entropy of the classifier's heads against the ID, averaged over the windows
    /// (the paper's and the reference's score; imported checkpoints).
    CrossEntropy {
        /// Which heads.
        heads: ScoreHeads,
    },
    /// The distance of the clip-averaged network features from the ID's Gaussian
    /// ([`crate::clip_gaussian`]).
    ClipGaussians(ClipGaussians),
    /// The combined score of several detectors per ID ([`crate::combined`]): what
    /// `trainer train` writes.
    Combined {
        /// The detector of each machine ID.
        ids: BTreeMap<String, Combined>,
    },
}

/// What a rule needs computed from a clip before it can be judged.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Needs {
    /// Network layers whose per-window features are needed (in [`Layer::ALL`] order).
    pub layers: Vec<Layer>,
    /// Hand-made descriptors needed per window.
    pub descriptors: Vec<Descriptor>,
    /// The cross-entropy of these heads, per window.
    pub cross_entropy: Option<ScoreHeads>,
    /// The class the total head picks for the clip (`trainer eval`'s accuracy).
    pub classify: bool,
}

impl Needs {
    /// What the members of a combined score need.
    pub fn of_members(members: &[Member]) -> Self {
        let mut needs = Needs::default();
        for m in members {
            match *m {
                Member::Network(l) => needs.layers.push(l),
                Member::Descriptor(d) => needs.descriptors.push(d),
            }
        }
        needs.layers.sort();
        needs.layers.dedup();
        needs.descriptors.sort();
        needs.descriptors.dedup();
        needs
    }

    /// The network layers as an embedding, if any are needed.
    pub fn embedding(&self) -> Option<EmbeddingSpec> {
        (!self.layers.is_empty()).then(|| EmbeddingSpec {
            layers: self.layers.clone(),
        })
    }

    /// Whether the network has to run at all.
    pub fn network(&self) -> bool {
        !self.layers.is_empty() || self.cross_entropy.is_some() || self.classify
    }
}

impl ScoreRule {
    /// What scoring a clip against machine ID `id` needs.
    pub fn needs(&self, id: &str) -> Needs {
        match self {
            ScoreRule::CrossEntropy { heads } => Needs {
                cross_entropy: Some(*heads),
                ..Needs::default()
            },
            ScoreRule::ClipGaussians(g) => Needs {
                layers: g.embedding.layers.clone(),
                ..Needs::default()
            },
            ScoreRule::Combined { ids } => ids
                .get(id)
                .map(|c| Needs::of_members(&c.needs()))
                .unwrap_or_default(),
        }
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            ScoreRule::CrossEntropy { heads } => {
                format!("cross-entropy ({heads:?} heads)").to_lowercase()
            }
            ScoreRule::ClipGaussians(g) => {
                format!("clip Gaussians of network:{}", g.embedding.name())
            }
            ScoreRule::Combined { ids } => {
                let members: Vec<String> = ids
                    .values()
                    .next()
                    .map(|c| c.needs().iter().map(|m| m.name()).collect())
                    .unwrap_or_default();
                format!("combined: {}", members.join(" + "))
            }
        }
    }

    /// An error unless the rule covers exactly the model's `classes` with sound values (the
    /// manifest is read from a file, so it can hold anything).
    pub fn validate(&self, classes: &[String]) -> Result<(), RuleError> {
        match self {
            ScoreRule::CrossEntropy { .. } => Ok(()),
            ScoreRule::ClipGaussians(g) => {
                covers(&g.ids, classes)?;
                let mut dim = None;
                for (id, g) in &g.ids {
                    g.validate().map_err(|source| RuleError::Gaussian {
                        id: id.clone(),
                        source,
                    })?;
                    if *dim.get_or_insert(g.dim()) != g.dim() {
                        return Err(RuleError::Dimensions);
                    }
                }
                Ok(())
            }
            ScoreRule::Combined { ids } => {
                covers(ids, classes)?;
                for (id, c) in ids {
                    c.validate().map_err(|source| RuleError::Combined {
                        id: id.clone(),
                        source,
                    })?;
                }
                Ok(())
            }
        }
    }
}

/// An error unless `ids` holds exactly the model's `classes`.
fn covers<T>(ids: &BTreeMap<String, T>, classes: &[String]) -> Result<(), RuleError> {
    if let Some(id) = ids.keys().find(|id| !classes.contains(id)) {
        return Err(RuleError::UnknownId(id.clone()));
    }
    match classes.iter().find(|c| !ids.contains_key(*c)) {
        Some(id) => Err(RuleError::MissingId(id.clone())),
        None => Ok(()),
    }
}

/// What makes a stored score rule unusable (a damaged or mismatched manifest).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// Values stored for an ID the model does not know.
    #[error("the score rule has values for machine ID {0:?}, which the model does not know")]
    UnknownId(String),
    /// No values for one of the model's IDs.
    #[error("the score rule has no values for machine ID {0:?}")]
    MissingId(String),
    /// A damaged clip Gaussian.
    #[error("machine ID {id}: {source}")]
    Gaussian {
        /// The ID.
        id: String,
        /// What is wrong with it.
        source: GaussianError,
    },
    /// Clip Gaussians of different dimensions.
    #[error("the clip Gaussians differ in dimension")]
    Dimensions,
    /// A damaged combined score.
    #[error("machine ID {id}: {source}")]
    Combined {
        /// The ID.
        id: String,
        /// What is wrong with it.
        source: CombinedError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_gaussians_must_cover_the_ids_with_sound_values() {
        let clips = |c: f32| -> Vec<Vec<Vec<f32>>> {
            (0..8)
                .map(|i| {
                    let v = |k: usize| c + ((i * k) % 5) as f32 * 0.3;
                    vec![vec![v(1), v(3), v(7)]]
                })
                .collect()
        };
        let by_id = BTreeMap::from([
            ("00".to_string(), clips(0.0)),
            ("02".to_string(), clips(2.0)),
        ]);
        let g = ClipGaussians::fit(EmbeddingSpec::parse("block5").unwrap(), &by_id).unwrap();
        let classes = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let rule = ScoreRule::ClipGaussians(g.clone());
        rule.validate(&classes(&["00", "02"])).unwrap();
        assert_eq!(
            rule.validate(&classes(&["00", "02", "04"])),
            Err(RuleError::MissingId("04".into()))
        );
        assert_eq!(
            rule.validate(&classes(&["00"])),
            Err(RuleError::UnknownId("02".into()))
        );
        let mut damaged = g;
        damaged.ids.get_mut("02").unwrap().mean.push(1.0);
        assert!(matches!(
            ScoreRule::ClipGaussians(damaged).validate(&classes(&["00", "02"])),
            Err(RuleError::Gaussian { id, source: GaussianError::FactorSize { .. } }) if id == "02"
        ));
    }

    #[test]
    fn needs_follow_the_rule() {
        let ce = ScoreRule::CrossEntropy {
            heads: ScoreHeads::Sum,
        };
        assert_eq!(ce.needs("00").cross_entropy, Some(ScoreHeads::Sum));
        assert!(ce.needs("00").network());
        let members = Member::parse_list("logmel+modulation").unwrap();
        let needs = Needs::of_members(&members);
        assert!(!needs.network(), "descriptors alone need no network");
        assert_eq!(
            needs.descriptors,
            [Descriptor::LogMel, Descriptor::Modulation]
        );
        let with_net =
            Needs::of_members(&Member::parse_list("network:fused+logmel+network:block5").unwrap());
        assert_eq!(with_net.embedding().unwrap().layers, Layer::ALL);
    }

    #[test]
    fn the_stored_form_names_the_kind() {
        let ce = ScoreRule::CrossEntropy {
            heads: ScoreHeads::Total,
        };
        let json = serde_json::to_value(&ce).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "cross_entropy", "heads": "total"})
        );
        assert_eq!(serde_json::from_value::<ScoreRule>(json).unwrap(), ce);
        assert!(serde_json::from_value::<ScoreRule>(serde_json::json!({"kind": "vibes"})).is_err());
    }
}
