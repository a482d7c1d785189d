//! A second way to score a clip against a machine ID the model was trained on: by the
//! network's features instead of its classifier. Each ID gets a Gaussian of the clip's
//! features averaged over its windows ([`crate::embedding`]); a clip's score is the Mahalanobis
//! distance of its own average from its ID's Gaussian, divided by the dimension.
//!
//! Why: on the synthetic pump the classifier's cross-entropy only tied the classical baseline,
//! while the same network's fused features, averaged over a clip (which cancels most of the
//! 0 dB background) and modelled per ID, ranked anomalies clearly better (measured in
//! docs/results/quality.md). A manifest that carries [`ClipGaussians`] is scored this way; one without is
//! scored by cross-entropy ([`crate::score::ScoreHeads`]).
//!
//! The clip score `(x̄ − μ)ᵀ Σ⁻¹ (x̄ − μ) / d` of the window features `x₁ … x_W` (mean `x̄`)
//! is exactly the mean of the window scores `(xᵢ − μ)ᵀ Σ⁻¹ (x̄ − μ) / d`: each window's share
//! of the clip's distance from normal. So the page's timeline and [`crate::ClipScore`] keep
//! their meaning (a window above the threshold pulls the clip towards "anomalous"); a window
//! that sounds more normal than the clip as a whole can score below zero.

use crate::embedding::EmbeddingSpec;
use crate::gaussian::{Gaussian, GaussianError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One Gaussian per machine ID of the clip-averaged network features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipGaussians {
    /// The layers whose features are averaged over a clip's windows.
    pub embedding: EmbeddingSpec,
    /// The Gaussian of each machine ID, fitted to its normal training clips. Stored packed
    /// (`packed`): their values are f32, so a manifest stays small.
    #[serde(with = "packed")]
    pub ids: BTreeMap<String, Gaussian>,
}

use crate::combined::{clip_mean, clip_mean_distance};

/// A machine ID whose clip means give no Gaussian.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("machine ID {id}: {source}")]
pub struct FitError {
    /// The ID.
    pub id: String,
    /// Why its Gaussian could not be fitted.
    pub source: GaussianError,
}

impl ClipGaussians {
    /// Fits each ID's Gaussian to the clip means of its clips; `clips[id]` holds, per clip,
    /// the features of each window.
    pub fn fit(
        embedding: EmbeddingSpec,
        clips: &BTreeMap<String, Vec<Vec<Vec<f32>>>>,
    ) -> Result<Self, FitError> {
        let mut ids = BTreeMap::new();
        for (id, windows_of_clips) in clips {
            let means: Vec<Vec<f32>> = windows_of_clips
                .iter()
                .map(|w| clip_mean(w).into_iter().map(|v| v as f32).collect())
                .collect();
            // Rounded to what the manifest stores, so that the scores that set the
            // thresholds are the scores of the saved model.
            let g = Gaussian::fit(&means)
                .map_err(|source| FitError {
                    id: id.clone(),
                    source,
                })?
                .rounded();
            ids.insert(id.clone(), g);
        }
        Ok(Self { embedding, ids })
    }

    /// The score of each window of a clip against machine ID `id` (their mean is the clip's
    /// score; module docs). Errors for an unknown ID or features of the wrong length.
    pub fn window_scores(
        &self,
        id: &str,
        windows: &[Vec<f32>],
    ) -> Result<Vec<f64>, ClipGaussianError> {
        let g = self
            .ids
            .get(id)
            .ok_or_else(|| ClipGaussianError::NoGaussianFor(id.to_string()))?;
        let expected = g.dim();
        if let Some(w) = windows.iter().find(|w| w.len() != expected) {
            return Err(ClipGaussianError::Width {
                got: w.len(),
                expected,
            });
        }
        Ok(clip_mean_distance(g, windows).1)
    }
}

/// Why a clip cannot be scored by the clip Gaussians.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClipGaussianError {
    /// No Gaussian is stored for the machine ID.
    #[error("no clip Gaussian for machine ID {0:?}")]
    NoGaussianFor(String),
    /// The network's features have another length than the Gaussians.
    #[error(
        "the network gives {got} features per window, the clip Gaussians expect {expected}: the manifest does not belong to these weights"
    )]
    Width {
        /// Features per window in the clip.
        got: usize,
        /// Features per window of the Gaussians.
        expected: usize,
    },
}

