//! `trainer`: the native side of Mimimi. Data (`synth`, `download`) → `train` → `eval` /
//! `calibrate` → `export` → `score` (the reference the web page must agree with); `import`
//! brings a checkpoint of the PyTorch reference; `enroll` and `enroll-eval` learn and measure
//! profiles of machines the network never heard.

mod baseline;
mod calibrate;
mod data;
mod download;
mod enroll;
mod eval;
mod import;
mod metrics;
mod model;
mod out;
mod protocol;
mod rng;
mod score;
mod synth;
mod train;

use clap::{Parser, Subcommand, ValueEnum};
use mimimi_dsp::Normalization;
use mimimi_model::file::MANIFEST_FILE;
use mimimi_model::score::ScoreHeads;
use mimimi_model::{EmbeddingSpec, Member, ModelFiles};
use std::path::PathBuf;
use std::process::ExitCode;

/// How a model is trained (shared by `train` and `enroll-eval`).
#[derive(clap::Args)]
struct Schedule {
    /// Maximum epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Clips per batch (small batches: a corpus of a few hundred clips still gives the
    /// optimiser hundreds of steps).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// `wgpu` (GPU through Vulkan/Metal/DX12) or `ndarray` (the CPU).
    #[arg(long, value_enum, default_value_t = BackendArg::Wgpu)]
    backend: BackendArg,
    /// Random seed (split, initialisation, order, crops).
    #[arg(long, default_value_t = calibrate::DEFAULT_SEED)]
    seed: u64,
    /// The score rule of the finished model: a combined score of `--members` (fitted and
    /// calibrated on the training data once training ends), or the cross-entropy of
    /// `--score-heads`.
    #[arg(long, value_enum, default_value_t = RuleArg::Combined)]
    rule: RuleArg,
    /// Members of the combined score, `+`-separated (logmel, modulation, network:block5,
    /// network:fused).
    #[arg(long, default_value = calibrate::DEFAULT_MEMBERS, value_parser = Members::parse)]
    members: Members,
    /// Heads whose cross-entropies make the score during training (and of `--rule
    /// cross-entropy`).
    #[arg(long, value_enum, default_value_t = ScoreHeadsArg::Sum)]
    score_heads: ScoreHeadsArg,
    /// Compress the spectrum's magnitude by this power (0 < P ≤ 1, phase kept) before the
    /// per-clip standardisation, so that weak bands count; without it, the reference's
    /// linear spectrum.
    #[arg(long, value_name = "P")]
    compress: Option<f64>,
    /// Give every training example a random recording channel (smooth gains over frequency),
    /// so that IDs cannot be told apart by their microphone and room.
    #[arg(long)]
    augment_channel: bool,
}

impl Schedule {
    /// A training run with this schedule (resumable, default patience, no time limit).
    fn config(self, data: PathBuf, machine_type: String, out: PathBuf) -> train::TrainConfig {
        train::TrainConfig {
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
                RuleArg::Combined => calibrate::Rule::Combined(self.members.0),
                RuleArg::CrossEntropy => calibrate::Rule::CrossEntropy(self.score_heads.into()),
            },
            normalization: self
                .compress
                .map_or_else(Normalization::default, Normalization::power_law),
            augment_channel: self.augment_channel,
        }
    }
}

