//! `trainer train`: one model per machine type, classes = that type's machine IDs, trained on
//! normal sounds only to tell the IDs apart (the self-supervised objective: the sum of the
//! three heads' cross-entropies), with Adam.
//!
//! - Features are computed once per run: every training and validation clip is decoded and
//!   turned into its normalised complex spectrogram before the first epoch.
//! - Each epoch visits every training clip once, in a seeded random order, as one random
//!   64-frame crop (the reference's augmentation), batch by batch.
//! - Validation (normal clips held out by file, fixed seed; never test clips) scores every
//!   deterministic window: its loss decides the best checkpoint and early stopping; its
//!   per-ID anomaly scores set the decision thresholds.
//! - A checkpoint (model, optimizer state, progress) is written after every epoch under
//!   `OUT/checkpoint/`; `--resume` continues from it without losing finished epochs.
//! - The best model so far is always exported to `OUT/` (manifest + weights).

use crate::args::{BackendArg, RuleArg, Schedule};
use crate::data::{Split, prepare_file, scan};
use crate::rng::Rng;
use anyhow::Context;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use mimimi_dsp::{FrontEnd, FrontEndConfig, Normalization, Spectrogram, Window};
use mimimi_model::file::{Manifest, ModelFiles, Provenance, WeightsInfo};
use mimimi_model::input::batch_from_windows;
use mimimi_model::score::{ScoreHeads, loss};
use mimimi_model::threshold::ThresholdRule;
use mimimi_model::{Device, Network, NetworkConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Compute backend for training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// wgpu: Vulkan, Metal or DX12 on a GPU.
    Wgpu,
    /// The pure-Rust CPU backend (burn's flex; "ndarray" on the command line).
    Cpu,
}

/// Everything a training run needs.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Data directory (DCASE 2020 or MIMII layout).
    pub data: PathBuf,
    /// Machine type.
    pub machine_type: String,
    /// Output model directory.
    pub out: PathBuf,
    /// Maximum epochs.
    pub epochs: usize,
    /// Clips per batch.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Compute backend.
    pub backend: Backend,
    /// Seed of the split, the initialisation, the order and the crops.
    pub seed: u64,
    /// Continue from `OUT/checkpoint`.
    pub resume: bool,
    /// Epochs without a better validation loss before stopping.
    pub patience: usize,
    /// Time budget of the whole run in minutes: no epoch is started that would, at the pace
    /// of the last one, end after it.
    pub max_minutes: Option<f64>,
    /// Machine IDs left out entirely (to measure enrollment on a machine the network never
    /// heard).
    pub exclude_ids: Vec<String>,
    /// The cross-entropy the per-epoch validation scores (and the thresholds of the models
    /// exported during training) use.
    pub score_heads: ScoreHeads,
    /// The score rule the finished model is calibrated with.
    pub rule: crate::calibrate::Rule,
    /// How each clip's spectrogram is scaled (stored in the manifest's front end).
    pub normalization: Normalization,
    /// Give every training example its own random recording channel ([`channel_gains`]).
    pub augment_channel: bool,
}

/// A random smooth gain per frequency bin: a tilt of up to ±3 dB across the band and three
/// peaks or dips (σ 3 dB, widths of 2–10 % of the band). Multiplying an example's complex
/// spectrum by it (the phase is kept) changes its microphone and room, as another phone at
/// another spot would: the network cannot tell machine IDs apart by their recording channel
/// and has to learn the machines themselves.
pub fn channel_gains(bins: usize, rng: &mut Rng) -> Vec<f32> {
    let tilt = rng.range(-0.35, 0.35);
    let bumps: Vec<(f64, f64, f64)> = (0..3)
        .map(|_| {
            (
                rng.range(0.0, 1.0),
                rng.range(0.02, 0.1),
                0.35 * rng.normal(),
            )
        })
        .collect();
    (0..bins)
        .map(|k| {
            let f = k as f64 / (bins.max(2) - 1) as f64;
            let log_gain = tilt * (f - 0.5)
                + bumps
                    .iter()
                    .map(|(c, w, a)| a * (-(f - c).powi(2) / (2.0 * w * w)).exp())
                    .sum::<f64>();
            log_gain.exp() as f32
        })
        .collect()
}