/// The stored form of the Gaussians: per ID, [`crate::gaussian::packed`].
mod packed {
    use crate::gaussian::{Gaussian, Packed};
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(
        ids: &BTreeMap<String, Gaussian>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut packed = BTreeMap::new();
        for (id, g) in ids {
            let p = Packed::new(g).map_err(|e| {
                serde::ser::Error::custom(format!("clip Gaussian of machine ID {id}: {e}"))
            })?;
            packed.insert(id, p);
        }
        packed.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Gaussian>, D::Error> {
        BTreeMap::<String, Packed>::deserialize(deserializer)?
            .into_iter()
            .map(|(id, p)| {
                p.unpack()
                    .map(|g| (id.clone(), g))
                    .map_err(|e| D::Error::custom(format!("clip Gaussian of machine ID {id}, {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClipScore;

    /// Clips of `windows` windows in 3 dimensions around `centre`, deterministic jitter.
    fn clips(centre: [f32; 3], n: usize, windows: usize, seed: u32) -> Vec<Vec<Vec<f32>>> {
        let mut s = seed;
        let mut next = move || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        (0..n)
            .map(|_| {
                (0..windows)
                    .map(|_| centre.iter().map(|c| c + next()).collect())
                    .collect()
            })
            .collect()
    }

    fn fitted() -> ClipGaussians {
        let mut by_id = BTreeMap::new();
        by_id.insert("00".to_string(), clips([0.0, 0.0, 0.0], 40, 6, 1));
        by_id.insert("02".to_string(), clips([3.0, 0.0, 1.0], 40, 6, 2));
        ClipGaussians::fit(EmbeddingSpec::parse("block5").unwrap(), &by_id).unwrap()
    }

    #[test]
    fn the_clip_score_is_the_mean_of_the_window_scores_and_grows_with_the_deviation() {
        let g = fitted();
        let clip = &clips([1.5, 0.0, 0.0], 1, 6, 9)[0];
        let windows = g.window_scores("00", clip).unwrap();
        let score = ClipScore::from_windows(windows).score;
        // Direct: Mahalanobis distance of the clip mean, divided by the dimension.
        let mean: Vec<f32> = clip_mean(clip).iter().map(|&v| v as f32).collect();
        let direct = g.ids["00"].mahalanobis2(&mean) / 3.0;
        assert!(
            (score - direct).abs() < 1e-6 * direct,
            "{score} vs {direct}"
        );
        // A clip of ID 00's own sound scores far lower against 00 than against 02.
        let own = &clips([0.0, 0.0, 0.0], 1, 6, 5)[0];
        let s00 = ClipScore::from_windows(g.window_scores("00", own).unwrap()).score;
        let s02 = ClipScore::from_windows(g.window_scores("02", own).unwrap()).score;
        assert!(s00 < score && s02 > 10.0 * s00, "{s00} {score} {s02}");
    }

    #[test]
    fn mismatches_are_errors_not_panics() {
        let g = fitted();
        assert_eq!(
            g.window_scores("04", &[vec![0.0; 3]]),
            Err(ClipGaussianError::NoGaussianFor("04".into()))
        );
        assert_eq!(
            g.window_scores("00", &[vec![0.0; 45]]),
            Err(ClipGaussianError::Width {
                got: 45,
                expected: 3
            })
        );
    }

    #[test]
    fn the_packed_form_reads_back_bit_for_bit_and_refuses_damage() {
        let g = fitted();
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<ClipGaussians>(&json).unwrap(), g);
        // 3 means + 6 factor values per ID, 4 bytes each, base64: no list of numbers.
        assert!(json.len() < 400, "{} bytes: {json}", json.len());
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let chol = v["ids"]["02"]["chol_lower"].as_str().unwrap().to_string();
        v["ids"]["02"]["chol_lower"] = chol[..chol.len() - 4].into();
        let e = serde_json::from_value::<ClipGaussians>(v.clone()).unwrap_err();
        assert!(e.to_string().contains("machine ID 02, factor"), "{e}");
        v["ids"]["02"]["chol_lower"] = "not base64!".into();
        assert!(serde_json::from_value::<ClipGaussians>(v).is_err());
        // A Gaussian damaged in memory is refused, not written.
        let mut cut = g;
        cut.ids.get_mut("00").unwrap().chol.pop();
        assert!(serde_json::to_string(&cut).is_err());
    }
}
