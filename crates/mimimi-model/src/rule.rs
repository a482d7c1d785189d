//! How a clip is scored against a machine ID the model was trained on: the rule a manifest
//! stores, and so what its thresholds apply to.

use crate::clip_gaussian::ClipGaussians;
use crate::combined::{Combined, Member};
use crate::embedding::{EmbeddingSpec, Layer};
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
#[derive(Debug, Clone, PartialEq, Default)]
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
    pub fn validate(&self, classes: &[String]) -> Result<(), String> {
        match self {
            ScoreRule::CrossEntropy { .. } => Ok(()),
            ScoreRule::ClipGaussians(g) => g.validate(classes),
            ScoreRule::Combined { ids } => {
                if let Some(id) = ids.keys().find(|id| !classes.contains(id)) {
                    return Err(format!(
                        "a combined score for machine ID {id:?}, which the model does not know"
                    ));
                }
                if let Some(id) = classes.iter().find(|c| !ids.contains_key(*c)) {
                    return Err(format!("no combined score for machine ID {id:?}"));
                }
                for (id, c) in ids {
                    c.validate().map_err(|e| format!("machine ID {id}: {e}"))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