/// One epoch's numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss per head (magnitude, complex, total).
    pub train_loss_heads: [f64; 3],
    /// Mean validation loss (sum of the three heads).
    pub val_loss: f64,
    /// Share of validation clips whose total head picks their own machine ID.
    pub val_accuracy: f64,
    /// Training examples per second.
    pub examples_per_s: f64,
}

/// Progress of a run, saved with each checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RunState {
    epochs_done: usize,
    best_val_loss: Option<f64>,
    epochs_since_best: usize,
    history: Vec<EpochStats>,
    /// The run's normalisation (absent in checkpoints of older runs: the default).
    #[serde(default)]
    normalization: Normalization,
}

struct Example {
    class: usize,
    id: String,
    spec: Spectrogram,
    windows: Vec<Window>,
}

fn features(
    clips: &[&crate::data::Clip],
    classes: &[String],
    frontend: &FrontEnd,
    what: &str,
) -> anyhow::Result<Vec<Example>> {
    let bar = ProgressBar::new(clips.len() as u64).with_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} clips ({eta})")
            .expect("a valid progress template"),
    );
    bar.set_message(format!("features {what}"));
    let mut out = Vec::with_capacity(clips.len());
    for clip in clips {
        let prepared = prepare_file(&clip.path, frontend, 0)?;
        let class = classes
            .iter()
            .position(|c| c == &clip.id)
            .expect("known id");
        out.push(Example {
            class,
            id: clip.id.clone(),
            spec: prepared.spectrogram,
            windows: prepared.windows,
        });
        bar.inc(1);
    }
    bar.finish();
    Ok(out)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, path).with_context(|| path.display().to_string())
}

/// Validation: mean loss, accuracy, and each clip's anomaly score against its own ID.
fn validate(
    model: &Network,
    heads: ScoreHeads,
    examples: &[Example],
    device: &Device,
) -> (f64, f64, Vec<(String, f64)>) {
    let model = model.valid();
    let (mut loss_sum, mut windows, mut correct) = (0.0, 0usize, 0usize);
    let mut scores = Vec::new();
    for ex in examples {
        let (re, im) = batch_from_windows(&ex.spec, &ex.windows, device);
        let out = model.forward(re, im);
        let labels = vec![ex.class; ex.windows.len()];
        let l: f32 = loss(&out, &labels).into_scalar();
        loss_sum += f64::from(l) * ex.windows.len() as f64;
        windows += ex.windows.len();
        let [_, n] = out.total.dims();
        let mean_logits: Vec<f32> = out
            .total
            .clone()
            .mean_dim(0)
            .reshape([n])
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let picked =
            (0..mean_logits.len()).max_by(|&a, &b| mean_logits[a].total_cmp(&mean_logits[b]));
        correct += usize::from(picked == Some(ex.class));
        let window_scores: Vec<f32> = heads
            .score(out, ex.class)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let score = window_scores.iter().map(|&v| f64::from(v)).sum::<f64>()
            / window_scores.len().max(1) as f64;
        scores.push((ex.id.clone(), score));
    }
    (
        loss_sum / windows.max(1) as f64,
        correct as f64 / examples.len().max(1) as f64,
        scores,
    )
}

