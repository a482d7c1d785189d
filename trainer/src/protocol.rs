//! `trainer protocol`: the measurement the README's quality tables come from, on machines whose
//! physics chose nothing.
//!
//! For each machine type, on a held-out family of `trainer synth` (one never used to choose a
//! schedule, a score rule, a member or a threshold rule): a corpus of its units is made, a
//! model is trained on their normal clips with the default pipeline (`trainer train`'s
//! defaults and the given schedule), and its test clips are judged by the default rule and by
//! the classical baseline, per machine ID and per kind of anomaly. Then enrollment: models
//! that never heard the family (`--enroll-models`, e.g. the bundled ones) enroll each of its
//! units from K of its normal clips, against the baseline given the same clips.
//!
//! Every step leaves its result under `--work` and is skipped when it is there, so an
//! interrupted run continues where it stopped.

use crate::enroll::{self, EnrollEvalConfig, Method};
use crate::eval;
use crate::report::{Report, fmt, mean_known as mean};
use crate::synth::{self, MachineType, SynthConfig};
use crate::train::{self, TrainConfig};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `trainer protocol` needs.
#[derive(Debug, Clone)]
pub struct ProtocolConfig {
    /// Working directory (corpora, models, results).
    pub work: PathBuf,
    /// Machine types.
    pub types: Vec<MachineType>,
    /// The held-out family.
    pub family: usize,
    /// The corpus (its `types`, `out` and `family` are set here).
    pub corpus: SynthConfig,
    /// How the models are trained (`data`, `machine_type` and `out` are set per type).
    pub train: TrainConfig,
    /// Directory of models that never heard the family, one sub-directory per type
    /// (`<dir>/<type>`); enrollment is skipped without it.
    pub enroll_models: Option<PathBuf>,
    /// Enrollment sizes.
    pub ks: Vec<usize>,
}

