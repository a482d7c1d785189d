//! `trainer calibrate`: set a model's decision thresholds from the validation normals of each
//! machine ID ([`mimimi_model::threshold::ThresholdRule`]), never from test labels. Used after
//! `trainer import`, so that an imported model scores like a native one, and to switch a model's
//! score rule: cross-entropy of some heads, or Gaussians of its clip-averaged features
//! ([`mimimi_model::clip_gaussian`], fitted here to each ID's training normals).

use crate::data::{Split, prepare_file, scan};
use mimimi_dsp::FrontEnd;
use mimimi_model::embedding::embed_clip;
use mimimi_model::score::{ScoreHeads, score_id};
use mimimi_model::threshold::ThresholdRule;
use mimimi_model::{ClipGaussians, Device, EmbeddingSpec, ModelFiles};
use std::collections::BTreeMap;
use std::path::Path;

/// Seed of the validation split (the trainer's default, so calibration and training hold out
/// the same files).
pub const DEFAULT_SEED: u64 = 20_261_128;

/// The score rule to switch a model to before calibrating.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Keep the model's own rule.
    Keep,
    /// Cross-entropy of these heads (drops any clip Gaussians).
    CrossEntropy(ScoreHeads),
    /// Gaussians of these layers' clip-averaged features, fitted to the training normals.
    ClipGaussians(EmbeddingSpec),
}

/// Switches the model to `rule`, scores each ID's validation normals and writes the
/// thresholds into the model's manifest.
pub fn run(model_dir: &Path, data: &Path, seed: u64, rule: Rule) -> Result<(), String> {
    let mut model = ModelFiles::load(model_dir).map_err(|e| e.to_string())?;
    let clips = scan(data, &model.manifest.machine_type, seed)?;
    let device = Device::flex();
    let network = model.network(&device).map_err(|e| e.to_string())?;
    let frontend = FrontEnd::new(model.manifest.frontend);
    match rule {
        Rule::Keep => {}
        Rule::CrossEntropy(heads) => {
            model.manifest.score_heads = heads;
            model.manifest.clip_gaussians = None;
        }
        Rule::ClipGaussians(spec) => {
            let mut by_id = BTreeMap::new();
            for id in &model.manifest.classes {
                let mut rows = Vec::new();
                for clip in clips
                    .iter()
                    .filter(|c| &c.id == id && c.split == Split::Train)
                {
                    let prepared = prepare_file(&clip.path, &frontend, 0)?;
                    rows.push(
                        embed_clip(&spec, &network, &prepared, &device)
                            .map_err(|e| e.to_string())?,
                    );
                }
                println!(
                    "id {id}: clip Gaussian from {} training normals",
                    rows.len()
                );
                by_id.insert(id.clone(), rows);
            }
            model.manifest.clip_gaussians = Some(ClipGaussians::fit(spec, &by_id)?);
        }
    }
    let manifest = &model.manifest;
    let rule = ThresholdRule::default();
    let mut thresholds = manifest.thresholds.clone();
    let mut report = serde_json::Map::new();
    for id in &manifest.classes {
        let mut scores = Vec::new();
        for clip in clips
            .iter()
            .filter(|c| &c.id == id && c.split == Split::Validation)
        {
            let prepared = prepare_file(&clip.path, &frontend, 0)?;
            let s = score_id(&network, manifest, &prepared, id, &device)?;
            scores.push(s.score);
        }
        let threshold = rule.threshold(&scores).ok_or_else(|| {
            format!("machine ID {id}: {} validation clip(s), at least 2 with different scores are needed", scores.len())
        })?;
        println!(
            "id {id}: {} validation normals, threshold {threshold:.6}",
            scores.len()
        );
        thresholds.insert(id.clone(), threshold);
        report.insert(
            id.clone(),
            serde_json::json!({ "validation_clips": scores.len(), "threshold": threshold }),
        );
    }
    model.manifest.thresholds = thresholds;
    model.manifest.threshold_rule = rule.describe();
    if let serde_json::Value::Object(m) = &mut model.manifest.metrics {
        m.insert(
            "calibration".into(),
            serde_json::json!({ "data": data.display().to_string(), "seed": seed, "ids": report }),
        );
    } else {
        model.manifest.metrics = serde_json::json!({ "calibration": { "data": data.display().to_string(), "seed": seed, "ids": report } });
    }
    model.save(model_dir).map_err(|e| e.to_string())
}
