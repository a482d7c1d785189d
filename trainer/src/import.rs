//! `trainer import`: a checkpoint of the PyTorch reference implementation → a Mimimi model
//! directory (manifest + weights), parameter names mapped and complex BN tensors converted.
//! Thresholds are left for `trainer calibrate`, which sets them from validation normals.

use anyhow::Context;
use mimimi_dsp::{FrontEndConfig, PadMode, StftConfig};
use mimimi_model::ScoreRule;
use mimimi_model::file::{Manifest, ModelFiles, Provenance, WeightsInfo, sha256_hex};
use mimimi_model::pytorch::read_checkpoint;
use mimimi_model::reference::network_from_state_dict;
use mimimi_model::score::ScoreHeads;
use mimimi_model::{AttentionGate, Device};
use std::path::Path;

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock.
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Imports `checkpoint` as a model of `machine_type` with classes `ids` into `out`.
pub fn run(
    checkpoint: &Path,
    machine_type: &str,
    ids: &[String],
    out: &Path,
    pad: Pad,
    gate: Gate,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(checkpoint).with_context(|| checkpoint.display().to_string())?;
    let ckpt = read_checkpoint(&bytes).with_context(|| checkpoint.display().to_string())?;
    let gate = match gate {
        Gate::Softmax => AttentionGate::Softmax,
        Gate::Sigmoid => AttentionGate::Sigmoid,
    };
    let device = Device::flex();
    let (network, config) = network_from_state_dict(&ckpt.state_dict, gate, &device)
        .with_context(|| checkpoint.display().to_string())?;
    if config.num_classes != ids.len() {
        return Err(anyhow::anyhow!(
            "the checkpoint has {} classes but --ids lists {} machine IDs ({})",
            config.num_classes,
            ids.len(),
            ids.join(",")
        ));
    }
    let frontend = FrontEndConfig {
        stft: StftConfig {
            pad: match pad {
                Pad::Zero => PadMode::Zero,
                Pad::Reflect => PadMode::Reflect,
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let manifest = Manifest {
        format_version: 0,
        machine_type: machine_type.into(),
        classes: ids.to_vec(),
        network: config,
        frontend,
        thresholds: Default::default(),
        threshold_rule: "not calibrated: run `trainer calibrate --model DIR --data DIR`".into(),
        // The reference's own score, so that an imported model scores as the reference does.
        score_rule: ScoreRule::CrossEntropy {
            heads: ScoreHeads::Total,
        },
        metrics: serde_json::json!({ "reference_checkpoint": ckpt.metadata }),
        provenance: Provenance {
            source: "trainer import --pytorch".into(),
            data: format!(
                "{} (sha256 {})",
                checkpoint
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                sha256_hex(&bytes)
            ),
            epochs: ckpt
                .metadata
                .get("epoch")
                .and_then(|e| e.as_u64())
                .map(|e| e as u32),
            seed: None,
            created: today(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
        },
        weights: WeightsInfo::unwritten(),
    };
    let files = ModelFiles::from_network(network, manifest)?;
    files.save(out)?;
    println!(
        "imported {} tensors ({} classes: {}) into {} ({} bytes of weights)",
        ckpt.state_dict.len(),
        ids.len(),
        ids.join(","),
        out.display(),
        files.weights.len()
    );
    Ok(())
}

/// Convert a checkpoint of the PyTorch reference implementation (marcpinet/mimimi) into a
/// Mimimi model directory.
#[derive(clap::Args)]
pub struct Args {
    /// The checkpoint: `<type>_best_model.pth` as its training script saves it, a bare
    /// state_dict (.pth/.pt), or a .safetensors file.
    #[arg(long)]
    pub pytorch: std::path::PathBuf,
    /// Machine type the checkpoint was trained on.
    #[arg(long = "type")]
    pub machine_type: String,
    /// Machine IDs in class order, comma-separated (e.g. 00,02,04,06).
    #[arg(long, value_delimiter = ',', required = true)]
    pub ids: Vec<String>,
    /// Output model directory.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// STFT padding the checkpoint was trained with: the reference's pipeline calls
    /// librosa, which pads with zeros since 0.9.
    #[arg(long, value_enum, default_value_t = Pad::Zero)]
    pub pad: Pad,
    /// Attention gate of the checkpoint's code (the reference uses softmax).
    #[arg(long, value_enum, default_value_t = Gate::Softmax)]
    pub gate: Gate,
}

impl Args {
    /// Converts the checkpoint.
    pub fn run(self) -> anyhow::Result<bool> {
        run(
            &self.pytorch,
            &self.machine_type,
            &self.ids,
            &self.out,
            self.pad,
            self.gate,
        )
        .map(|()| true)
    }
}

/// STFT pad mode on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Pad {
    /// Zeros (librosa ≥ 0.9).
    Zero,
    /// Reflection (torch.stft, librosa ≤ 0.8).
    Reflect,
}

/// Attention gate on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Gate {
    /// Softmax over channels (the reference code).
    Softmax,
    /// Sigmoid (the paper's figure).
    Sigmoid,
}
