//! The classifier's cross-entropies: the training loss, and the anomaly score of the
//! [`crate::rule::ScoreRule::CrossEntropy`] rule.
//!
//! The score of an example for machine ID k is a cross-entropy against k,
//! `logsumexp(logits) − logits[k]`, of the total head (the reference's score) or summed over
//! the three heads ([`ScoreHeads`]): a clip the network cannot attribute to its own machine
//! sounds unlike that machine's normal sound. A clip's score is the mean over its windows.

#[cfg(feature = "network")]
use crate::network::Outputs;
#[cfg(feature = "network")]
use burn::tensor::activation::log_softmax;
#[cfg(feature = "network")]
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

#[cfg(feature = "network")]
/// Cross-entropy of each row of `logits` `[B, N]` against `class`: `[B]`.
pub fn cross_entropy_against(logits: Tensor<2>, class: usize) -> Tensor<1> {
    let [b, _] = logits.dims();
    log_softmax(logits, 1)
        .narrow(1, class, 1)
        .reshape([b])
        .neg()
}

#[cfg(feature = "network")]
/// Mean cross-entropy of `logits` `[B, N]` against per-row labels.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let [b, n] = logits.dims();
    assert_eq!(b, labels.len(), "one label per example");
    let mut one_hot = vec![0.0f32; b * n];
    for (row, &label) in labels.iter().enumerate() {
        assert!(label < n, "label {label} out of range for {n} classes");
        one_hot[row * n + label] = 1.0;
    }
    let one_hot = Tensor::<2>::from_data(TensorData::new(one_hot, [b, n]), &logits.device());
    (log_softmax(logits, 1) * one_hot)
        .sum()
        .div_scalar(b as f32)
        .neg()
}

#[cfg(feature = "network")]
/// The training objective: CE(magnitude) + CE(complex) + CE(total), each a batch mean.
pub fn loss(outputs: &Outputs, labels: &[usize]) -> Tensor<1> {
    cross_entropy(outputs.magnitude.clone(), labels)
        + cross_entropy(outputs.complex.clone(), labels)
        + cross_entropy(outputs.total.clone(), labels)
}

/// Which heads' cross-entropies make an example's anomaly score. Stored in each manifest,
/// since a model's thresholds only hold for the rule they were calibrated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScoreHeads {
    /// The total (attention-fused) head alone: the paper's and the reference's score, and
    /// what a manifest without the field means (models written before the field existed,
    /// imported checkpoints).
    #[default]
    Total,
    /// The sum of the three heads' cross-entropies, i.e. the training objective of one
    /// example.
    Sum,
}

#[cfg(feature = "network")]
impl ScoreHeads {
    /// The score `[B]` of each example of `outputs` against `class`.
    pub fn score(self, outputs: Outputs, class: usize) -> Tensor<1> {
        match self {
            ScoreHeads::Total => cross_entropy_against(outputs.total, class),
            ScoreHeads::Sum => {
                cross_entropy_against(outputs.magnitude, class)
                    + cross_entropy_against(outputs.complex, class)
                    + cross_entropy_against(outputs.total, class)
            }
        }
    }
}

/// The score of a clip against one machine ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipScore {
    /// Mean of the window scores.
    pub score: f64,
    /// Score of each window, in time order.
    pub window_scores: Vec<f64>,
}

impl ClipScore {
    /// A clip score from its window scores.
    pub fn from_windows(window_scores: Vec<f64>) -> Self {
        let score = window_scores.iter().sum::<f64>() / window_scores.len().max(1) as f64;
        Self {
            score,
            window_scores,
        }
    }
}

/// A result could not be read back from the device (e.g. a lost GPU).
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("reading the result from the device failed: {0}")]
pub struct ReadError(pub String);

#[cfg(all(test, feature = "network"))]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn logits(rows: &[[f32; 2]], device: &Device) -> Tensor<2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), 2]), device)
    }

    #[test]
    fn the_rules_read_their_heads() {
        let device = Device::flex();
        let outputs = Outputs {
            magnitude: logits(&[[0.0, 0.0]], &device),
            complex: logits(&[[1.0, 0.0]], &device),
            total: logits(&[[0.0, 2.0]], &device),
        };
        let read = |t: Tensor<1>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()[0];
        // Cross-entropy against class 1: ln 2, ln(1 + e), ln(1 + e⁻²).
        let (m, c, t) = (
            2f32.ln(),
            (1.0 + 1f32.exp()).ln(),
            (1.0 + (-2f32).exp()).ln(),
        );
        let total = read(ScoreHeads::Total.score(outputs.clone(), 1));
        let sum = read(ScoreHeads::Sum.score(outputs, 1));
        assert!((total - t).abs() < 1e-6, "{total} vs {t}");
        assert!((sum - (m + c + t)).abs() < 1e-6, "{sum} vs {}", m + c + t);
    }

    #[test]
    fn manifests_without_the_rule_mean_the_total_head() {
        assert_eq!(ScoreHeads::default(), ScoreHeads::Total);
        let sum: ScoreHeads = serde_json::from_str("\"sum\"").unwrap();
        assert_eq!(sum, ScoreHeads::Sum);
    }
}