/// Command line of the trainer.
#[derive(Parser)]
#[command(
    name = "trainer",
    version,
    about = "Train, evaluate and run Mimimi models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic corpus of machine sounds (DCASE 2020 Task 2 layout, 16 kHz mono
    /// 16-bit) with normal training clips and normal and anomalous test clips.
    Synth {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Machine types, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "fan,pump,slider,valve")]
        types: Vec<synth::MachineType>,
        /// Family of physical models of every type (0, 1, 2; `synth` docs: 0 and 1 are
        /// for development, 2 is held out for reporting).
        #[arg(long, default_value_t = 0)]
        family: usize,
        /// Machine IDs, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "00,02,04,06")]
        ids: Vec<String>,
        /// Normal training clips per machine ID.
        #[arg(long, default_value_t = 100)]
        train_per_id: usize,
        /// Normal test clips per machine ID.
        #[arg(long, default_value_t = 20)]
        test_normal_per_id: usize,
        /// Anomalous test clips per machine ID (the type's five kinds take turns).
        #[arg(long, default_value_t = 20)]
        test_anomaly_per_id: usize,
        /// Clip length in seconds.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Machine-to-background level (dB) of the noisiest clip.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        snr_db: f64,
        /// Each clip's SNR is drawn from [SNR, SNR + this] (dB).
        #[arg(long, default_value_t = 0.0)]
        snr_spread_db: f64,
        /// Random seed of the recordings.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Random seed of the units (another value: other machines of the same families).
        #[arg(long, default_value_t = synth::UNITS_SEED)]
        units_seed: u64,
        /// Scale of every anomaly's deviation from normal (1: the documented moderate
        /// strength; smaller is subtler, up to 2 is blatant, for demonstrations and tests).
        #[arg(long, default_value_t = 1.0)]
        anomaly_strength: f64,
    },
    /// Download and extract the real data (DCASE 2020 Task 2 development data or MIMII) from
    /// Zenodo, with resume and checksum verification.
    Download {
        /// Which data set.
        #[arg(long, value_enum)]
        dataset: DatasetArg,
        /// Machine types, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "fan,pump,slider,valve")]
        types: Vec<String>,
        /// MIMII signal-to-noise ratios, comma-separated (6, 0, -6).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "6",
            allow_hyphen_values = true
        )]
        snr: Vec<String>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Base URL of the records (a mirror; the tests use a local server).
        #[arg(long, default_value = download::ZENODO)]
        base_url: String,
        /// Accept an archive whose record lists no MD5 (checked by its size only).
        #[arg(long)]
        no_checksum: bool,
    },
    /// Train a model for one machine type on its normal training clips.
    Train {
        /// Data directory (DCASE 2020 or MIMII layout).
        #[arg(long)]
        data: PathBuf,
        /// Machine type.
        #[arg(long = "type")]
        machine_type: String,
        /// Output model directory (the best model; checkpoints under `checkpoint/`).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        schedule: Schedule,
        /// Continue from the checkpoint in OUT.
        #[arg(long)]
        resume: bool,
        /// Stop after this many epochs without a better validation loss.
        #[arg(long, default_value_t = 5)]
        patience: usize,
        /// Stop, with the best model exported, before the next epoch would end after this
        /// many minutes of the run (for a machine lent for a fixed time).
        #[arg(long)]
        max_minutes: Option<f64>,
        /// Machine IDs to leave out of training, comma-separated.
        #[arg(long, value_delimiter = ',')]
        exclude_ids: Vec<String>,
    },
    /// Evaluate a model on the test clips of a data directory: AUC, pAUC, accuracy and the
    /// stored thresholds' precision, recall and F1, per machine ID.
    Eval {
        /// Data directory (DCASE 2020 or MIMII layout).
        #[arg(long)]
        data: PathBuf,
        /// Model directory (for `--method network`).
        #[arg(long, required_if_eq("method", "network"))]
        model: Option<PathBuf>,
        /// `network` (the model's anomaly score) or `baseline` (log-mel frames, a Gaussian
        /// per machine ID fitted on the training clips, Mahalanobis distance).
        #[arg(long, value_enum, default_value_t = MethodArg::Network)]
        method: MethodArg,
        /// Machine type (for `--method baseline`; the network's comes from its model).
        #[arg(long = "type", required_if_eq("method", "baseline"))]
        machine_type: Option<String>,
        /// Write the results as JSON (schema in the README).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write ROC curves, score histograms (SVG) and a Markdown table here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Seed of the train/validation split (that of the training run).
        #[arg(long, default_value_t = calibrate::DEFAULT_SEED)]
        seed: u64,
    },
    /// Score WAV files against one machine ID of a model.
    Score {
        /// Model directory (manifest.json + weights).
        #[arg(long)]
        model: PathBuf,
        /// Machine ID to score against (one of the model's classes).
        #[arg(long, required_unless_present = "profile", conflicts_with = "profile")]
        id: Option<String>,
        /// Score against an enrolled machine's profile (from `trainer enroll` or exported by
        /// the page) instead of a machine ID.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Channel of multichannel files (0 = first).
        #[arg(long, default_value_t = 0)]
        channel: usize,
        /// Score the whole clip in one pass instead of window by window.
        #[arg(long)]
        whole_clip: bool,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// WAV files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Enroll a machine from its normal takes: a profile (JSON, the page's format) of a
    /// combined score, with a threshold from the takes themselves.
    Enroll {
        /// Model directory of the machine's type.
        #[arg(long)]
        model: PathBuf,
        /// Name of the machine.
        #[arg(long)]
        name: String,
        /// Profile file to write.
        #[arg(long)]
        out: PathBuf,
        /// Members of the profile's combined score, `+`-separated.
        #[arg(long, default_value = calibrate::DEFAULT_MEMBERS, value_parser = Members::parse)]
        members: Members,
        /// Normal WAV takes of the machine (at least 3).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Measure enrollment on machines a model never heard: every machine ID of a corpus is
    /// enrolled from K of its normal clips and its test clips are judged; against the
    /// classical baseline given the same clips.
    EnrollEval {
        /// The model that enrolls (trained on other units, e.g. a bundled model).
        #[arg(long)]
        model: PathBuf,
        /// The corpus of the units to enroll (DCASE 2020 or MIMII layout).
        #[arg(long)]
        data: PathBuf,
        /// Enrollment sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "5,10,30")]
        k: Vec<usize>,
        /// Members of the profiles, `+`-separated.
        #[arg(long, default_value = calibrate::DEFAULT_MEMBERS, value_parser = Members::parse)]
        members: Members,
        /// Seed of the validation split.
        #[arg(long, default_value_t = calibrate::DEFAULT_SEED)]
        seed: u64,
        /// Write every measurement as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Convert a checkpoint of the PyTorch reference implementation (marcpinet/mimimi) into a
    /// Mimimi model directory.
    Import {
        /// The checkpoint: `<type>_best_model.pth` as its training script saves it, a bare
        /// state_dict (.pth/.pt), or a .safetensors file.
        #[arg(long)]
        pytorch: PathBuf,
        /// Machine type the checkpoint was trained on.
        #[arg(long = "type")]
        machine_type: String,
        /// Machine IDs in class order, comma-separated (e.g. 00,02,04,06).
        #[arg(long, value_delimiter = ',', required = true)]
        ids: Vec<String>,
        /// Output model directory.
        #[arg(long)]
        out: PathBuf,
        /// STFT padding the checkpoint was trained with: the reference's pipeline calls
        /// librosa, which pads with zeros since 0.9.
        #[arg(long, value_enum, default_value_t = Pad::Zero)]
        pad: Pad,
        /// Attention gate of the checkpoint's code (the reference uses softmax).
        #[arg(long, value_enum, default_value_t = Gate::Softmax)]
        gate: Gate,
    },
    /// Set a model's per-ID decision thresholds from the validation normals of a data
    /// directory (DCASE 2020 or MIMII layout), never from test labels.
    Calibrate {
        /// Model directory; its manifest is updated in place.
        #[arg(long)]
        model: PathBuf,
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// Seed of the train/validation split.
        #[arg(long, default_value_t = calibrate::DEFAULT_SEED)]
        seed: u64,
        /// Switch the model to the cross-entropy of these heads before calibrating
        /// (default: keep its own rule).
        #[arg(long, value_enum, conflicts_with = "clip_gaussians")]
        score_heads: Option<ScoreHeadsArg>,
        /// Switch the model to Gaussians of these layers' clip-averaged features (e.g.
        /// `fused`), fitted to each ID's training normals, before calibrating.
        #[arg(long, value_parser = EmbeddingSpec::parse, conflicts_with = "combined")]
        clip_gaussians: Option<EmbeddingSpec>,
        /// Switch the model to a combined score of these members (`+`-separated, e.g.
        /// `logmel+modulation`), fitted to each ID's training normals and standardised by its
        /// validation normals.
        #[arg(long, value_parser = Members::parse, conflicts_with = "score_heads")]
        combined: Option<Members>,
    },
    /// Measure the default pipeline and enrollment on a held-out family of `synth` against
    /// the classical baseline: the README's quality tables (results.md, results.json).
    Protocol {
        /// Working directory (corpora, models, results; finished steps are reused).
        #[arg(long)]
        work: PathBuf,
        /// Machine types, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "fan,pump,slider,valve")]
        types: Vec<synth::MachineType>,
        /// The held-out family.
        #[arg(long, default_value_t = 2)]
        family: usize,
        /// Normal training clips per machine ID.
        #[arg(long, default_value_t = 54)]
        train_per_id: usize,
        /// Normal test clips per machine ID.
        #[arg(long, default_value_t = 20)]
        test_normal_per_id: usize,
        /// Anomalous test clips per machine ID.
        #[arg(long, default_value_t = 25)]
        test_anomaly_per_id: usize,
        /// Clip length in seconds.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Seed of the corpus's recordings.
        #[arg(long, default_value_t = 21)]
        corpus_seed: u64,
        /// Models that never heard the family, `<dir>/<type>` (e.g. web/assets/models):
        /// enrollment is measured with them.
        #[arg(long)]
        enroll_models: Option<PathBuf>,
        /// Enrollment sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "5,10,30")]
        k: Vec<usize>,
        /// Stop training each model after this many minutes.
        #[arg(long)]
        max_minutes: Option<f64>,
        #[command(flatten)]
        schedule: Schedule,
    },
    /// Write a model directory for the page: the manifest (thresholds included) and the
    /// weights as f32 or f16; prints the file sizes.
    Export {
        /// Model directory (from `train`, `import` or `calibrate`).
        #[arg(long)]
        model: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Element type of the stored weights (`f16` halves the download).
        #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
        dtype: String,
    },
}

impl From<BackendArg> for train::Backend {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Wgpu => train::Backend::Wgpu,
            BackendArg::Ndarray => train::Backend::Cpu,
        }
    }
}

