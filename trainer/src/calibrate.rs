//! `trainer calibrate`: fit a model's score rule and set its decision thresholds from the
//! training and validation normals of each machine ID, never from test labels. Used after
//! `trainer import`, so that an imported model scores like a native one, by `trainer train`
//! once the network is trained, and to switch a model's rule:
//!
//! - cross-entropy of some heads: thresholds from the validation normals' scores by the gamma
//!   rule ([`ThresholdRule`]);
//! - clip Gaussians ([`mimimi_model::clip_gaussian`]): fitted to each ID's training normals,
//!   thresholds as above;
//! - a combined score ([`mimimi_model::combined`], the default): each member fitted to each
//!   ID's training normals and standardised by its validation normals; the combined score's
//!   normal spread pooled over the IDs (a few validation clips per ID give a noisy spread
//!   each, and every ID's score is in the same units); the threshold at the rule's percentile
//!   of it.

use crate::data::{Clip, Split, scan};
use crate::model::Loaded;
use anyhow::Context;
use mimimi_model::combined::{ClipRows, FitOn, Spread};
use mimimi_model::rule::Needs;
use mimimi_model::score::ScoreHeads;
use mimimi_model::threshold::ThresholdRule;
use mimimi_model::{ClipGaussians, Combined, EmbeddingSpec, Member, ModelFiles, ScoreRule, Target};
use std::collections::BTreeMap;
use std::path::Path;

pub use mimimi_model::combined::DEFAULT_MEMBERS;

/// The score rule to switch a model to before calibrating.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Keep the model's own rule (refit it where it is fitted to data).
    Keep,
    /// Cross-entropy of these heads.
    CrossEntropy(ScoreHeads),
    /// Gaussians of these layers' clip-averaged features, fitted to the training normals.
    ClipGaussians(EmbeddingSpec),
    /// A combined score of these members.
    Combined(Vec<Member>),
}

/// The evidence `needs` asks of each of `clips`.
fn rows_of(loaded: &Loaded, clips: &[&Clip], needs: &Needs) -> anyhow::Result<Vec<ClipRows>> {
    clips
        .iter()
        .map(|clip| {
            let prepared = loaded.prepare(&clip.path, 0)?;
            loaded
                .evidence(&prepared, needs, None)
                .map(|e| e.rows)
                .with_context(|| clip.path.display().to_string())
        })
        .collect()
}

/// Each ID's combined score of `members`, fitted to its training clips and standardised by its
/// validation clips, with the normal spread pooled over the IDs.
pub fn fit_combined(
    loaded: &Loaded,
    clips: &[Clip],
    members: &[Member],
) -> anyhow::Result<BTreeMap<String, Combined>> {
    let needs = Needs::of_members(members);
    let mut ids = BTreeMap::new();
    for id in &loaded.files.manifest.classes {
        let of = |split| {
            clips
                .iter()
                .filter(|c| &c.id == id && c.split == split)
                .collect::<Vec<_>>()
        };
        let (train, validation) = (
            rows_of(loaded, &of(Split::Train), &needs)?,
            rows_of(loaded, &of(Split::Validation), &needs)?,
        );
        let c = Combined::fit(members, &train, &validation, FitOn::ClipMeans)
            .with_context(|| format!("machine ID {id}"))?;
        println!(
            "id {id}: {} members fitted to {} training normals, standardised by {} validation normals",
            members.len(),
            train.len(),
            validation.len()
        );
        ids.insert(id.clone(), c);
    }
    let n = ids.len().max(1) as f64;
    let pooled = Spread {
        mean: ids.values().map(|c| c.normal.mean).sum::<f64>() / n,
        std: (ids.values().map(|c| c.normal.std.powi(2)).sum::<f64>() / n).sqrt(),
    };
    for c in ids.values_mut() {
        c.normal = pooled;
    }
    Ok(ids)
}

/// Switches the model in `model_dir` to `rule` (fitted to the training normals of `data`),
/// sets its thresholds from the validation normals and writes its manifest.
pub fn run(model_dir: &Path, data: &Path, seed: u64, rule: Rule) -> anyhow::Result<()> {
    let files = ModelFiles::load(model_dir)?;
    let files = calibrate(files, data, seed, rule)?;
    Ok(files.save(model_dir)?)
}

