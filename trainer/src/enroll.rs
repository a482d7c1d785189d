//! Enrollment natively: `trainer enroll` makes a profile of one machine from its normal clips
//! (the same computation the page runs), and `trainer enroll-eval` measures whether enrollment
//! works on a machine the network never heard.
//!
//! `enroll-eval`, per machine type: train a model without one machine ID (the held-out one),
//! enroll that ID from the first K of its normal training clips (sorted by name), and score
//! its test clips; the classical baseline (log-mel Gaussian, [`crate::baseline`]) gets the
//! same K clips. Every embedding layer and detector is measured, so that the choice in
//! [`mimimi_model::EmbeddingSpec::default`] and [`mimimi_model::profile::Method::CHOSEN`]
//! rests on numbers.

use crate::baseline::{BaselineConfig, Features};
use crate::data::{Split, prepare_file, scan};
use crate::metrics::{auc, pauc};
use crate::train::{self, TrainConfig};
use mimimi_dsp::FrontEnd;
use mimimi_model::embedding::{EmbeddingSpec, Layer, embed_clip};
use mimimi_model::profile::Method;
use mimimi_model::threshold::ThresholdRule;
use mimimi_model::{Device, Enrollment, Gaussian, ModelFiles, Network, Profile};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A loaded model ready to embed clips.
pub struct Embedder {
    /// The model's files (its manifest names the front end and the weights' sha256).
    pub files: ModelFiles,
    network: Network,
    frontend: FrontEnd,
    device: Device,
}