/// Runs the training; returns the history.
pub fn run(cfg: &TrainConfig) -> anyhow::Result<Vec<EpochStats>> {
    let run_start = Instant::now();
    let mut clips = scan(&cfg.data, &cfg.machine_type, cfg.seed)?;
    clips.retain(|c| !cfg.exclude_ids.contains(&c.id));
    let classes = crate::data::train_ids(&clips);
    if classes.len() < 2 {
        return Err(anyhow::anyhow!(
            "{} needs at least 2 machine IDs to tell apart, found {classes:?}",
            cfg.machine_type
        ));
    }
    cfg.normalization.validate()?;
    let frontend_config = FrontEndConfig {
        normalization: cfg.normalization,
        ..FrontEndConfig::default()
    };
    let frontend = FrontEnd::new(frontend_config);
    let of = |split| {
        clips
            .iter()
            .filter(|c| c.split == split)
            .collect::<Vec<_>>()
    };
    let train = features(&of(Split::Train), &classes, &frontend, "train")?;
    let val = features(&of(Split::Validation), &classes, &frontend, "validation")?;
    println!(
        "{}: {} IDs {:?}, {} training and {} validation clips",
        cfg.machine_type,
        classes.len(),
        classes,
        train.len(),
        val.len()
    );

    let device = match cfg.backend {
        Backend::Cpu => Device::flex(),
        Backend::Wgpu => gpu()?,
    };
    device.seed(cfg.seed);
    let ad = device.clone().autodiff();
    let net_config = NetworkConfig::new(classes.len());
    let mut model = Network::new(&net_config, &ad);
    let mut optim = AdamConfig::new().init();
    let ckpt = cfg.out.join("checkpoint");
    let mut state = RunState {
        normalization: cfg.normalization,
        ..RunState::default()
    };
    if cfg.resume && ckpt.join("state.json").exists() {
        let read = |name: &str| {
            std::fs::read(ckpt.join(name)).with_context(|| format!("{}", ckpt.join(name).display()))
        };
        state = serde_json::from_slice(&read("state.json")?)?;
        if state.normalization != cfg.normalization {
            return Err(anyhow::anyhow!(
                "the checkpoint was trained with normalisation {:?}, this run asks for {:?}: \
                 resume with the same --compress",
                state.normalization,
                cfg.normalization
            ));
        }
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(read("model.bpk")?))?;
        model = model
            .try_load_record(record)
            .context("checkpoint does not fit")?;
        optim = optim.from_bytes(Bytes::from_bytes_vec(read("optimizer.bpk")?))?;
        println!("resuming after epoch {}", state.epochs_done);
    }
    std::fs::create_dir_all(&ckpt).with_context(|| ckpt.display().to_string())?;

    let frames = frontend_config.examples.frames;
    for epoch in state.epochs_done + 1..=cfg.epochs {
        let mut rng = Rng::new(cfg.seed, &format!("epoch/{epoch}"));
        let order = rng.permutation(train.len());
        let bar = ProgressBar::new(train.len() as u64).with_style(
            ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} {msg}")
                .expect("a valid progress template"),
        );
        bar.set_prefix(epoch.to_string());
        let start = Instant::now();
        let mut head_sums = [0.0f64; 3];
        let mut batches = 0usize;
        for chunk in order.chunks(cfg.batch) {
            let windows: Vec<(usize, Window)> = chunk
                .iter()
                .map(|&i| {
                    let total = train[i].spec.frames;
                    (
                        i,
                        Window {
                            start: rng.below(total - frames + 1),
                            width: frames,
                        },
                    )
                })
                .collect();
            let mut re = Vec::new();
            let mut im = Vec::new();
            for (i, w) in &windows {
                let mut part = train[*i].spec.frames_slice(w.start, w.width);
                if cfg.augment_channel {
                    let gains = channel_gains(part.bins, &mut rng);
                    for (row, g) in gains.iter().enumerate() {
                        let span = row * part.frames..(row + 1) * part.frames;
                        part.re[span.clone()].iter_mut().for_each(|v| *v *= g);
                        part.im[span].iter_mut().for_each(|v| *v *= g);
                    }
                }
                re.extend(part.re);
                im.extend(part.im);
            }
            let shape = [windows.len(), 1, train[0].spec.bins, frames];
            let re = mimimi_model::input::tensor4(re, shape, &ad);
            let im = mimimi_model::input::tensor4(im, shape, &ad);
            let labels: Vec<usize> = chunk.iter().map(|&i| train[i].class).collect();
            let out = model.forward(re, im);
            let heads = [
                mimimi_model::score::cross_entropy(out.magnitude.clone(), &labels),
                mimimi_model::score::cross_entropy(out.complex.clone(), &labels),
                mimimi_model::score::cross_entropy(out.total.clone(), &labels),
            ];
            for (sum, h) in head_sums.iter_mut().zip(&heads) {
                *sum += f64::from(h.clone().into_scalar::<f32>());
            }
            let total = heads[0].clone() + heads[1].clone() + heads[2].clone();
            let grads = GradientsParams::from_grads(total.backward(), &model);
            model = optim.step(cfg.lr, model, grads);
            batches += 1;
            bar.inc(chunk.len() as u64);
            let n = batches as f64;
            bar.set_message(format!(
                "loss mag {:.3} cplx {:.3} total {:.3}",
                head_sums[0] / n,
                head_sums[1] / n,
                head_sums[2] / n
            ));
        }
        let examples_per_s = train.len() as f64 / start.elapsed().as_secs_f64();
        let (val_loss, val_accuracy, val_scores) = validate(&model, cfg.score_heads, &val, &device);
        bar.finish_with_message(format!(
            "loss {:.3} | val loss {val_loss:.3} acc {:.1} % | {examples_per_s:.1} ex/s",
            head_sums.iter().sum::<f64>() / batches.max(1) as f64,
            100.0 * val_accuracy
        ));
        let stats = EpochStats {
            epoch,
            train_loss_heads: head_sums.map(|s| s / batches.max(1) as f64),
            val_loss,
            val_accuracy,
            examples_per_s,
        };
        state.history.push(stats);
        state.epochs_done = epoch;
        let improved = state.best_val_loss.is_none_or(|b| val_loss < b);
        if improved {
            state.best_val_loss = Some(val_loss);
            state.epochs_since_best = 0;
            export(
                cfg,
                &classes,
                &net_config,
                &frontend_config,
                &model,
                &val_scores,
                &state,
            )?;
        } else {
            state.epochs_since_best += 1;
        }
        let model_bytes = model.clone().into_record().into_bytes()?;
        write_atomic(&ckpt.join("model.bpk"), &model_bytes)?;
        write_atomic(&ckpt.join("optimizer.bpk"), &optim.into_bytes()?)?;
        write_atomic(
            &ckpt.join("state.json"),
            &serde_json::to_vec_pretty(&state)?,
        )?;
        if let Some(minutes) = cfg.max_minutes {
            let next_end = run_start.elapsed() + start.elapsed();
            if next_end.as_secs_f64() > 60.0 * minutes {
                println!("time budget of {minutes} min reached after epoch {epoch}: stopping");
                break;
            }
        }
        if state.epochs_since_best >= cfg.patience {
            println!(
                "no better validation loss for {} epochs: stopping",
                cfg.patience
            );
            break;
        }
    }
    if cfg.rule != crate::calibrate::Rule::CrossEntropy(cfg.score_heads) {
        println!("calibrating the best model's score rule ({:?})", cfg.rule);
        crate::calibrate::run(&cfg.out, &cfg.data, cfg.seed, cfg.rule.clone())?;
    }
    Ok(state.history)
}