/// [`run`] on model files in memory.
pub fn calibrate(
    files: ModelFiles,
    data: &Path,
    seed: u64,
    rule: Rule,
) -> anyhow::Result<ModelFiles> {
    let clips = scan(data, &files.manifest.machine_type, seed)?;
    let mut loaded = Loaded::new(files)?;
    let rule = match (rule, &loaded.files.manifest.score_rule) {
        (Rule::Keep, ScoreRule::CrossEntropy { heads }) => Rule::CrossEntropy(*heads),
        (Rule::Keep, ScoreRule::ClipGaussians(g)) => Rule::ClipGaussians(g.embedding.clone()),
        (Rule::Keep, ScoreRule::Combined { ids }) => {
            Rule::Combined(ids.values().next().map(Combined::needs).unwrap_or_default())
        }
        (rule, _) => rule,
    };
    let threshold_rule = ThresholdRule::default();
    let manifest_rule = match &rule {
        Rule::Keep => unreachable!("resolved above"),
        Rule::CrossEntropy(heads) => ScoreRule::CrossEntropy { heads: *heads },
        Rule::ClipGaussians(spec) => {
            let needs = Needs {
                layers: spec.layers.clone(),
                ..Needs::default()
            };
            let mut by_id = BTreeMap::new();
            for id in &loaded.files.manifest.classes {
                let train: Vec<&Clip> = clips
                    .iter()
                    .filter(|c| &c.id == id && c.split == Split::Train)
                    .collect();
                let windows = rows_of(&loaded, &train, &needs)?
                    .into_iter()
                    .map(|rows| {
                        let windows = rows.values().next().map_or(0, Vec::len);
                        (0..windows)
                            .map(|w| {
                                spec.layers
                                    .iter()
                                    .flat_map(|l| rows[&Member::Network(*l)][w].iter().copied())
                                    .collect()
                            })
                            .collect()
                    })
                    .collect();
                println!(
                    "id {id}: clip Gaussian from {} training normals",
                    train.len()
                );
                by_id.insert(id.clone(), windows);
            }
            ScoreRule::ClipGaussians(ClipGaussians::fit(spec.clone(), &by_id)?)
        }
        Rule::Combined(members) => ScoreRule::Combined {
            ids: fit_combined(&loaded, &clips, members)?,
        },
    };
    loaded.files.manifest.score_rule = manifest_rule;
    let mut thresholds = BTreeMap::new();
    let mut report = serde_json::Map::new();
    for id in loaded.files.manifest.classes.clone() {
        let validation: Vec<&Clip> = clips
            .iter()
            .filter(|c| c.id == id && c.split == Split::Validation)
            .collect();
        let threshold = match &loaded.files.manifest.score_rule {
            ScoreRule::Combined { ids } => ids[&id].threshold(&threshold_rule),
            _ => {
                let target = Target::Id(id.clone());
                let mut scores = Vec::new();
                for clip in &validation {
                    let prepared = loaded.prepare(&clip.path, 0)?;
                    scores.push(
                        loaded
                            .score_prepared(&prepared, &target)
                            .with_context(|| clip.path.display().to_string())?
                            .score,
                    );
                }
                threshold_rule.threshold(&scores).with_context(|| {
                    format!(
                        "machine ID {id}: {} validation clip(s), at least 2 with different \
                         scores are needed",
                        scores.len()
                    )
                })?
            }
        };
        println!(
            "id {id}: {} validation normals, threshold {threshold:.6}",
            validation.len()
        );
        thresholds.insert(id.clone(), threshold);
        report.insert(
            id.clone(),
            serde_json::json!({ "validation_clips": validation.len(), "threshold": threshold }),
        );
    }
    let manifest = &mut loaded.files.manifest;
    manifest.thresholds = thresholds;
    manifest.threshold_rule = match manifest.score_rule {
        ScoreRule::Combined { .. } => format!(
            "the {:.0}th percentile of a normal distribution with the mean and spread of the combined score of the validation normals (each left out of the member spreads that score it), pooled over the IDs",
            threshold_rule.percentile * 100.0
        ),
        _ => threshold_rule.describe(),
    };
    let calibration = serde_json::json!({ "data": data.display().to_string(), "seed": seed, "rule": manifest.score_rule.describe(), "ids": report });
    match &mut manifest.metrics {
        serde_json::Value::Object(m) => {
            m.insert("calibration".into(), calibration);
        }
        other => *other = serde_json::json!({ "calibration": calibration }),
    }
    Ok(loaded.files)
}

/// Set a model's per-ID decision thresholds from the validation normals of a data
/// directory (DCASE 2020 or MIMII layout), never from test labels.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory; its manifest is updated in place.
    #[arg(long)]
    pub model: std::path::PathBuf,
    /// Data directory.
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = crate::args::DEFAULT_SEED)]
    pub seed: u64,
    /// Switch the model to the cross-entropy of these heads before calibrating
    /// (default: keep its own rule).
    #[arg(long, value_enum, conflicts_with = "clip_gaussians")]
    pub score_heads: Option<crate::args::ScoreHeadsArg>,
    /// Switch the model to Gaussians of these layers' clip-averaged features (e.g.
    /// `fused`), fitted to each ID's training normals, before calibrating.
    #[arg(long, value_parser = mimimi_model::EmbeddingSpec::parse, conflicts_with = "combined")]
    pub clip_gaussians: Option<EmbeddingSpec>,
    /// Switch the model to a combined score of these members (`+`-separated, e.g.
    /// `logmel+modulation`), fitted to each ID's training normals and standardised by its
    /// validation normals.
    #[arg(long, value_parser = crate::args::Members::parse, conflicts_with = "score_heads")]
    pub combined: Option<crate::args::Members>,
}

impl Args {
    /// Calibrates the model in place.
    pub fn run(self) -> anyhow::Result<bool> {
        let rule = match (self.score_heads, self.clip_gaussians, self.combined) {
            (Some(heads), _, _) => Rule::CrossEntropy(heads.into()),
            (None, Some(spec), _) => Rule::ClipGaussians(spec),
            (None, None, Some(members)) => Rule::Combined(members.0),
            (None, None, None) => Rule::Keep,
        };
        run(&self.model, &self.data, self.seed, rule).map(|()| true)
    }
}
