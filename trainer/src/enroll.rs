//! Enrollment natively: `trainer enroll` makes a profile of one machine from its normal takes
//! (the same computation the page runs), and `trainer enroll-eval` measures whether enrollment
//! works on machines the model never heard.
//!
//! `enroll-eval`: for every machine ID of a corpus of units the model was not trained on, the
//! first K of its normal training clips (sorted by name) are its takes; its test clips are
//! judged against the profile made from them. The classical baseline (log-mel frames, a
//! shrinkage Gaussian, [`crate::baseline`]) gets the same K clips. Per ID and K: AUC and pAUC,
//! per kind of anomaly, and at the profile's own threshold the share of normal clips flagged
//! (false alarms: the threshold's stated target is the rule's 1 − percentile, 10 %) and of
//! anomalous clips caught, and the clips called "cannot tell".

use crate::baseline::{BaselineConfig, Features};
use crate::data::{Clip, Split, scan};
use crate::model::Loaded;
use crate::report::{KindReport, Scored, fmt, id_report, mean_known as mean};
use anyhow::Context;
use mimimi_model::threshold::ThresholdRule;
use mimimi_model::{
    Call, ClipRows, Enrollment, Gaussian, Member, ModelFiles, Needs, Profile, Target,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Largest profile file read (a profile is some tens of kB; a file far larger is not one).
pub const MAX_PROFILE_BYTES: u64 = 4 << 20;

/// The takes' evidence for a profile of `members`.
fn takes_rows(
    loaded: &Loaded,
    members: &[Member],
    files: &[&Path],
) -> anyhow::Result<Vec<ClipRows>> {
    let needs = Needs::of_members(members);
    files
        .iter()
        .map(|f| {
            let prepared = loaded.prepare(f, 0)?;
            loaded
                .evidence(&prepared, &needs, None)
                .map(|e| e.rows)
                .with_context(|| f.display().to_string())
        })
        .collect()
}

/// The profile of `members` named `name` from `takes`.
fn profile(
    loaded: &Loaded,
    name: &str,
    members: &[Member],
    takes: &[ClipRows],
) -> anyhow::Result<Profile> {
    let manifest = &loaded.files.manifest;
    let profile = Enrollment {
        name: name.to_string(),
        machine_type: manifest.machine_type.clone(),
        model_sha256: manifest.weights.sha256.clone(),
        members: members.to_vec(),
        rule: ThresholdRule::default(),
        created: crate::import::today(),
    }
    .fit(takes)?;
    Ok(profile)
}

/// `trainer enroll`: a profile named `name` from `clips`, written to `out` as JSON.
pub fn run_enroll(
    model: &Path,
    name: &str,
    members: &[Member],
    clips: &[PathBuf],
    out: &Path,
) -> anyhow::Result<()> {
    let loaded = Loaded::load(model)?;
    let files: Vec<&Path> = clips.iter().map(PathBuf::as_path).collect();
    let takes = takes_rows(&loaded, members, &files)?;
    let profile = profile(&loaded, name, members, &takes)?;
    let json = serde_json::to_vec_pretty(&profile)?;
    std::fs::write(out, json).with_context(|| out.display().to_string())?;
    let names: Vec<String> = members.iter().map(|m| m.name()).collect();
    println!(
        "{}: {} takes, {} windows, {}; threshold {:.4} (normal takes score {:.3} ± {:.3})",
        out.display(),
        profile.takes,
        profile.windows,
        names.join(" + "),
        profile.threshold,
        profile.detector.normal.mean,
        profile.detector.normal.std
    );
    Ok(())
}

/// Reads a profile (size-capped), validates it and checks that it belongs to `model`.
pub fn load_profile(path: &Path, model: &ModelFiles) -> anyhow::Result<Profile> {
    let read = || -> anyhow::Result<Profile> {
        let size = std::fs::metadata(path)?.len();
        if size > MAX_PROFILE_BYTES {
            anyhow::bail!("{size} bytes is not a profile (at most {MAX_PROFILE_BYTES})");
        }
        let profile = Profile::from_json(&std::fs::read(path)?)?;
        profile.usable_with(&model.manifest.weights.sha256)?;
        Ok(profile)
    };
    read().with_context(|| path.display().to_string())
}

/// What `trainer enroll-eval` needs.
#[derive(Debug, Clone)]
pub struct EnrollEvalConfig {
    /// The model that enrolls (one that never heard these units).
    pub model: PathBuf,
    /// The corpus of the units to enroll (DCASE 2020 or MIMII layout).
    pub data: PathBuf,
    /// Enrollment sizes (takes).
    pub ks: Vec<usize>,
    /// Members of the profiles.
    pub members: Vec<Member>,
    /// Seed of the validation split (which clips are "training" clips, the takes' pool).
    pub seed: u64,
    /// Write every measurement as JSON here.
    pub json: Option<PathBuf>,
}

/// What judged an enrolled machine's test clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The profile the page makes (the combined score of the given members).
    Profile,
    /// The classical baseline given the same takes.
    Baseline,
}

