//! What the evaluations report, shared by `eval`, the baseline, `enroll-eval` and `protocol`:
//! per-ID and per-kind AUC / pAUC, thresholds' precision, recall and F1, the Markdown table
//! and the SVG pictures (ROC curve, score histograms).

use crate::metrics::{auc, pauc, precision_recall_f1, roc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The pAUC's false-positive-rate bound (DCASE 2020 Task 2).
pub const MAX_FPR: f64 = 0.1;

/// One kind of anomaly's results (its clips against all the normal clips).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KindReport {
    /// The kind (from the file names).
    pub kind: String,
    /// Its anomalous clips.
    pub anomalous_clips: usize,
    /// AUC.
    pub auc: Option<f64>,
    /// pAUC.
    pub pauc: Option<f64>,
}

/// One machine ID's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdReport {
    /// Machine ID.
    pub id: String,
    /// Normal test clips.
    pub normal_clips: usize,
    /// Anomalous test clips.
    pub anomalous_clips: usize,
    /// Area under the ROC curve.
    pub auc: Option<f64>,
    /// Partial AUC over FPR ≤ 0.1, normalised by 0.1.
    pub pauc: Option<f64>,
    /// Per kind of anomaly.
    pub kinds: Vec<KindReport>,
    /// Share of normal test clips the total head attributes to this ID.
    pub accuracy: Option<f64>,
    /// The stored threshold, if any.
    pub threshold: Option<f64>,
    /// Precision at the threshold.
    pub precision: Option<f64>,
    /// Recall at the threshold.
    pub recall: Option<f64>,
    /// F1 at the threshold.
    pub f1: Option<f64>,
    /// Normal and anomalous test clips the verdict called "cannot tell".
    pub cannot_tell: [usize; 2],
    /// Scores of the normal test clips.
    pub normal_scores: Vec<f64>,
    /// Scores of the anomalous test clips.
    pub anomalous_scores: Vec<f64>,
}

/// A kind's mean over the IDs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KindMean {
    /// The kind.
    pub kind: String,
    /// Mean AUC over the IDs.
    pub mean_auc: Option<f64>,
    /// Mean pAUC over the IDs.
    pub mean_pauc: Option<f64>,
}

/// What scored a report's clips (`trainer eval --method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scorer {
    /// A model's score rule (`--model`).
    Network,
    /// The classical log-mel Gaussian baseline ([`crate::baseline`]).
    Baseline,
}

impl Scorer {
    /// Name in reports and file names.
    pub fn name(self) -> &'static str {
        match self {
            Scorer::Network => "network",
            Scorer::Baseline => "baseline",
        }
    }
}

/// The whole evaluation (the `--json` schema).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Machine type.
    pub machine_type: String,
    /// What scored the clips.
    pub method: Scorer,
    /// The score rule (the model's, or the baseline's).
    pub rule: String,
    /// Data directory.
    pub data: String,
    /// Per ID.
    pub ids: Vec<IdReport>,
    /// Mean AUC over the IDs.
    pub mean_auc: Option<f64>,
    /// Mean pAUC over the IDs.
    pub mean_pauc: Option<f64>,
    /// Per kind of anomaly, means over the IDs.
    pub kinds: Vec<KindMean>,
    /// Mean accuracy over the IDs.
    pub mean_accuracy: Option<f64>,
}

