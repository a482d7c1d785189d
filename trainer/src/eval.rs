//! `trainer eval`: how well a model separates normal from anomalous test clips, per machine ID.
//!
//! For each ID: AUC and pAUC (FPR ≤ 0.1, [`crate::metrics`]) of the anomaly scores, the
//! classification accuracy of the total head on the ID's normal test clips, and the
//! precision / recall / F1 that the model's stored threshold gives (chosen from validation
//! normals when the model was trained or calibrated: never from these test labels). `--json`
//! writes all of it; `--report` adds ROC curves and score histograms as SVG and a Markdown
//! table.

use crate::data::{Split, prepare_file, scan};
use crate::metrics::{auc, pauc, precision_recall_f1, roc};
use mimimi_dsp::FrontEnd;
use mimimi_model::embedding::read_rows_blocking;
use mimimi_model::input::batch_from_windows;
use mimimi_model::score::ScoreHeads;
use mimimi_model::{ClipScore, Device, Manifest, ModelFiles, Network, Outputs, Tensor};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// The pAUC's false-positive-rate bound (DCASE 2020 Task 2).
pub const MAX_FPR: f64 = 0.1;

/// One machine ID's results.
#[derive(Debug, Clone, Serialize)]
pub struct IdReport {
    /// Machine ID.
    pub id: String,
    /// Normal and anomalous test clips.
    pub normal_clips: usize,
    /// Anomalous test clips.
    pub anomalous_clips: usize,
    /// Area under the ROC curve.
    pub auc: Option<f64>,
    /// Partial AUC over FPR ≤ 0.1, normalised by 0.1.
    pub pauc: Option<f64>,
    /// Share of normal test clips the total head attributes to this ID.
    pub accuracy: f64,
    /// The stored threshold, if any.
    pub threshold: Option<f64>,
    /// Precision at the threshold.
    pub precision: Option<f64>,
    /// Recall at the threshold.
    pub recall: Option<f64>,
    /// F1 at the threshold.
    pub f1: Option<f64>,
    /// Scores of the normal test clips.
    pub normal_scores: Vec<f64>,
    /// Scores of the anomalous test clips.
    pub anomalous_scores: Vec<f64>,
}

/// The whole evaluation (the `--json` schema).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Machine type.
    pub machine_type: String,
    /// `network` (the model's score) or `baseline` (log-mel Gaussian, see `baseline`).
    pub method: String,
    /// Data directory.
    pub data: String,
    /// Per ID.
    pub ids: Vec<IdReport>,
    /// Mean AUC over the IDs.
    pub mean_auc: Option<f64>,
    /// Mean pAUC over the IDs.
    pub mean_pauc: Option<f64>,
    /// Mean accuracy over the IDs.
    pub mean_accuracy: f64,
}

/// From a clip's heads `[windows, N]`: its score against `class` under `heads` (the mean over
/// the windows) and the class the total head picks (argmax of its mean logits).
pub fn judge_outputs(outputs: Outputs, heads: ScoreHeads, class: usize) -> (f64, usize) {
    let picked = picked_class(outputs.total.clone());
    let scores = read(heads.score(outputs, class));
    let clip = ClipScore::from_windows(scores.into_iter().map(f64::from).collect());
    (clip.score, picked)
}

fn read(t: Tensor<1>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().unwrap()
}