/// `trainer export`: the model re-stored with `dtype` weights under `out`.
fn export(model: &std::path::Path, out: &std::path::Path, dtype: &str) -> Result<(), String> {
    let files = ModelFiles::load(model)
        .and_then(|m| m.with_dtype(dtype))
        .map_err(|e| e.to_string())?;
    // Prove the written weights load into the network the manifest describes.
    files
        .network(&mimimi_model::Device::flex())
        .map_err(|e| e.to_string())?;
    files.save(out).map_err(|e| e.to_string())?;
    for name in [MANIFEST_FILE, files.manifest.weights.file.as_str()] {
        let path = out.join(name);
        let bytes = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        out::line(&format!("{:>10} bytes  {}", bytes, path.display()))?;
    }
    Ok(())
}

/// Data set on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum DatasetArg {
    /// DCASE 2020 Task 2 development data (Zenodo record 3678171).
    #[value(name = "dcase2020-dev")]
    Dcase2020Dev,
    /// MIMII (Zenodo record 3384388).
    Mimii,
}

/// Training backend on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// The GPU through wgpu.
    Wgpu,
    /// The CPU (burn's pure-Rust backend; the name the issue tracker uses).
    Ndarray,
}

/// Score rule on the command line ([`mimimi_model::score::ScoreHeads`]).
#[derive(Clone, Copy, ValueEnum)]
pub enum ScoreHeadsArg {
    /// The total head alone (the paper's and the reference's score).
    Total,
    /// The sum of the three heads' cross-entropies (the training objective).
    Sum,
}

