//! `trainer eval`: how well a model separates normal from anomalous test clips, per machine ID
//! and per kind of anomaly.
//!
//! For each ID: AUC and pAUC (FPR ≤ 0.1, [`crate::metrics`]) of the scores by the model's rule
//! (what `trainer score` and the page compute), the same per kind of anomaly where the file
//! names say it (`trainer synth`'s corpora), the classification accuracy of the total head on
//! the ID's normal test clips, the precision / recall / F1 of the model's stored threshold
//! (chosen from validation normals when the model was trained or calibrated: never from these
//! test labels), and how many clips the verdict called "cannot tell". `--json` writes all of
//! it; `--report` adds ROC curves and score histograms as SVG and a Markdown table.

use crate::data::{Clip, Split, scan};
use crate::model::Loaded;
use crate::report::{Report, Scored, Scorer, id_report, markdown, report, svg};
use anyhow::Context;
use mimimi_model::{Call, Target};
use std::fmt::Write as _;
use std::path::Path;

/// Evaluates `model_dir` on the test clips of `data`.
pub fn evaluate(model_dir: &Path, data: &Path, seed: u64) -> anyhow::Result<Report> {
    let loaded = Loaded::load(model_dir)?;
    let manifest = &loaded.files.manifest;
    let clips = scan(data, &manifest.machine_type, seed)?;
    let mut ids = Vec::new();
    for (class, id) in manifest.classes.iter().enumerate() {
        let test: Vec<&Clip> = clips
            .iter()
            .filter(|c| &c.id == id && c.split == Split::Test)
            .collect();
        if test.is_empty() {
            // A class the model tells apart but the data has no test clips of (a model trained
            // on more units than are tested): nothing to report, and no hole in the means.
            eprintln!(
                "machine ID {id}: no test clips in {}, left out",
                data.display()
            );
            continue;
        }
        let target = Target::Id(id.clone());
        let mut needs = target.needs(manifest);
        needs.classify = true;
        let (mut scored, mut correct, mut normal_clips) = (Vec::new(), 0usize, 0usize);
        for clip in test {
            let prepared = loaded.prepare(&clip.path, 0)?;
            let named = || clip.path.display().to_string();
            let evidence = loaded
                .evidence(&prepared, &needs, Some(class))
                .with_context(named)?;
            let j = mimimi_model::judge(manifest, &target, &evidence).with_context(named)?;
            if !clip.anomalous {
                normal_clips += 1;
                correct += usize::from(evidence.picked() == Some(class));
            }
            scored.push(Scored {
                score: j.score.score,
                anomalous: clip.anomalous,
                kind: clip.kind.clone(),
                cannot_tell: j.verdict.call == Call::CannotTell,
            });
        }
        let accuracy = Some(correct as f64 / normal_clips.max(1) as f64);
        ids.push(id_report(
            id,
            &scored,
            accuracy,
            manifest.thresholds.get(id).copied(),
        ));
    }
    Ok(report(
        &manifest.machine_type,
        data,
        Scorer::Network,
        &manifest.score_rule.describe(),
        ids,
    ))
}

/// What `trainer eval` evaluates.
#[derive(Debug, Clone)]
pub enum Method {
    /// The network of a model directory.
    Network {
        /// The model directory.
        model: std::path::PathBuf,
    },
    /// The classical baseline, fitted on the data's training clips of a machine type.
    Baseline {
        /// The machine type.
        machine_type: String,
    },
}

/// Runs the evaluation, prints the table, writes `--json` and `--report` if asked.
pub fn run(
    method: &Method,
    data: &Path,
    seed: u64,
    json: Option<&Path>,
    report_dir: Option<&Path>,
) -> anyhow::Result<()> {
    let report = match method {
        Method::Network { model } => evaluate(model, data, seed)?,
        Method::Baseline { machine_type } => crate::baseline::evaluate(data, machine_type, seed)?,
    };
    let table = markdown(&report);
    crate::out::line(&table)?;
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| path.display().to_string())?;
    }
    if let Some(dir) = report_dir {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        let mut md = table;
        for r in &report.ids {
            let name = format!(
                "{}_{}_id_{}.svg",
                report.machine_type,
                report.method.name(),
                r.id
            );
            std::fs::write(dir.join(&name), svg(r))?;
            let _ = writeln!(md, "\n![ID {}]({name})", r.id);
        }
        std::fs::write(dir.join("report.md"), md)?;
    }
    Ok(())
}

/// Evaluate a model on the test clips of a data directory: AUC, pAUC, accuracy and the
/// stored thresholds' precision, recall and F1, per machine ID.
#[derive(clap::Args)]
pub struct Args {
    /// Data directory (DCASE 2020 or MIMII layout).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Model directory (for `--method network`).
    #[arg(long, required_if_eq("method", "network"))]
    pub model: Option<std::path::PathBuf>,
    /// `network` (the model's anomaly score) or `baseline` (log-mel frames, a Gaussian
    /// per machine ID fitted on the training clips, Mahalanobis distance).
    #[arg(long, value_enum, default_value_t = Scorer::Network)]
    pub method: Scorer,
    /// Machine type (for `--method baseline`; the network's comes from its model).
    #[arg(long = "type", required_if_eq("method", "baseline"))]
    pub machine_type: Option<String>,
    /// Write the results as JSON (schema in docs/trainer.md).
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Write ROC curves, score histograms (SVG) and a Markdown table here.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
    /// Seed of the train/validation split (that of the training run).
    #[arg(long, default_value_t = crate::args::DEFAULT_SEED)]
    pub seed: u64,
}

impl Args {
    /// Evaluates and writes the reports asked for.
    pub fn run(self) -> anyhow::Result<bool> {
        let method = match self.method {
            Scorer::Network => Method::Network {
                model: self.model.context("--method network needs --model")?,
            },
            Scorer::Baseline => Method::Baseline {
                machine_type: self
                    .machine_type
                    .context("--method baseline needs --type")?,
            },
        };
        run(
            &method,
            &self.data,
            self.seed,
            self.json.as_deref(),
            self.report.as_deref(),
        )
        .map(|()| true)
    }
}
