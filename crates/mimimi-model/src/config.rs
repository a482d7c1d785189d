//! The network's hyper-parameters, with the reference's values as defaults.

use serde::{Deserialize, Serialize};

/// The gate that turns attention logits into channel weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AttentionGate {
    /// Softmax over the 8 channels, as the public reference code does (so every gain
    /// `1 + a` lies in (1, 2) and the gains sum to 9). The default: the reference's checkpoints
    /// and fixtures were computed with it, and only with it does Mimimi reproduce them.
    #[default]
    Softmax,
    /// Element-wise sigmoid, as the paper's figure shows. An option for new training runs.
    Sigmoid,
}

/// How complex batch norm measures the spread of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BnVariance {
    /// One real variance per channel, `mean |z − μ|²`, as the reference code computes (the
    /// default: the only way to reproduce its checkpoints).
    #[default]
    Joint,
    /// The real and imaginary parts each standardised by their own variance, as the
    /// reference's README describes. An option for new training runs.
    Separate,
}

/// One complex convolution block: kernel, stride and padding as (freq, time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSpec {
    /// Output channels.
    pub channels: usize,
    /// Kernel size (freq, time).
    pub kernel: [usize; 2],
    /// Stride (freq, time).
    pub stride: [usize; 2],
    /// Zero padding (freq, time), both sides.
    pub padding: [usize; 2],
}

impl BlockSpec {
    /// Outputs along `axis` (0 frequency, 1 time) for an input of `size`: `(size + 2·padding −
    /// kernel) / stride + 1`. `None` when the input is narrower than the kernel even with its
    /// padding, or the stride is 0.
    pub fn output_size(&self, size: usize, axis: usize) -> Option<usize> {
        (size + 2 * self.padding[axis])
            .checked_sub(self.kernel[axis])?
            .checked_div(self.stride[axis])
            .map(|n| n + 1)
    }
}

/// The five complex blocks of the paper and the reference, in order.
pub const BLOCKS: [BlockSpec; 5] = [
    BlockSpec {
        channels: 45,
        kernel: [7, 5],
        stride: [2, 2],
        padding: [3, 2],
    },
    BlockSpec {
        channels: 90,
        kernel: [7, 5],
        stride: [2, 2],
        padding: [3, 2],
    },
    BlockSpec {
        channels: 90,
        kernel: [5, 3],
        stride: [2, 2],
        padding: [2, 1],
    },
    BlockSpec {
        channels: 90,
        kernel: [5, 3],
        stride: [2, 2],
        padding: [2, 1],
    },
    BlockSpec {
        channels: 45,
        kernel: [5, 2],
        stride: [2, 1],
        padding: [2, 0],
    },
];

/// Configuration of [`crate::Network`]. Stored in each model's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// Number of machine IDs the heads tell apart.
    pub num_classes: usize,
    /// Attention gate (reference: softmax).
    #[serde(default)]
    pub attention_gate: AttentionGate,
    /// How complex batch norm measures variance (reference: joint).
    #[serde(default)]
    pub bn_variance: BnVariance,
    /// Complex batch norm epsilon (reference: 1e-5).
    #[serde(default = "default_eps")]
    pub bn_epsilon: f64,
    /// Weight of the new batch statistics in the running ones (reference: 0.1).
    #[serde(default = "default_momentum")]
    pub bn_momentum: f64,
}

fn default_eps() -> f64 {
    1e-5
}

fn default_momentum() -> f64 {
    0.1
}

impl NetworkConfig {
    /// The reference configuration for `num_classes` machine IDs.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            attention_gate: AttentionGate::default(),
            bn_variance: BnVariance::default(),
            bn_epsilon: default_eps(),
            bn_momentum: default_momentum(),
        }
    }

    /// The same configuration with another attention gate.
    pub fn with_gate(mut self, gate: AttentionGate) -> Self {
        self.attention_gate = gate;
        self
    }

    /// Real scalar parameters of the network (a complex BN shift counts as two):
    /// 859,666 + 15·N.
    pub fn expected_param_count(&self) -> usize {
        859_666 + 15 * self.num_classes
    }

    /// Frames of the maps after block 5 for an input of `frames` frames (the width of Fm, Fc
    /// and T). None when the input is too narrow for the network.
    pub fn output_frames(frames: usize) -> Option<usize> {
        BLOCKS.iter().try_fold(frames, |w, b| b.output_size(w, 1))
    }
}