/// One enrollment measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Machine type.
    pub machine_type: String,
    /// Enrolled machine ID.
    pub id: String,
    /// Takes.
    pub k: usize,
    /// What judged the clips.
    pub method: Method,
    /// AUC of its test clips.
    pub auc: Option<f64>,
    /// pAUC (FPR ≤ 0.1).
    pub pauc: Option<f64>,
    /// Per kind of anomaly: AUC and pAUC of its clips against all the normal ones.
    pub kinds: Vec<KindReport>,
    /// Share of normal test clips above the profile's threshold (profile rows only).
    pub false_alarm_rate: Option<f64>,
    /// Share of anomalous test clips above it.
    pub detection_rate: Option<f64>,
    /// Normal and anomalous test clips called "cannot tell" (profile rows only).
    pub cannot_tell: [usize; 2],
}

/// `trainer enroll-eval`: every measurement, printed as a Markdown table.
pub fn run_eval(cfg: &EnrollEvalConfig) -> anyhow::Result<Vec<Row>> {
    let loaded = Loaded::load(&cfg.model)?;
    let machine_type = loaded.files.manifest.machine_type.clone();
    let clips = scan(&cfg.data, &machine_type, cfg.seed)?;
    let mut ids: Vec<&str> = clips.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    let kmax = cfg.ks.iter().copied().max().unwrap_or(0);
    let features = Features::new(BaselineConfig::default());
    let mut rows = Vec::new();
    for id in ids {
        let mut pool: Vec<&Clip> = clips
            .iter()
            .filter(|c| c.id == id && c.split != Split::Test)
            .collect();
        pool.sort_by(|a, b| a.path.cmp(&b.path));
        if pool.len() < kmax {
            return Err(anyhow::anyhow!(
                "{machine_type} ID {id} has {} normal training clips; K = {kmax} needs that many",
                pool.len()
            ));
        }
        let test: Vec<&Clip> = clips
            .iter()
            .filter(|c| c.id == id && c.split == Split::Test)
            .collect();
        println!(
            "{machine_type} ID {id}: enrolling from up to {kmax} takes, judging {} test clips",
            test.len()
        );
        let pool_files: Vec<&Path> = pool[..kmax].iter().map(|c| c.path.as_path()).collect();
        let takes = takes_rows(&loaded, &cfg.members, &pool_files)?;
        let test_files: Vec<&Path> = test.iter().map(|c| c.path.as_path()).collect();
        let test_rows = takes_rows(&loaded, &cfg.members, &test_files)?;
        let take_mel = pool_files
            .iter()
            .map(|p| features.of_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        let test_mel = test_files
            .iter()
            .map(|p| features.of_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        for &k in &cfg.ks {
            let p = profile(
                &loaded,
                &format!("{machine_type} {id}"),
                &cfg.members,
                &takes[..k],
            )?;
            let target = Target::Enrolled(Box::new(p));
            let mut scored = Vec::new();
            for (clip, rows) in test.iter().zip(&test_rows) {
                let evidence = mimimi_model::Evidence {
                    rows: rows.clone(),
                    ..Default::default()
                };
                let j = mimimi_model::judge(&loaded.files.manifest, &target, &evidence)
                    .with_context(|| clip.path.display().to_string())?;
                scored.push((
                    j.verdict,
                    Scored {
                        score: j.score.score,
                        anomalous: clip.anomalous,
                        kind: clip.kind.clone(),
                        cannot_tell: j.verdict.call == Call::CannotTell,
                    },
                ));
            }
            let rate = |anomalous: bool| {
                let of: Vec<_> = scored
                    .iter()
                    .filter(|(_, s)| s.anomalous == anomalous)
                    .collect();
                of.iter().filter(|(v, _)| v.anomalous()).count() as f64 / of.len().max(1) as f64
            };
            let (false_alarms, detections) = (rate(false), rate(true));
            let scored: Vec<Scored> = scored.into_iter().map(|(_, s)| s).collect();
            rows.push(row(
                &machine_type,
                id,
                k,
                Method::Profile,
                &scored,
                Some((false_alarms, detections)),
            ));
            let vectors: Vec<Vec<f32>> = take_mel[..k].iter().flatten().cloned().collect();
            let g = Gaussian::fit(&vectors).context("baseline")?;
            let baseline: Vec<Scored> = test
                .iter()
                .zip(&test_mel)
                .map(|(clip, v)| Scored {
                    score: g.score(v),
                    anomalous: clip.anomalous,
                    kind: clip.kind.clone(),
                    cannot_tell: false,
                })
                .collect();
            rows.push(row(&machine_type, id, k, Method::Baseline, &baseline, None));
        }
    }
    println!("{}", markdown(&rows));
    if let Some(path) = &cfg.json {
        let json = serde_json::to_vec_pretty(&rows)?;
        std::fs::write(path, json).with_context(|| path.display().to_string())?;
    }
    Ok(rows)
}

fn row(
    machine_type: &str,
    id: &str,
    k: usize,
    method: Method,
    scored: &[Scored],
    rates: Option<(f64, f64)>,
) -> Row {
    let r = id_report(id, scored, None, None);
    Row {
        machine_type: machine_type.to_string(),
        id: id.to_string(),
        k,
        method,
        auc: r.auc,
        pauc: r.pauc,
        kinds: r.kinds,
        false_alarm_rate: rates.map(|r| r.0),
        detection_rate: rates.map(|r| r.1),
        cannot_tell: r.cannot_tell,
    }
}

/// The rows of K takes judged by `method`.
pub fn rows_of(rows: &[Row], k: usize, method: Method) -> impl Iterator<Item = &Row> + Clone {
    rows.iter().filter(move |r| r.k == k && r.method == method)
}

/// Head of the enrollment table ([`Summary::line`] writes its lines).
pub const TABLE_HEAD: &str = "| type | K | profile AUC | profile pAUC | baseline AUC | baseline pAUC | false alarms | detections | cannot tell (normal / anomalous) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";

/// K takes' enrollment, means over the IDs: one line of the enrollment table.
pub struct Summary {
    /// The profile's AUC and pAUC.
    pub profile: [Option<f64>; 2],
    /// The baseline's AUC and pAUC.
    pub baseline: [Option<f64>; 2],
    /// Shares of normal clips flagged and of anomalous clips caught at the profile's threshold.
    pub rates: [Option<f64>; 2],
    /// Normal and anomalous clips the profile called "cannot tell".
    pub cannot_tell: [usize; 2],
}

impl Summary {
    /// The summary of K takes in `rows`; none where no profile was measured with K.
    pub fn of(rows: &[Row], k: usize) -> Option<Self> {
        let (p, b) = (
            rows_of(rows, k, Method::Profile),
            rows_of(rows, k, Method::Baseline),
        );
        p.clone().next()?;
        Some(Self {
            profile: [
                mean(p.clone().map(|r| r.auc)),
                mean(p.clone().map(|r| r.pauc)),
            ],
            baseline: [mean(b.clone().map(|r| r.auc)), mean(b.map(|r| r.pauc))],
            rates: [
                mean(p.clone().map(|r| r.false_alarm_rate)),
                mean(p.clone().map(|r| r.detection_rate)),
            ],
            cannot_tell: p.fold([0, 0], |a, r| {
                [a[0] + r.cannot_tell[0], a[1] + r.cannot_tell[1]]
            }),
        })
    }

    /// Its line of the table, for `machine_type` and K.
    pub fn line(&self, machine_type: &str, k: usize) -> String {
        format!(
            "| {machine_type} | {k} | {} | {} | {} | {} | {:.0} % | {:.0} % | {} / {} |\n",
            fmt(self.profile[0]),
            fmt(self.profile[1]),
            fmt(self.baseline[0]),
            fmt(self.baseline[1]),
            100.0 * self.rates[0].unwrap_or(f64::NAN),
            100.0 * self.rates[1].unwrap_or(f64::NAN),
            self.cannot_tell[0],
            self.cannot_tell[1]
        )
    }
}

/// Per K: the profile against the baseline, means over the IDs.
pub fn markdown(rows: &[Row]) -> String {
    let mut ks: Vec<usize> = rows.iter().map(|r| r.k).collect();
    ks.sort();
    ks.dedup();
    let machine_type = rows.first().map_or("", |r| r.machine_type.as_str());
    let mut out = String::from(TABLE_HEAD);
    for k in ks {
        if let Some(summary) = Summary::of(rows, k) {
            out += &summary.line(machine_type, k);
        }
    }
    out
}

/// Enroll a machine from its normal takes: a profile (JSON, the page's format) of a
/// combined score, with a threshold from the takes themselves.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory of the machine's type.
    #[arg(long)]
    pub model: std::path::PathBuf,
    /// Name of the machine.
    #[arg(long)]
    pub name: String,
    /// Profile file to write.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Members of the profile's combined score, `+`-separated.
    #[arg(long, default_value = crate::calibrate::DEFAULT_MEMBERS, value_parser = crate::args::Members::parse)]
    pub members: crate::args::Members,
    /// Normal WAV takes of the machine (at least 3).
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

impl Args {
    /// Writes the profile.
    pub fn run(self) -> anyhow::Result<bool> {
        run_enroll(
            &self.model,
            &self.name,
            &self.members.0,
            &self.files,
            &self.out,
        )
        .map(|()| true)
    }
}

/// Measure enrollment on machines a model never heard: every machine ID of a corpus is
/// enrolled from K of its normal clips and its test clips are judged; against the
/// classical baseline given the same clips.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// The model that enrolls (trained on other units, e.g. a bundled model).
    #[arg(long)]
    pub model: std::path::PathBuf,
    /// The corpus of the units to enroll (DCASE 2020 or MIMII layout).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Enrollment sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5,10,30")]
    pub k: Vec<usize>,
    /// Members of the profiles, `+`-separated.
    #[arg(long, default_value = crate::calibrate::DEFAULT_MEMBERS, value_parser = crate::args::Members::parse)]
    pub members: crate::args::Members,
    /// Seed of the validation split.
    #[arg(long, default_value_t = crate::args::DEFAULT_SEED)]
    pub seed: u64,
    /// Write every measurement as JSON.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

impl EvalArgs {
    /// Measures enrollment and prints its table.
    pub fn run(self) -> anyhow::Result<bool> {
        let config = EnrollEvalConfig {
            model: self.model,
            data: self.data,
            ks: self.k,
            members: self.members.0,
            seed: self.seed,
            json: self.json,
        };
        run_eval(&config).map(|_| true)
    }
}