/// Everything measured for one type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeResult {
    /// The machine type.
    pub machine_type: String,
    /// The default pipeline's evaluation.
    pub model: serde_json::Value,
    /// The baseline's.
    pub baseline: serde_json::Value,
    /// Enrollment rows (may be empty).
    pub enrollment: serde_json::Value,
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(value)?)
        .with_context(|| path.display().to_string())
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// A step's JSON result: read from `path` if there, else computed and written.
fn cached<T: Serialize>(
    path: &Path,
    compute: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<serde_json::Value> {
    if let Some(v) = read_json(path) {
        println!("reusing {}", path.display());
        return Ok(v);
    }
    let v = serde_json::to_value(compute()?)?;
    write_json(path, &v)?;
    Ok(v)
}

/// Runs the protocol; writes `results.json` and `results.md` under `work`.
pub fn run(cfg: &ProtocolConfig) -> anyhow::Result<Vec<TypeResult>> {
    let corpus = cfg.work.join(format!("corpus-family{}", cfg.family));
    let made = corpus.join(".complete");
    if !made.exists() {
        let config = SynthConfig {
            types: cfg.types.clone(),
            family: cfg.family,
            ..cfg.corpus.clone()
        };
        println!(
            "synthesising family {} into {}",
            cfg.family,
            corpus.display()
        );
        synth::run(&corpus, &config)?;
        std::fs::write(&made, b"")?;
    }
    let mut results = Vec::new();
    for &machine in &cfg.types {
        let name = machine.name();
        let model = cfg.work.join(format!("model-family{}-{name}", cfg.family));
        let trained = model.join(".complete");
        if !trained.exists() {
            let config = TrainConfig {
                data: corpus.clone(),
                machine_type: name.into(),
                out: model.clone(),
                resume: true,
                ..cfg.train.clone()
            };
            println!(
                "training {name} on family {} into {}",
                cfg.family,
                model.display()
            );
            train::run(&config)?;
            std::fs::write(&trained, b"")?;
        }
        let seed = cfg.train.seed;
        let model_eval = cached(
            &cfg.work
                .join(format!("eval-family{}-{name}.json", cfg.family)),
            || eval::evaluate(&model, &corpus, seed),
        )?;
        let baseline = cached(
            &cfg.work
                .join(format!("baseline-family{}-{name}.json", cfg.family)),
            || crate::baseline::evaluate(&corpus, name, seed),
        )?;
        let enrollment = match &cfg.enroll_models {
            Some(dir) => cached(
                &cfg.work
                    .join(format!("enroll-family{}-{name}.json", cfg.family)),
                || {
                    enroll::run_eval(&EnrollEvalConfig {
                        model: dir.join(name),
                        data: corpus.clone(),
                        ks: cfg.ks.clone(),
                        members: match &cfg.train.rule {
                            crate::calibrate::Rule::Combined(m) => m.clone(),
                            _ => {
                                mimimi_model::Member::parse_list(crate::calibrate::DEFAULT_MEMBERS)
                                    .expect("known members")
                            }
                        },
                        seed,
                        json: None,
                    })
                },
            )?,
            None => serde_json::Value::Array(Vec::new()),
        };
        results.push(TypeResult {
            machine_type: name.into(),
            model: model_eval,
            baseline,
            enrollment,
        });
    }
    write_json(&cfg.work.join("results.json"), &results)?;
    let md = markdown(cfg, &results)?;
    std::fs::write(cfg.work.join("results.md"), &md)?;
    println!("{md}");
    Ok(results)
}

/// The quality tables (docs/results/quality.md).
pub fn markdown(cfg: &ProtocolConfig, results: &[TypeResult]) -> anyhow::Result<String> {
    let report = |v: &serde_json::Value| serde_json::from_value::<Report>(v.clone());
    let mut s = String::new();
    let family = |m: MachineType| m.families()[cfg.family];
    let _ = writeln!(
        s,
        "Trained IDs, family {} (held out), per type: the default pipeline against the baseline.\n",
        cfg.family
    );
    s += "| type (family) | default AUC | default pAUC | baseline AUC | baseline pAUC | ID accuracy | cannot tell (normal / anomalous) |\n|---|---:|---:|---:|---:|---:|---:|\n";
    let mut means = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for (r, &m) in results.iter().zip(&cfg.types) {
        let (a, b) = (report(&r.model)?, report(&r.baseline)?);
        let ct = a.ids.iter().fold([0, 0], |c, i| {
            [c[0] + i.cannot_tell[0], c[1] + i.cannot_tell[1]]
        });
        let _ = writeln!(
            s,
            "| {} ({}) | {} | {} | {} | {} | {} | {} / {} |",
            r.machine_type,
            family(m),
            fmt(a.mean_auc),
            fmt(a.mean_pauc),
            fmt(b.mean_auc),
            fmt(b.mean_pauc),
            fmt(a.mean_accuracy),
            ct[0],
            ct[1]
        );
        for (slot, v) in means
            .iter_mut()
            .zip([a.mean_auc, a.mean_pauc, b.mean_auc, b.mean_pauc])
        {
            slot.push(v);
        }
    }
    let m = |i: usize| fmt(mean(means[i].iter().copied()));
    let _ = writeln!(
        s,
        "| **mean** | **{}** | **{}** | **{}** | **{}** | | |",
        m(0),
        m(1),
        m(2),
        m(3)
    );
    s += "\nPer kind of anomaly (means over the IDs), default / baseline:\n\n| type | kind | default AUC | default pAUC | baseline AUC | baseline pAUC |\n|---|---|---:|---:|---:|---:|\n";
    for r in results {
        let (a, b) = (report(&r.model)?, report(&r.baseline)?);
        for k in &a.kinds {
            let base = b.kinds.iter().find(|x| x.kind == k.kind);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.machine_type,
                k.kind,
                fmt(k.mean_auc),
                fmt(k.mean_pauc),
                fmt(base.and_then(|x| x.mean_auc)),
                fmt(base.and_then(|x| x.mean_pauc))
            );
        }
    }
    if results
        .iter()
        .any(|r| r.enrollment.as_array().is_some_and(|a| !a.is_empty()))
    {
        s += "\nEnrollment of the family's units by models that never heard it, per K (means over the IDs):\n\n";
        s += enroll::TABLE_HEAD;
        let enrolled = results
            .iter()
            .map(|r| serde_json::from_value::<Vec<enroll::Row>>(r.enrollment.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut by_k: std::collections::BTreeMap<usize, [Vec<Option<f64>>; 2]> = Default::default();
        for (r, rows) in results.iter().zip(&enrolled) {
            for &k in &cfg.ks {
                let Some(summary) = enroll::Summary::of(rows, k) else {
                    continue;
                };
                let e = by_k.entry(k).or_default();
                e[0].push(summary.profile[0]);
                e[1].push(summary.baseline[0]);
                s += &summary.line(&r.machine_type, k);
            }
        }
        for (k, [p, b]) in by_k {
            let _ = writeln!(
                s,
                "| **mean** | {k} | **{}** | | **{}** | | | | |",
                fmt(mean(p.into_iter())),
                fmt(mean(b.into_iter()))
            );
        }
        enrollment_by_kind(&mut s, &cfg.ks, results, &enrolled);
    }
    Ok(s)
}

/// Enrollment per kind of anomaly: for each K, the profile's and the baseline's AUC / pAUC
/// (means over the IDs of each kind's clips against all the normal ones).
fn enrollment_by_kind(
    s: &mut String,
    ks: &[usize],
    results: &[TypeResult],
    enrolled: &[Vec<enroll::Row>],
) {
    *s += "\nEnrollment per kind of anomaly (means over the IDs), AUC / pAUC, the profile against the baseline:\n\n| type | kind |";
    for k in ks {
        let _ = write!(s, " K = {k}: profile | baseline |");
    }
    *s += "\n|---|---|";
    *s += &"---:|---:|".repeat(ks.len());
    *s += "\n";
    for (r, rows) in results.iter().zip(enrolled) {
        let kinds: Vec<&str> = rows
            .first()
            .map(|x| x.kinds.iter().map(|k| k.kind.as_str()).collect())
            .unwrap_or_default();
        for kind in kinds {
            let _ = write!(s, "| {} | {kind} |", r.machine_type);
            for &k in ks {
                for method in [Method::Profile, Method::Baseline] {
                    let of: Vec<_> = enroll::rows_of(rows, k, method)
                        .filter_map(|x| x.kinds.iter().find(|q| q.kind == kind))
                        .collect();
                    let _ = write!(
                        s,
                        " {} / {} |",
                        fmt(mean(of.iter().map(|q| q.auc))),
                        fmt(mean(of.iter().map(|q| q.pauc)))
                    );
                }
            }
            *s += "\n";
        }
    }
}

/// Measure the default pipeline and enrollment on a held-out family of `synth` against
/// the classical baseline: the quality tables of docs/results/quality.md (results.md,
/// results.json).
#[derive(clap::Args)]
pub struct Args {
    /// Working directory (corpora, models, results; finished steps are reused).
    #[arg(long)]
    pub work: std::path::PathBuf,
    /// Machine types, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "fan,pump,slider,valve")]
    pub types: Vec<crate::synth::MachineType>,
    /// The held-out family (the newest: docs/results/quality.md).
    #[arg(long, default_value_t = 5)]
    pub family: usize,
    /// Normal training clips per machine ID.
    #[arg(long, default_value_t = 54)]
    pub train_per_id: usize,
    /// Normal test clips per machine ID.
    #[arg(long, default_value_t = 20)]
    pub test_normal_per_id: usize,
    /// Anomalous test clips per machine ID.
    #[arg(long, default_value_t = 25)]
    pub test_anomaly_per_id: usize,
    /// Clip length in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seed of the corpus's recordings.
    #[arg(long, default_value_t = 21)]
    pub corpus_seed: u64,
    /// Models that never heard the family, `<dir>/<type>` (e.g. web/assets/models):
    /// enrollment is measured with them.
    #[arg(long)]
    pub enroll_models: Option<std::path::PathBuf>,
    /// Enrollment sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5,10,30")]
    pub k: Vec<usize>,
    /// Stop training each model after this many minutes.
    #[arg(long)]
    pub max_minutes: Option<f64>,
    #[command(flatten)]
    pub schedule: crate::args::Schedule,
}

impl Args {
    /// Runs (or resumes) the protocol and writes its tables.
    pub fn run(self) -> anyhow::Result<bool> {
        let corpus = SynthConfig {
            train_per_id: self.train_per_id,
            test_normal_per_id: self.test_normal_per_id,
            test_anomaly_per_id: self.test_anomaly_per_id,
            seconds: self.seconds,
            snr_db: 0.0,
            snr_spread_db: 6.0,
            seed: self.corpus_seed,
            ..Default::default()
        };
        let config = ProtocolConfig {
            work: self.work,
            types: self.types,
            family: self.family,
            corpus,
            train: TrainConfig {
                max_minutes: self.max_minutes,
                ..self
                    .schedule
                    .config(PathBuf::new(), String::new(), PathBuf::new())
            },
            enroll_models: self.enroll_models,
            ks: self.k,
        };
        run(&config).map(|_| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::KindReport;

    fn row(id: &str, method: Method, jerky: (f64, f64)) -> enroll::Row {
        enroll::Row {
            machine_type: "slider".into(),
            id: id.into(),
            k: 5,
            method,
            auc: None,
            pauc: None,
            kinds: vec![KindReport {
                kind: "jerky".into(),
                anomalous_clips: 5,
                auc: Some(jerky.0),
                pauc: Some(jerky.1),
            }],
            false_alarm_rate: None,
            detection_rate: None,
            cannot_tell: [0, 0],
        }
    }

    #[test]
    fn enrollment_per_kind_averages_each_method_over_the_ids() {
        let results = [TypeResult {
            machine_type: "slider".into(),
            model: serde_json::Value::Null,
            baseline: serde_json::Value::Null,
            enrollment: serde_json::Value::Null,
        }];
        let rows = vec![
            row("00", Method::Profile, (0.9, 0.7)),
            row("00", Method::Baseline, (0.5, 0.2)),
            row("02", Method::Profile, (0.7, 0.5)),
            row("02", Method::Baseline, (0.3, 0.4)),
        ];
        let mut s = String::new();
        enrollment_by_kind(&mut s, &[5], &results, &[rows]);
        assert!(
            s.contains("| K = 5: profile | baseline |\n|---|---|---:|---:|\n"),
            "{s}"
        );
        assert!(
            s.contains("| slider | jerky | 0.800 / 0.600 | 0.400 / 0.300 |\n"),
            "{s}"
        );
    }
}
