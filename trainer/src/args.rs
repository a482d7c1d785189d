//! Argument types shared by several commands: the training schedule, the backend, the score
//! heads, the members of a combined score.

use clap::ValueEnum;
use mimimi_model::Member;
use mimimi_model::score::ScoreHeads;

/// Seed of the validation split (the trainer's default, so calibration and training hold out
/// the same files).
pub const DEFAULT_SEED: u64 = 20_261_128;

/// How a model is trained (shared by `train` and `enroll-eval`).
#[derive(clap::Args)]
pub struct Schedule {
    /// Maximum epochs.
    #[arg(long, default_value_t = 20)]
    pub(crate) epochs: usize,
    /// Clips per batch (small batches: a corpus of a few hundred clips still gives the
    /// optimiser hundreds of steps).
    #[arg(long, default_value_t = 16)]
    pub(crate) batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub(crate) lr: f64,
    /// `wgpu` (GPU through Vulkan/Metal/DX12) or `ndarray` (the CPU); the GPU unless the
    /// trainer was built without its `gpu` feature.
    #[arg(long, value_enum, default_value_t = BackendArg::DEFAULT)]
    pub(crate) backend: BackendArg,
    /// Random seed (split, initialisation, order, crops).
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// The score rule of the finished model: a combined score of `--members` (fitted and
    /// calibrated on the training data once training ends), or the cross-entropy of
    /// `--score-heads`.
    #[arg(long, value_enum, default_value_t = RuleArg::Combined)]
    pub(crate) rule: RuleArg,
    /// Members of the combined score, `+`-separated (logmel, modulation, network:block5,
    /// network:fused).
    #[arg(long, default_value = mimimi_model::combined::DEFAULT_MEMBERS, value_parser = Members::parse)]
    pub(crate) members: Members,
    /// Heads whose cross-entropies make the score during training (and of `--rule
    /// cross-entropy`).
    #[arg(long, value_enum, default_value_t = ScoreHeadsArg::Sum)]
    pub(crate) score_heads: ScoreHeadsArg,
    /// Compress the spectrum's magnitude by this power (0 < P ≤ 1, phase kept) before the
    /// per-clip standardisation, so that weak bands count; without it, the reference's
    /// linear spectrum.
    #[arg(long, value_name = "P")]
    pub(crate) compress: Option<f64>,
    /// Give every training example a random recording channel (smooth gains over frequency),
    /// so that IDs cannot be told apart by their microphone and room.
    #[arg(long)]
    pub(crate) augment_channel: bool,
}

/// Training backend on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// The GPU through wgpu.
    Wgpu,
    /// The CPU (burn's pure-Rust backend; the name the issue tracker uses).
    Ndarray,
}

impl BackendArg {
    /// The GPU where the trainer was built with it, else the CPU.
    pub const DEFAULT: Self = if cfg!(feature = "gpu") {
        Self::Wgpu
    } else {
        Self::Ndarray
    };
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
pub struct Members(pub Vec<Member>);

impl Members {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(Member::parse_list(text).map(Self)?)
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