/// The class a clip's total head `[windows, N]` picks: argmax of its mean logits.
fn picked_class(total: Tensor<2>) -> usize {
    let [_, n] = total.dims();
    read(total.mean_dim(0).reshape([n]))
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Score against machine ID `id` by the manifest's rule and the class the total head picks,
/// for a prepared clip: one forward pass serves both.
pub fn judge(
    network: &Network,
    manifest: &Manifest,
    prepared: &mimimi_dsp::Prepared,
    id: &str,
    device: &Device,
) -> Result<(f64, usize), String> {
    let class = manifest.class_of(id).map_err(|e| e.to_string())?;
    let (re, im) = batch_from_windows(&prepared.spectrogram, &prepared.windows, device);
    let trace = network.forward_trace(re, im);
    let Some(g) = &manifest.clip_gaussians else {
        return Ok(judge_outputs(trace.outputs, manifest.score_heads, class));
    };
    let rows = read_rows_blocking(g.embedding.embed_trace(&trace)).map_err(|e| e.to_string())?;
    let score = ClipScore::from_windows(g.window_scores(id, &rows)?).score;
    Ok((score, picked_class(trace.outputs.total)))
}

fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.collect::<Option<Vec<f64>>>()?;
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Evaluates `model_dir` on the test clips of `data`.
pub fn evaluate(model_dir: &Path, data: &Path, seed: u64) -> Result<Report, String> {
    let model = ModelFiles::load(model_dir).map_err(|e| e.to_string())?;
    let manifest = &model.manifest;
    let clips = scan(data, &manifest.machine_type, seed)?;
    let device = Device::flex();
    let network = model.network(&device).map_err(|e| e.to_string())?;
    let frontend = FrontEnd::new(manifest.frontend);
    let mut ids = Vec::new();
    for (class, id) in manifest.classes.iter().enumerate() {
        let (mut normal, mut anomalous, mut correct) = (Vec::new(), Vec::new(), 0usize);
        let test: Vec<_> = clips
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
        for clip in test {
            let prepared = prepare_file(&clip.path, &frontend, 0)?;
            let (score, picked) = judge(&network, manifest, &prepared, id, &device)
                .map_err(|e| format!("{}: {e}", clip.path.display()))?;
            if clip.anomalous {
                anomalous.push(score);
            } else {
                normal.push(score);
                correct += usize::from(picked == class);
            }
        }
        let threshold = manifest.thresholds.get(id).copied();
        ids.push(id_report(id, normal, anomalous, correct, threshold));
    }
    Ok(report(&manifest.machine_type, data, "network", ids))
}

/// One ID's report from its test scores, the number of its normal test clips classified as
/// itself, and its threshold.
pub fn id_report(
    id: &str,
    normal: Vec<f64>,
    anomalous: Vec<f64>,
    correct: usize,
    threshold: Option<f64>,
) -> IdReport {
    let prf = threshold.map(|t| precision_recall_f1(&normal, &anomalous, t));
    IdReport {
        id: id.to_string(),
        normal_clips: normal.len(),
        anomalous_clips: anomalous.len(),
        auc: auc(&normal, &anomalous),
        pauc: pauc(&normal, &anomalous, MAX_FPR),
        accuracy: correct as f64 / normal.len().max(1) as f64,
        threshold,
        precision: prf.map(|p| p.0),
        recall: prf.map(|p| p.1),
        f1: prf.map(|p| p.2),
        normal_scores: normal,
        anomalous_scores: anomalous,
    }
}

/// The type's report from its IDs' reports (means over the IDs).
pub fn report(machine_type: &str, data: &Path, method: &str, ids: Vec<IdReport>) -> Report {
    Report {
        machine_type: machine_type.to_string(),
        method: method.to_string(),
        data: data.display().to_string(),
        mean_auc: mean(ids.iter().map(|r| r.auc)),
        mean_pauc: mean(ids.iter().map(|r| r.pauc)),
        mean_accuracy: ids.iter().map(|r| r.accuracy).sum::<f64>() / ids.len().max(1) as f64,
        ids,
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.3}"))
}

/// A threshold: scores of a confident network are tiny, so small values keep three
/// significant digits.
fn fmt_threshold(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| {
        if v.abs() < 0.01 {
            format!("{v:.3e}")
        } else {
            format!("{v:.3}")
        }
    })
}

/// The Markdown table of a report.
pub fn markdown(report: &Report) -> String {
    let mut s = format!(
        "# {} ({}) — {}\n\n",
        report.machine_type, report.method, report.data
    );
    s += "| ID | normal | anomalous | AUC | pAUC | accuracy | threshold | precision | recall | F1 |\n";
    s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for r in &report.ids {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.3} | {} | {} | {} | {} |",
            r.id,
            r.normal_clips,
            r.anomalous_clips,
            fmt(r.auc),
            fmt(r.pauc),
            r.accuracy,
            fmt_threshold(r.threshold),
            fmt(r.precision),
            fmt(r.recall),
            fmt(r.f1)
        );
    }
    let _ = writeln!(
        s,
        "| **mean** | | | {} | {} | {:.3} | | | | |",
        fmt(report.mean_auc),
        fmt(report.mean_pauc),
        report.mean_accuracy
    );
    s
}