impl From<ScoreHeadsArg> for ScoreHeads {
    fn from(arg: ScoreHeadsArg) -> Self {
        match arg {
            ScoreHeadsArg::Total => ScoreHeads::Total,
            ScoreHeadsArg::Sum => ScoreHeads::Sum,
        }
    }
}

/// The members of a combined score on the command line (`logmel+modulation`).
#[derive(Debug, Clone)]
pub struct Members(Vec<Member>);

impl Members {
    fn parse(text: &str) -> Result<Self, String> {
        Member::parse_list(text).map(Self)
    }
}

/// Score rule of a trained model on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum RuleArg {
    /// A combined score of several detectors (`--members`).
    Combined,
    /// The cross-entropy of `--score-heads`.
    CrossEntropy,
}

/// Evaluation method on the command line.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// The network of `--model`.
    Network,
    /// The classical log-mel Gaussian baseline.
    Baseline,
}

/// STFT pad mode on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum Pad {
    /// Zeros (librosa ≥ 0.9).
    Zero,
    /// Reflection (torch.stft, librosa ≤ 0.8).
    Reflect,
}

/// Attention gate on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum Gate {
    /// Softmax over channels (the reference code).
    Softmax,
    /// Sigmoid (the paper's figure).
    Sigmoid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Download {
            dataset,
            types,
            snr,
            out,
            base_url,
            no_checksum,
        } => {
            let dataset = match dataset {
                DatasetArg::Dcase2020Dev => download::Dataset::Dcase2020Dev,
                DatasetArg::Mimii => download::Dataset::Mimii,
            };
            download::run(dataset, &types, &snr, &out, &base_url, no_checksum).map(|()| true)
        }
        Command::Eval {
            data,
            model,
            method,
            machine_type,
            json,
            report,
            seed,
        } => {
            let method = match method {
                MethodArg::Network => eval::Method::Network {
                    model: model.expect("clap requires --model"),
                },
                MethodArg::Baseline => eval::Method::Baseline {
                    machine_type: machine_type.expect("clap requires --type"),
                },
            };
            eval::run(&method, &data, seed, json.as_deref(), report.as_deref()).map(|()| true)
        }
        Command::Train {
            data,
            machine_type,
            out,
            schedule,
            resume,
            patience,
            max_minutes,
            exclude_ids,
        } => {
            let config = train::TrainConfig {
                resume,
                patience,
                max_minutes,
                exclude_ids,
                ..schedule.config(data, machine_type, out)
            };
            train::run(&config).map(|_| true)
        }
        Command::Synth {
            out,
            types,
            family,
            ids,
            train_per_id,
            test_normal_per_id,
            test_anomaly_per_id,
            seconds,
            snr_db,
            snr_spread_db,
            seed,
            units_seed,
            anomaly_strength,
        } => {
            let config = synth::SynthConfig {
                types,
                family,
                ids,
                train_per_id,
                test_normal_per_id,
                test_anomaly_per_id,
                seconds,
                snr_db,
                snr_spread_db,
                seed,
                units_seed,
                anomaly_strength,
            };
            synth::run(&out, &config).map(|n| {
                println!("wrote {n} clips under {}", out.display());
                true
            })
        }
        Command::Score {
            model,
            id,
            profile,
            channel,
            whole_clip,
            json,
            files,
        } => {
            let against = match (id, profile) {
                (Some(id), _) => score::Against::Id(id),
                (None, Some(p)) => score::Against::Profile(p),
                (None, None) => unreachable!("clap requires --id or --profile"),
            };
            score::run(model, against, channel, whole_clip, json, files)
        }
        Command::Enroll {
            model,
            name,
            out,
            members,
            files,
        } => enroll::run_enroll(&model, &name, &members.0, &files, &out).map(|()| true),
        Command::EnrollEval {
            model,
            data,
            k,
            members,
            seed,
            json,
        } => {
            let config = enroll::EnrollEvalConfig {
                model,
                data,
                ks: k,
                members: members.0,
                seed,
                json,
            };
            enroll::run_eval(&config).map(|_| true)
        }
        Command::Import {
            pytorch,
            machine_type,
            ids,
            out,
            pad,
            gate,
        } => import::run(&pytorch, &machine_type, &ids, &out, pad, gate).map(|()| true),
        Command::Calibrate {
            model,
            data,
            seed,
            score_heads,
            clip_gaussians,
            combined,
        } => {
            let rule = match (score_heads, clip_gaussians, combined) {
                (Some(heads), _, _) => calibrate::Rule::CrossEntropy(heads.into()),
                (None, Some(spec), _) => calibrate::Rule::ClipGaussians(spec),
                (None, None, Some(members)) => calibrate::Rule::Combined(members.0),
                (None, None, None) => calibrate::Rule::Keep,
            };
            calibrate::run(&model, &data, seed, rule).map(|()| true)
        }
        Command::Protocol {
            work,
            types,
            family,
            train_per_id,
            test_normal_per_id,
            test_anomaly_per_id,
            seconds,
            corpus_seed,
            enroll_models,
            k,
            max_minutes,
            schedule,
        } => {
            let corpus = synth::SynthConfig {
                train_per_id,
                test_normal_per_id,
                test_anomaly_per_id,
                seconds,
                snr_db: 0.0,
                snr_spread_db: 6.0,
                seed: corpus_seed,
                ..Default::default()
            };
            let config = protocol::ProtocolConfig {
                work: work.clone(),
                types,
                family,
                corpus,
                train: train::TrainConfig {
                    max_minutes,
                    ..schedule.config(PathBuf::new(), String::new(), PathBuf::new())
                },
                enroll_models,
                ks: k,
            };
            protocol::run(&config).map(|_| true)
        }
        Command::Export { model, out, dtype } => export(&model, &out, &dtype).map(|()| true),
    };
    finish(result)
}

/// The exit code of a command's result (an error is printed).
fn finish(result: Result<bool, String>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