/// Writes the model directory for the current (best) model, thresholds from validation.
fn export(
    cfg: &TrainConfig,
    classes: &[String],
    net_config: &NetworkConfig,
    frontend: &FrontEndConfig,
    model: &Network,
    val_scores: &[(String, f64)],
    state: &RunState,
) -> anyhow::Result<()> {
    let rule = ThresholdRule::default();
    let mut thresholds = BTreeMap::new();
    for id in classes {
        let scores: Vec<f64> = val_scores
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, s)| *s)
            .collect();
        match rule.threshold(&scores) {
            Some(t) => {
                thresholds.insert(id.clone(), t);
            }
            None => eprintln!(
                "machine ID {id}: {} validation clip(s), too few for a threshold (needs 2 with different scores)",
                scores.len()
            ),
        }
    }
    let manifest = Manifest {
        format_version: 0,
        machine_type: cfg.machine_type.clone(),
        classes: classes.to_vec(),
        network: net_config.clone(),
        frontend: *frontend,
        thresholds,
        threshold_rule: rule.describe(),
        score_rule: mimimi_model::ScoreRule::CrossEntropy {
            heads: cfg.score_heads,
        },
        metrics: serde_json::json!({ "training": state.history }),
        provenance: Provenance {
            source: "trainer train".into(),
            data: cfg.data.display().to_string(),
            epochs: Some(state.epochs_done as u32),
            seed: Some(cfg.seed),
            created: crate::import::today(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
        },
        weights: WeightsInfo::unwritten(),
    };
    let files = ModelFiles::from_network(model.valid(), manifest)?;
    Ok(files.save(&cfg.out)?)
}

