//! `trainer score`: score WAV files natively; the reference the web page must agree with.

use crate::data::prepare_file;
use mimimi_dsp::FrontEnd;
use mimimi_model::embedding::embed_clip;
use mimimi_model::score::{ClipScore, Verdict, score_id};
use mimimi_model::{Device, ModelFiles, Profile};
use std::path::PathBuf;

/// What a file is scored against.
pub enum Against {
    /// One of the model's machine IDs (the score rule of its manifest).
    Id(String),
    /// An enrolled machine's profile file.
    Profile(PathBuf),
}

/// How windows are scored, once `Against` is resolved against the model.
enum Scorer {
    /// One of the model's machine IDs, by the manifest's rule.
    Id(String),
    /// Distance from an enrolled machine's profile.
    Profile(Box<Profile>),
}

/// Scores each file; prints a line (or a JSON line) per file and the per-window scores.
/// Returns whether every file could be scored.
pub fn run(
    model: PathBuf,
    against: Against,
    channel: usize,
    whole_clip: bool,
    json: bool,
    files: Vec<PathBuf>,
) -> Result<bool, String> {
    let model = ModelFiles::load(&model).map_err(|e| e.to_string())?;
    // The name printed, how windows are scored, and the threshold.
    let (id, scorer, threshold) = match against {
        Against::Id(id) => {
            model.manifest.class_of(&id).map_err(|e| e.to_string())?;
            let threshold = model.manifest.threshold_of(&id).ok();
            (id.clone(), Scorer::Id(id), threshold)
        }
        Against::Profile(path) => {
            let p = crate::enroll::load_profile(&path, &model)?;
            let (name, threshold) = (p.name.clone(), p.threshold);
            (name, Scorer::Profile(Box::new(p)), Some(threshold))
        }
    };
    let device = Device::flex();
    let network = model.network(&device).map_err(|e| e.to_string())?;
    let mut config = model.manifest.frontend;
    config.examples.whole_clip |= whole_clip;
    let frontend = FrontEnd::new(config);
    let mut all_ok = true;
    for file in files {
        let result = prepare_file(&file, &frontend, channel).and_then(|prepared| {
            match &scorer {
                Scorer::Profile(p) => embed_clip(&p.embedding, &network, &prepared, &device)
                    .map(|rows| ClipScore::from_windows(p.window_scores(&rows)))
                    .map_err(|e| e.to_string()),
                Scorer::Id(id) => score_id(&network, &model.manifest, &prepared, id, &device),
            }
            .map_err(|e| format!("{}: {e}", file.display()))
        });
        match result {
            Ok(s) => {
                let verdict = threshold.map(|t| Verdict::new(s.score, t));
                if json {
                    let line = serde_json::json!({
                        "file": file.display().to_string(), "id": id, "score": s.score,
                        "threshold": threshold, "anomalous": verdict.map(|v| v.anomalous),
                        "window_scores": s.window_scores,
                    });
                    println!("{line}");
                } else {
                    let decision = match verdict {
                        Some(v) if v.anomalous => {
                            format!("ANOMALOUS (threshold {:.6})", v.threshold)
                        }
                        Some(v) => format!("normal (threshold {:.6})", v.threshold),
                        None => "no threshold in the model".into(),
                    };
                    let windows: Vec<String> =
                        s.window_scores.iter().map(|w| format!("{w:.4}")).collect();
                    println!("{}: score {:.6} {decision}", file.display(), s.score);
                    println!("  windows: {}", windows.join(" "));
                }
            }
            Err(e) => {
                all_ok = false;
                eprintln!("{e}");
            }
        }
    }
    Ok(all_ok)
}
