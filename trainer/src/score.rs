//! `trainer score`: judge WAV files natively; the reference the web page must agree with.

use crate::model::Loaded;
use anyhow::Context;
use mimimi_dsp::FrontEnd;
use mimimi_model::{Call, Judgement, Target};
use std::path::{Path, PathBuf};

/// What a file is scored against.
pub enum Against {
    /// One of the model's machine IDs (the score rule of its manifest).
    Id(String),
    /// An enrolled machine's profile file.
    Profile(PathBuf),
}

/// One line of text for a judgement.
fn describe(file: &Path, j: &Judgement) -> String {
    let v = &j.verdict;
    let call = match v.call {
        Call::Anomalous => "ANOMALOUS",
        Call::Normal => "normal",
        Call::CannotTell => "CANNOT TELL",
    };
    let mut line = format!(
        "{}: score {:.6} {call} (threshold {:.6}",
        file.display(),
        v.score,
        v.threshold
    );
    if let Some(m) = v.margin() {
        line += &format!(", {m:+.2} normal spreads from it");
    }
    line += &format!(", {} of {} windows agree", v.windows_agreeing, v.windows);
    if let Some((deviation, limit)) = v.envelope {
        line += &format!(", spectral envelope {deviation:.1} dB from normal, limit {limit:.1} dB");
    }
    line + ")"
}

/// Judges each file; prints a line (or a JSON line) per file and the per-window scores.
/// Returns whether every file could be judged.
pub fn run(
    model: PathBuf,
    against: Against,
    channel: usize,
    whole_clip: bool,
    json: bool,
    files: Vec<PathBuf>,
) -> anyhow::Result<bool> {
    let mut loaded = Loaded::load(&model)?;
    let (name, target) = match against {
        Against::Id(id) => (id.clone(), Target::Id(id)),
        Against::Profile(path) => {
            let p = crate::enroll::load_profile(&path, &loaded.files)?;
            (p.name.clone(), Target::Enrolled(Box::new(p)))
        }
    };
    // A model without a threshold for the ID (imported, not calibrated) still scores, without
    // a verdict; an unknown ID or a profile of another model is an error.
    let verdicts = target.check(&loaded.files.manifest).is_ok();
    if let Target::Id(id) = &target {
        loaded.files.manifest.class_of(id)?;
    } else {
        target.check(&loaded.files.manifest)?;
    }
    let mut config = loaded.files.manifest.frontend;
    config.examples.whole_clip |= whole_clip;
    loaded = loaded.with_frontend(FrontEnd::new(config));
    let mut all_ok = true;
    for file in files {
        if !verdicts {
            // (prepare names the file itself.)
            match loaded.prepare(&file, channel).and_then(|p| {
                loaded
                    .score_prepared(&p, &target)
                    .with_context(|| file.display().to_string())
            }) {
                Ok(score) => {
                    let line = if json {
                        serde_json::json!({
                            "file": file.display().to_string(), "id": name, "score": score.score,
                            "threshold": null, "call": null, "anomalous": null,
                            "window_scores": score.window_scores,
                        })
                        .to_string()
                    } else {
                        format!(
                            "{}: score {:.6} (no threshold in the model: run `trainer calibrate`)",
                            file.display(),
                            score.score
                        )
                    };
                    crate::out::line(&line)?;
                }
                Err(e) => {
                    all_ok = false;
                    eprintln!("{e:#}");
                }
            }
            continue;
        }
        match loaded.judge_file(&file, channel, &target) {
            Ok(j) => {
                if json {
                    let v = &j.verdict;
                    let line = serde_json::json!({
                        "file": file.display().to_string(), "id": name, "score": v.score,
                        "threshold": v.threshold, "call": v.call, "anomalous": v.anomalous(),
                        "margin": v.margin(), "windows_agreeing": v.windows_agreeing,
                        "envelope_db": v.envelope.map(|e| e.0), "envelope_limit_db": v.envelope.map(|e| e.1),
                        "window_scores": j.score.window_scores,
                    });
                    crate::out::line(&line.to_string())?;
                } else {
                    let windows: Vec<String> = j
                        .score
                        .window_scores
                        .iter()
                        .map(|w| format!("{w:.4}"))
                        .collect();
                    crate::out::line(&describe(&file, &j))?;
                    crate::out::line(&format!("  windows: {}", windows.join(" ")))?;
                }
            }
            Err(e) => {
                all_ok = false;
                eprintln!("{e:#}");
            }
        }
    }
    Ok(all_ok)
}

/// Score WAV files against one machine ID of a model.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory (manifest.json + weights).
    #[arg(long)]
    pub model: std::path::PathBuf,
    /// Machine ID to score against (one of the model's classes).
    #[arg(long, required_unless_present = "profile", conflicts_with = "profile")]
    pub id: Option<String>,
    /// Score against an enrolled machine's profile (from `trainer enroll` or exported by
    /// the page) instead of a machine ID.
    #[arg(long)]
    pub profile: Option<std::path::PathBuf>,
    /// Channel of multichannel files (0 = first).
    #[arg(long, default_value_t = 0)]
    pub channel: usize,
    /// Score the whole clip in one pass instead of window by window.
    #[arg(long)]
    pub whole_clip: bool,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// WAV files.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

impl Args {
    /// Scores the files; false when one could not be scored.
    pub fn run(self) -> anyhow::Result<bool> {
        let against = match (self.id, self.profile) {
            (Some(id), _) => Against::Id(id),
            (None, Some(p)) => Against::Profile(p),
            (None, None) => return Err(anyhow::anyhow!("give --id or --profile")),
        };
        run(
            self.model,
            against,
            self.channel,
            self.whole_clip,
            self.json,
            self.files,
        )
    }
}
