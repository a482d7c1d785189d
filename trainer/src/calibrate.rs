//! `trainer calibrate`: set a model's decision thresholds from the validation normals of each
//! machine ID ([`mimimi_model::threshold::ThresholdRule`]), never from test labels. Used after
//! `trainer import`, so that an imported model scores like a native one.

use crate::data::{Split, prepare_file, scan};
use mimimi_dsp::FrontEnd;
use mimimi_model::score::{ScoreHeads, score_clip};
use mimimi_model::threshold::ThresholdRule;
use mimimi_model::{Device, ModelFiles};
use std::path::Path;

/// Seed of the validation split (the trainer's default, so calibration and training hold out
/// the same files).
pub const DEFAULT_SEED: u64 = 20_261_128;

/// Scores each ID's validation normals and writes the thresholds into the model's manifest,
/// after switching it to the score rule `heads` if one is given.
pub fn run(
    model_dir: &Path,
    data: &Path,
    seed: u64,
    heads: Option<ScoreHeads>,
) -> Result<(), String> {
    let mut model = ModelFiles::load(model_dir).map_err(|e| e.to_string())?;
    if let Some(heads) = heads {
        model.manifest.score_heads = heads;
    }
    let manifest = &model.manifest;
    let clips = scan(data, &manifest.machine_type, seed)?;
    let device = Device::flex();
    let network = model.network(&device).map_err(|e| e.to_string())?;
    let frontend = FrontEnd::new(manifest.frontend);
    let rule = ThresholdRule::default();
    let mut thresholds = manifest.thresholds.clone();
    let mut report = serde_json::Map::new();
    for (class, id) in manifest.classes.iter().enumerate() {
        let mut scores = Vec::new();
        for clip in clips
            .iter()
            .filter(|c| &c.id == id && c.split == Split::Validation)
        {
            let prepared = prepare_file(&clip.path, &frontend, 0)?;
            let s = score_clip(&network, manifest.score_heads, &prepared, class, &device)
                .map_err(|e| e.to_string())?;
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