/// The mean, or none where any value is missing (an ID without a score has no mean).
fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.collect::<Option<Vec<f64>>>()?;
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The mean of the values that are there (none if none is): summaries over IDs and types.
pub(crate) fn mean_known(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// A test clip's score, and for anomalous clips its kind.
pub struct Scored {
    /// The score.
    pub score: f64,
    /// Anomalous?
    pub anomalous: bool,
    /// The kind of anomaly, where known.
    pub kind: Option<String>,
    /// The verdict said "cannot tell".
    pub cannot_tell: bool,
}

/// One ID's report from its test clips' scores, its accuracy and its threshold.
pub fn id_report(
    id: &str,
    scored: &[Scored],
    accuracy: Option<f64>,
    threshold: Option<f64>,
) -> IdReport {
    let of = |anomalous: bool| {
        scored
            .iter()
            .filter(|s| s.anomalous == anomalous)
            .map(|s| s.score)
            .collect::<Vec<f64>>()
    };
    let (normal, anomalous) = (of(false), of(true));
    let mut by_kind: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for s in scored.iter().filter(|s| s.anomalous) {
        if let Some(k) = &s.kind {
            by_kind.entry(k).or_default().push(s.score);
        }
    }
    let kinds = by_kind
        .into_iter()
        .map(|(kind, scores)| KindReport {
            kind: kind.to_string(),
            anomalous_clips: scores.len(),
            auc: auc(&normal, &scores),
            pauc: pauc(&normal, &scores, MAX_FPR),
        })
        .collect();
    let prf = threshold.map(|t| precision_recall_f1(&normal, &anomalous, t));
    let cannot_tell = |anomalous: bool| {
        scored
            .iter()
            .filter(|s| s.anomalous == anomalous && s.cannot_tell)
            .count()
    };
    IdReport {
        id: id.to_string(),
        normal_clips: normal.len(),
        anomalous_clips: anomalous.len(),
        auc: auc(&normal, &anomalous),
        pauc: pauc(&normal, &anomalous, MAX_FPR),
        kinds,
        accuracy,
        threshold,
        precision: prf.map(|p| p.0),
        recall: prf.map(|p| p.1),
        f1: prf.map(|p| p.2),
        cannot_tell: [cannot_tell(false), cannot_tell(true)],
        normal_scores: normal,
        anomalous_scores: anomalous,
    }
}

/// The type's report from its IDs' reports (means over the IDs).
pub fn report(
    machine_type: &str,
    data: &Path,
    method: Scorer,
    rule: &str,
    ids: Vec<IdReport>,
) -> Report {
    let mut kind_names: Vec<&str> = ids
        .iter()
        .flat_map(|r| r.kinds.iter().map(|k| k.kind.as_str()))
        .collect();
    kind_names.sort();
    kind_names.dedup();
    let kinds = kind_names
        .iter()
        .map(|&kind| {
            let of = |f: fn(&KindReport) -> Option<f64>| {
                mean(
                    ids.iter()
                        .filter_map(|r| r.kinds.iter().find(|k| k.kind == kind))
                        .map(f),
                )
            };
            KindMean {
                kind: kind.to_string(),
                mean_auc: of(|k| k.auc),
                mean_pauc: of(|k| k.pauc),
            }
        })
        .collect();
    Report {
        machine_type: machine_type.to_string(),
        method,
        rule: rule.to_string(),
        data: data.display().to_string(),
        mean_auc: mean(ids.iter().map(|r| r.auc)),
        mean_pauc: mean(ids.iter().map(|r| r.pauc)),
        kinds,
        mean_accuracy: mean(ids.iter().map(|r| r.accuracy)),
        ids,
    }
}

/// A table's number: three decimals, or a dash.
pub(crate) fn fmt(v: Option<f64>) -> String {
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
        report.machine_type,
        report.method.name(),
        report.data
    );
    let _ = writeln!(s, "Score rule: {}.\n", report.rule);
    s += "| ID | normal | anomalous | AUC | pAUC | accuracy | threshold | precision | recall | F1 | cannot tell (normal / anomalous) |\n";
    s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for r in &report.ids {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            r.id,
            r.normal_clips,
            r.anomalous_clips,
            fmt(r.auc),
            fmt(r.pauc),
            fmt(r.accuracy),
            fmt_threshold(r.threshold),
            fmt(r.precision),
            fmt(r.recall),
            fmt(r.f1),
            r.cannot_tell[0],
            r.cannot_tell[1]
        );
    }
    let _ = writeln!(
        s,
        "| **mean** | | | {} | {} | {} | | | | | |",
        fmt(report.mean_auc),
        fmt(report.mean_pauc),
        fmt(report.mean_accuracy)
    );
    if !report.kinds.is_empty() {
        s += "\n| kind of anomaly | mean AUC | mean pAUC |\n|---|---:|---:|\n";
        for k in &report.kinds {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                k.kind,
                fmt(k.mean_auc),
                fmt(k.mean_pauc)
            );
        }
    }
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