impl Embedder {
    /// Loads the model in `dir` on the CPU.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let files = ModelFiles::load(dir).map_err(|e| e.to_string())?;
        let device = Device::flex();
        let network = files.network(&device).map_err(|e| e.to_string())?;
        let frontend = FrontEnd::new(files.manifest.frontend);
        Ok(Self {
            files,
            network,
            frontend,
            device,
        })
    }

    /// The embedding of every window of `path` (channel `channel`).
    pub fn embed(
        &self,
        spec: &EmbeddingSpec,
        path: &Path,
        channel: usize,
    ) -> Result<Vec<Vec<f32>>, String> {
        let prepared = prepare_file(path, &self.frontend, channel)?;
        embed_clip(spec, &self.network, &prepared, &self.device)
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// `trainer enroll`: a profile named `name` from `clips`, written to `out` as JSON.
pub fn run_enroll(model: &Path, name: &str, clips: &[PathBuf], out: &Path) -> Result<(), String> {
    let embedder = Embedder::load(model)?;
    let spec = EmbeddingSpec::default();
    let windows = clips
        .iter()
        .map(|c| embedder.embed(&spec, c, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = &embedder.files.manifest;
    let profile = Enrollment {
        name: name.to_string(),
        machine_type: manifest.machine_type.clone(),
        model_sha256: manifest.weights.sha256.clone(),
        embedding: spec,
        method: Method::CHOSEN,
        rule: ThresholdRule::default(),
        created: crate::import::today(),
    }
    .fit(&windows)?;
    let json = serde_json::to_vec_pretty(&profile).map_err(|e| e.to_string())?;
    std::fs::write(out, json).map_err(|e| format!("{}: {e}", out.display()))?;
    let loo: Vec<String> = profile
        .enrollment_scores
        .iter()
        .map(|s| format!("{s:.4}"))
        .collect();
    println!(
        "{}: {} clips, {} windows, {} embedding, threshold {:.6}; leave-one-out scores {}",
        out.display(),
        clips.len(),
        profile.windows,
        profile.embedding.name(),
        profile.threshold,
        loo.join(" ")
    );
    Ok(())
}

/// Reads a profile and checks that it belongs to `model`.
pub fn load_profile(path: &Path, model: &ModelFiles) -> Result<Profile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let profile = Profile::from_json(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    profile.usable_with(&model.manifest.weights.sha256)?;
    Ok(profile)
}

/// What `trainer enroll-eval` needs.
#[derive(Debug, Clone)]
pub struct EnrollEvalConfig {
    /// Data directory (DCASE 2020 or MIMII layout).
    pub data: PathBuf,
    /// Machine types.
    pub types: Vec<String>,
    /// The machine ID left out of training and enrolled.
    pub holdout: String,
    /// Enrollment sizes (clips).
    pub ks: Vec<usize>,
    /// Where the held-out models are trained (reused when already trained).
    pub work: PathBuf,
    /// Training settings of the held-out models (data, type, out and exclusions are set
    /// per type).
    pub train: TrainConfig,
    /// Write every measurement as JSON here.
    pub json: Option<PathBuf>,
}

/// One measurement: a type, an enrollment size and a detector.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Machine type.
    pub machine_type: String,
    /// Held-out machine ID.
    pub id: String,
    /// Enrollment clips.
    pub k: usize,
    /// `network:<layers>:<method>` or `baseline`.
    pub method: String,
    /// AUC on the held-out ID's test clips.
    pub auc: f64,
    /// pAUC (FPR ≤ 0.1).
    pub pauc: f64,
    /// Share of normal test clips above the leave-one-out threshold (network rows only).
    pub false_alarm_rate: Option<f64>,
    /// Share of anomalous test clips above it.
    pub detection_rate: Option<f64>,
}

/// Trains (or reuses) the held-out model of `machine_type`; returns its directory.
fn held_out_model(cfg: &EnrollEvalConfig, machine_type: &str) -> Result<PathBuf, String> {
    let out = cfg
        .work
        .join(format!("{machine_type}-without-{}", cfg.holdout));
    let train_cfg = TrainConfig {
        data: cfg.data.clone(),
        machine_type: machine_type.to_string(),
        out: out.clone(),
        resume: true,
        exclude_ids: vec![cfg.holdout.clone()],
        ..cfg.train.clone()
    };
    if !train::finished(&train_cfg) {
        println!(
            "training {machine_type} without ID {} into {}",
            cfg.holdout,
            out.display()
        );
        train::run(&train_cfg)?;
    }
    Ok(out)
}

/// `trainer enroll-eval`: every measurement, printed as Markdown tables.
pub fn run_eval(cfg: &EnrollEvalConfig) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let kmax = cfg.ks.iter().copied().max().unwrap_or(0);
    let all = EmbeddingSpec {
        layers: Layer::ALL.to_vec(),
    };
    let variants: Vec<EmbeddingSpec> = ["block5", "fused", "block5+fused"]
        .iter()
        .map(|n| EmbeddingSpec::parse(n).expect("known layers"))
        .collect();
    for machine_type in &cfg.types {
        let model_dir = held_out_model(cfg, machine_type)?;
        let embedder = Embedder::load(&model_dir)?;
        let clips = scan(&cfg.data, machine_type, cfg.train.seed)?;
        let mut enroll: Vec<&PathBuf> = clips
            .iter()
            .filter(|c| c.id == cfg.holdout && c.split != Split::Test)
            .map(|c| &c.path)
            .collect();
        enroll.sort();
        if enroll.len() < kmax {
            return Err(format!(
                "{machine_type} ID {} has {} normal training clips; K = {kmax} needs that many",
                cfg.holdout,
                enroll.len()
            ));
        }
        enroll.truncate(kmax);
        let test = |anomalous: bool| {
            clips
                .iter()
                .filter(move |c| c.id == cfg.holdout && c.split == Split::Test)
                .filter(move |c| c.anomalous == anomalous)
                .map(|c| &c.path)
                .collect::<Vec<_>>()
        };
        let (normal, anomalous) = (test(false), test(true));
        println!(
            "{machine_type}: embedding {} enrollment and {}+{} test clips of ID {}",
            enroll.len(),
            normal.len(),
            anomalous.len(),
            cfg.holdout
        );
        let embed_all = |paths: &[&PathBuf]| {
            paths
                .iter()
                .map(|p| embedder.embed(&all, p, 0))
                .collect::<Result<Vec<_>, _>>()
        };
        let (enroll_emb, normal_emb, anomalous_emb) = (
            embed_all(&enroll)?,
            embed_all(&normal)?,
            embed_all(&anomalous)?,
        );
        let features = Features::new(BaselineConfig::default());
        let mel = |paths: &[&PathBuf]| {
            paths
                .iter()
                .map(|p| features.of_file(p))
                .collect::<Result<Vec<_>, _>>()
        };
        let (enroll_mel, normal_mel, anomalous_mel) =
            (mel(&enroll)?, mel(&normal)?, mel(&anomalous)?);
        for &k in &cfg.ks {
            for spec in &variants {
                let pick = |clips: &[Vec<Vec<f32>>]| -> Vec<Vec<Vec<f32>>> {
                    clips.iter().map(|c| select(&all, spec, c)).collect()
                };
                let (e, n, a) = (
                    pick(&enroll_emb[..k]),
                    pick(&normal_emb),
                    pick(&anomalous_emb),
                );
                for method in Method::ALL {
                    let profile = Enrollment {
                        name: format!("{machine_type} {}", cfg.holdout),
                        machine_type: machine_type.clone(),
                        model_sha256: embedder.files.manifest.weights.sha256.clone(),
                        embedding: spec.clone(),
                        method,
                        rule: ThresholdRule::default(),
                        created: crate::import::today(),
                    }
                    .fit(&e)?;
                    let score = |c: &Vec<Vec<f32>>| {
                        let w = profile.window_scores(c);
                        w.iter().sum::<f64>() / w.len().max(1) as f64
                    };
                    let ns: Vec<f64> = n.iter().map(score).collect();
                    let an: Vec<f64> = a.iter().map(score).collect();
                    let rate = |s: &[f64]| {
                        s.iter().filter(|&&x| x > profile.threshold).count() as f64
                            / s.len().max(1) as f64
                    };
                    rows.push(Row {
                        machine_type: machine_type.clone(),
                        id: cfg.holdout.clone(),
                        k,
                        method: format!("network:{}:{}", spec.name(), method.name()),
                        auc: auc(&ns, &an).unwrap_or(f64::NAN),
                        pauc: pauc(&ns, &an, 0.1).unwrap_or(f64::NAN),
                        false_alarm_rate: Some(rate(&ns)),
                        detection_rate: Some(rate(&an)),
                    });
                }
            }
            let vectors: Vec<Vec<f32>> = enroll_mel[..k].iter().flatten().cloned().collect();
            let g = Gaussian::fit(&vectors).map_err(|e| format!("baseline: {e}"))?;
            let ns: Vec<f64> = normal_mel.iter().map(|v| g.score(v)).collect();
            let an: Vec<f64> = anomalous_mel.iter().map(|v| g.score(v)).collect();
            rows.push(Row {
                machine_type: machine_type.clone(),
                id: cfg.holdout.clone(),
                k,
                method: "baseline".into(),
                auc: auc(&ns, &an).unwrap_or(f64::NAN),
                pauc: pauc(&ns, &an, 0.1).unwrap_or(f64::NAN),
                false_alarm_rate: None,
                detection_rate: None,
            });
        }
    }
    println!("{}", markdown(&rows));
    if let Some(path) = &cfg.json {
        let json = serde_json::to_vec_pretty(&rows).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(rows)
}

/// The columns of `spec` out of an embedding made with `all` (layers concatenated in
/// [`Layer::ALL`] order).
fn select(all: &EmbeddingSpec, spec: &EmbeddingSpec, rows: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let width = |l: &Layer| match l {
        Layer::Block5 => mimimi_model::config::BLOCKS[4].channels,
        Layer::Fused => 64,
    };
    let mut ranges = Vec::new();
    let mut at = 0;
    for layer in &all.layers {
        if spec.layers.contains(layer) {
            ranges.push(at..at + width(layer));
        }
        at += width(layer);
    }
    rows.iter()
        .map(|r| {
            ranges
                .iter()
                .flat_map(|g| r[g.clone()].iter().copied())
                .collect()
        })
        .collect()
}

/// The chosen detector against the baseline, then every detector's mean over the types.
pub fn markdown(rows: &[Row]) -> String {
    let chosen = format!(
        "network:{}:{}",
        EmbeddingSpec::default().name(),
        Method::CHOSEN.name()
    );
    let mut out = String::from(
        "| type | held-out ID | K | network AUC | network pAUC | baseline AUC | baseline pAUC | false alarms | detections |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows.iter().filter(|r| r.method == chosen) {
        let Some(b) = rows
            .iter()
            .find(|b| b.method == "baseline" && b.machine_type == r.machine_type && b.k == r.k)
        else {
            continue;
        };
        out += &format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} % | {:.0} % |\n",
            r.machine_type,
            r.id,
            r.k,
            r.auc,
            r.pauc,
            b.auc,
            b.pauc,
            100.0 * r.false_alarm_rate.unwrap_or(f64::NAN),
            100.0 * r.detection_rate.unwrap_or(f64::NAN)
        );
    }
    let mut methods: Vec<&str> = rows.iter().map(|r| r.method.as_str()).collect();
    methods.sort();
    methods.dedup();
    let mut ks: Vec<usize> = rows.iter().map(|r| r.k).collect();
    ks.sort();
    ks.dedup();
    out += "\nMean over the types, AUC / pAUC:\n\n| method |";
    for k in &ks {
        out += &format!(" K = {k} |");
    }
    out += "\n|---|";
    out += &"---|".repeat(ks.len());
    out += "\n";
    for m in methods {
        out += &format!("| {m} |");
        for &k in &ks {
            let sel: Vec<&Row> = rows.iter().filter(|r| r.method == m && r.k == k).collect();
            let n = sel.len().max(1) as f64;
            let a = sel.iter().map(|r| r.auc).sum::<f64>() / n;
            let p = sel.iter().map(|r| r.pauc).sum::<f64>() / n;
            out += &format!(" {a:.3} / {p:.3} |");
        }
        out += "\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_takes_the_columns_of_each_layer() {
        let all = EmbeddingSpec {
            layers: Layer::ALL.to_vec(),
        };
        let row: Vec<f32> = (0..109).map(|i| i as f32).collect();
        let fused = select(
            &all,
            &EmbeddingSpec::parse("fused").unwrap(),
            std::slice::from_ref(&row),
        );
        assert_eq!(fused[0].len(), 64);
        assert_eq!(fused[0][0], 45.0);
        let block5 = select(
            &all,
            &EmbeddingSpec::parse("block5").unwrap(),
            std::slice::from_ref(&row),
        );
        assert_eq!(block5[0], row[..45].to_vec());
        assert_eq!(select(&all, &all, std::slice::from_ref(&row))[0], row);
    }
}