/// An SVG with the ROC curve (left) and the normal/anomalous score histograms (right).
pub fn svg(r: &IdReport) -> String {
    let (w, h, pad) = (300.0, 240.0, 30.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n",
        2.0 * w
    );
    let plot = |x: f64, y: f64| (pad + x * (w - 2.0 * pad), h - pad - y * (h - 2.0 * pad));
    let points: Vec<String> = roc(&r.normal_scores, &r.anomalous_scores)
        .iter()
        .map(|&(x, y)| {
            let (px, py) = plot(x, y);
            format!("{px:.1},{py:.1}")
        })
        .collect();
    let (x0, y0) = plot(0.0, 0.0);
    let (x1, y1) = plot(1.0, 1.0);
    let _ = writeln!(
        s,
        "<rect x=\"{x0}\" y=\"{y1}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
        x1 - x0,
        y0 - y1
    );
    let _ = writeln!(
        s,
        "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y1}\" stroke=\"#ccc\" stroke-dasharray=\"4\"/>"
    );
    let _ = writeln!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\"/>",
        points.join(" ")
    );
    let _ = writeln!(
        s,
        "<text x=\"{pad}\" y=\"16\">ROC, ID {} (AUC {}, pAUC {})</text>",
        r.id,
        fmt(r.auc),
        fmt(r.pauc)
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\">false-positive rate</text>",
        w / 2.0 - 40.0,
        h - 8.0
    );
    // Histograms: 20 bins over the range of all scores.
    let all: Vec<f64> = r
        .normal_scores
        .iter()
        .chain(&r.anomalous_scores)
        .copied()
        .collect();
    let (lo, hi) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-9);
    let counts = |v: &[f64]| {
        let mut c = [0usize; 20];
        for x in v {
            c[(((x - lo) / span) * 19.999) as usize] += 1;
        }
        c
    };
    let (cn, ca) = (counts(&r.normal_scores), counts(&r.anomalous_scores));
    let top = cn.iter().chain(&ca).copied().max().unwrap_or(1).max(1) as f64;
    for (k, (n, a)) in cn.iter().zip(&ca).enumerate() {
        for (count, color, dx) in [(*n, "#2980b9", 0.0), (*a, "#c0392b", 0.5)] {
            let bw = (w - 2.0 * pad) / 20.0 / 2.0;
            let x = w + pad + k as f64 * 2.0 * bw + dx * 2.0 * bw;
            let bh = count as f64 / top * (h - 2.0 * pad);
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{color}\"/>",
                h - pad - bh
            );
        }
    }
    if let Some(t) = r.threshold.filter(|t| *t >= lo && *t <= hi) {
        let x = w + pad + (t - lo) / span * (w - 2.0 * pad);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{pad}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#333\"/>",
            h - pad
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"16\">scores: normal (blue), anomalous (red), threshold (line)</text>",
        w + pad
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\">{lo:.3} … {hi:.3}</text>",
        w + pad,
        h - 8.0
    );
    s + "</svg>\n"
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
) -> Result<(), String> {
    let report = match method {
        Method::Network { model } => evaluate(model, data, seed)?,
        Method::Baseline { machine_type } => crate::baseline::evaluate(data, machine_type, seed)?,
    };
    let table = markdown(&report);
    println!("{table}");
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(dir) = report_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut md = table;
        for r in &report.ids {
            let name = format!("{}_{}_id_{}.svg", report.machine_type, report.method, r.id);
            std::fs::write(dir.join(&name), svg(r)).map_err(|e| e.to_string())?;
            let _ = writeln!(md, "\n![ID {}]({name})", r.id);
        }
        std::fs::write(dir.join("report.md"), md).map_err(|e| e.to_string())?;
    }
    Ok(())
}