/// Train a model for one machine type on its normal training clips.
#[derive(clap::Args)]
pub struct Args {
    /// Data directory (DCASE 2020 or MIMII layout).
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Machine type.
    #[arg(long = "type")]
    pub machine_type: String,
    /// Output model directory (the best model; checkpoints under `checkpoint/`).
    #[arg(long)]
    pub out: std::path::PathBuf,
    #[command(flatten)]
    pub schedule: Schedule,
    /// Continue from the checkpoint in OUT.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Stop, with the best model exported, before the next epoch would end after this
    /// many minutes of the run (for a machine lent for a fixed time).
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Machine IDs to leave out of training, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub exclude_ids: Vec<String>,
}

impl Args {
    /// Trains the model.
    pub fn run(self) -> anyhow::Result<bool> {
        let config = TrainConfig {
            resume: self.resume,
            patience: self.patience,
            max_minutes: self.max_minutes,
            exclude_ids: self.exclude_ids,
            ..self.schedule.config(self.data, self.machine_type, self.out)
        };
        run(&config).map(|_| true)
    }
}

impl Schedule {
    /// A training run with this schedule (resumable, default patience, no time limit).
    pub fn config(self, data: PathBuf, machine_type: String, out: PathBuf) -> TrainConfig {
        TrainConfig {
            data,
            machine_type,
            out,
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            backend: self.backend.into(),
            seed: self.seed,
            resume: false,
            patience: 5,
            max_minutes: None,
            exclude_ids: Vec::new(),
            score_heads: self.score_heads.into(),
            rule: match self.rule {
                RuleArg::Combined => crate::calibrate::Rule::Combined(self.members.0),
                RuleArg::CrossEntropy => {
                    crate::calibrate::Rule::CrossEntropy(self.score_heads.into())
                }
            },
            normalization: self
                .compress
                .map_or_else(Normalization::default, Normalization::power_law),
            augment_channel: self.augment_channel,
        }
    }
}

/// The GPU through wgpu.
#[cfg(feature = "gpu")]
fn gpu() -> anyhow::Result<Device> {
    Device::wgpu_options().init().map_err(|e| {
        anyhow::anyhow!("no GPU found through wgpu ({e}): train on the CPU with --backend ndarray")
    })
}

/// A trainer built without its `gpu` feature has no GPU backend.
#[cfg(not(feature = "gpu"))]
fn gpu() -> anyhow::Result<Device> {
    anyhow::bail!(
        "this trainer was built without GPU support (its `gpu` feature, on by default): train \
         on the CPU with --backend ndarray, or build the trainer with its default features"
    )
}

impl From<BackendArg> for Backend {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Wgpu => Backend::Wgpu,
            BackendArg::Ndarray => Backend::Cpu,
        }
    }
}
