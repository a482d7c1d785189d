//! Anomaly scores and the training loss.
//!
//! The score of an example for machine ID k is a cross-entropy against k,
//! `logsumexp(logits) − logits[k]`, of the total head (the reference's score) or summed over
//! the three heads (Mimimi's models; see [`ScoreHeads`]): a clip the network cannot attribute
//! to its own machine sounds unlike that machine's normal sound. A clip's score is the mean
//! over its windows (deterministic; or one whole-clip pass, see [`mimimi_dsp::ExampleConfig`]).

use crate::embedding::embed_clip;
use crate::file::Manifest;
use crate::input::batch_from_windows;
use crate::network::{Network, Outputs};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use mimimi_dsp::{Prepared, Spectrogram, Window};
use serde::{Deserialize, Serialize};

/// Windows scored in one batch: bounds memory for long clips (60 s = 57 windows).
pub const WINDOWS_PER_BATCH: usize = 16;

/// Cross-entropy of each row of `logits` `[B, N]` against `class`: `[B]`.
pub fn cross_entropy_against(logits: Tensor<2>, class: usize) -> Tensor<1> {
    let [b, _] = logits.dims();
    log_softmax(logits, 1)
        .narrow(1, class, 1)
        .reshape([b])
        .neg()
}

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
    /// example. What `trainer train` writes: on synthetic corpora it ranks anomalies better
    /// than the total head alone (README, "Quality").
    Sum,
}

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

/// Normal or anomalous, with the numbers that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The clip's score.
    pub score: f64,
    /// The machine ID's decision threshold.
    pub threshold: f64,
    /// `score > threshold`.
    pub anomalous: bool,
}

impl Verdict {
    /// The verdict for `score` against `threshold`.
    pub fn new(score: f64, threshold: f64) -> Self {
        Self {
            score,
            threshold,
            anomalous: score > threshold,
        }
    }
}

/// The scores `[b]` of some windows of a spectrogram against machine ID `class`, queued on
/// the device. The page scores a long clip batch by batch with this, handing control back to
/// the browser in between so that it never freezes.
pub fn score_windows(
    network: &Network,
    heads: ScoreHeads,
    spectrogram: &Spectrogram,
    windows: &[Window],
    class: usize,
    device: &Device,
) -> Tensor<1> {
    let (re, im) = batch_from_windows(spectrogram, windows, device);
    heads.score(network.forward(re, im), class)
}

/// The score tensors of a prepared clip, one `[b]` tensor per batch of windows.
fn window_score_batches(
    network: &Network,
    heads: ScoreHeads,
    prepared: &Prepared,
    class: usize,
    device: &Device,
) -> Vec<Tensor<1>> {
    prepared
        .windows
        .chunks(WINDOWS_PER_BATCH)
        .map(|batch| score_windows(network, heads, &prepared.spectrogram, batch, class, device))
        .collect()
}

/// A result could not be read back from the device (e.g. a lost GPU).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("reading the result from the device failed: {0}")]
pub struct ReadError(pub String);

/// Reads scores back from the device asynchronously (as WebGPU requires).
pub async fn read_scores(scores: Tensor<1>) -> Result<Vec<f64>, ReadError> {
    to_scores(scores.into_data_async().await)
}

/// The scores of one batch, as read back from the device.
fn to_scores<E: std::fmt::Display>(data: Result<TensorData, E>) -> Result<Vec<f64>, ReadError> {
    let data = data.map_err(|e| ReadError(e.to_string()))?;
    let values = data
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| ReadError(format!("{e:?}")))?;
    Ok(values.into_iter().map(f64::from).collect())
}

/// Scores a prepared clip against machine ID `class` (blocking read-back; native use).
pub fn score_clip(
    network: &Network,
    heads: ScoreHeads,
    prepared: &Prepared,
    class: usize,
    device: &Device,
) -> Result<ClipScore, ReadError> {
    let mut scores = Vec::with_capacity(prepared.windows.len());
    for batch in window_score_batches(network, heads, prepared, class, device) {
        scores.extend(to_scores(batch.try_into_data())?);
    }
    Ok(ClipScore::from_windows(scores))
}

/// Scores a prepared clip against machine ID `id` of the model `manifest` describes, by the
/// manifest's rule: its clip Gaussians when it has them ([`crate::clip_gaussian`]), else the
/// cross-entropy of its `score_heads` (blocking read-back; native use).
pub fn score_id(
    network: &Network,
    manifest: &Manifest,
    prepared: &Prepared,
    id: &str,
    device: &Device,
) -> Result<ClipScore, String> {
    let class = manifest.class_of(id).map_err(|e| e.to_string())?;
    match &manifest.clip_gaussians {
        Some(g) => {
            let rows =
                embed_clip(&g.embedding, network, prepared, device).map_err(|e| e.to_string())?;
            Ok(ClipScore::from_windows(g.window_scores(id, &rows)?))
        }
        None => score_clip(network, manifest.score_heads, prepared, class, device)
            .map_err(|e| e.to_string()),
    }
}

/// Scores a prepared clip against machine ID `class`, reading results back asynchronously as
/// WebGPU requires.
pub async fn score_clip_async(
    network: &Network,
    heads: ScoreHeads,
    prepared: &Prepared,
    class: usize,
    device: &Device,
) -> Result<ClipScore, ReadError> {
    let mut scores = Vec::with_capacity(prepared.windows.len());
    for batch in window_score_batches(network, heads, prepared, class, device) {
        scores.extend(read_scores(batch).await?);
    }
    Ok(ClipScore::from_windows(scores))
}

#[cfg(test)]
mod tests {
    use super::*;

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
