//! The complex anomaly-detection network (Kim, Ho & Kang, EUSIPCO 2021), as the public
//! reference code computes it.
//!
//! ```text
//! (re, im) [B,1,513,T] → 5 × ComplexBlock → block 5 (re, im) [B,45,17,T']
//!   magnitude branch: re² + im² → Conv2d 45→4 (5,1)/(2,1)/(1,0) → Fm [B,4,8,T']
//!   complex branch:   cat(re, im) → Conv2d 90→4, same geometry   → Fc [B,4,8,T']
//!   Ft = cat(Fc, Fm) [B,8,8,T']
//!   a  = gate(fc2(ReLU(fc1(GAP(Conv2d 8→8 (3,1)/(1,1)/(1,0) (Ft))))))  [B,8]
//!   Fout = Ft·a + Ft;  T = Conv2d 1×1 8→4 (Fout)
//!   heads: Linear(4→N) on GAP(Fm), GAP(Fc), GAP(T)
//! ```

use crate::complex::{BatchStats, Complex, ComplexBlock, conv2d};
use crate::config::{AttentionGate, BLOCKS, NetworkConfig};
use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, softmax};
use burn::tensor::{Device, Tensor};

/// A `Linear` with the reference's initialisation: weights N(0, 0.01²), zero bias.
fn linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: 0.01,
        })
        .init(device);
    layer.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    layer
}

/// The channel attention that weights the fused branch maps.
#[derive(Module, Debug)]
pub struct ChannelAttention {
    /// Conv2d 8→8, kernel (3,1), padding (1,0).
    pub conv: Conv2d,
    /// 8 → 32.
    pub fc1: Linear,
    /// 32 → 8.
    pub fc2: Linear,
    /// The gate, stored as `true` for softmax (a plain flag keeps the record simple).
    pub softmax_gate: bool,
}

impl ChannelAttention {
    fn new(gate: AttentionGate, device: &Device) -> Self {
        Self {
            conv: conv2d([8, 8], [3, 1], [1, 1], [1, 0], device),
            fc1: linear(8, 32, device),
            fc2: linear(32, 8, device),
            softmax_gate: gate == AttentionGate::Softmax,
        }
    }

    /// The channel weights `a` `[B, 8]` for `ft` `[B, 8, F, T]`.
    pub fn weights(&self, ft: Tensor<4>) -> Tensor<2> {
        let pooled = global_average(self.conv.forward(ft));
        let logits = self.fc2.forward(relu(self.fc1.forward(pooled)));
        if self.softmax_gate {
            softmax(logits, 1)
        } else {
            sigmoid(logits)
        }
    }
}

/// Global average pooling: `[B, C, F, T]` → `[B, C]`.
pub fn global_average(x: Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    x.mean_dims(&[2, 3]).reshape([b, c])
}

/// The network. Field names follow the roles in the paper; [`crate::file`] maps them to and
/// from the reference's parameter names.
#[derive(Module, Debug)]
pub struct Network {
    /// The five complex blocks.
    pub blocks: Vec<ComplexBlock>,
    /// Magnitude branch: Conv2d 45→4.
    pub magnitude_conv: Conv2d,
    /// Complex branch: Conv2d 90→4.
    pub complex_conv: Conv2d,
    /// Channel attention over Ft.
    pub attention: ChannelAttention,
    /// 1×1 Conv2d 8→4 giving T.
    pub total_conv: Conv2d,
    /// Head on GAP(Fm).
    pub classifier_magnitude: Linear,
    /// Head on GAP(Fc).
    pub classifier_complex: Linear,
    /// Head on GAP(T).
    pub classifier_total: Linear,
}

/// The three heads' logits, `[B, N]` each, in the reference's return order.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Head on the magnitude branch.
    pub magnitude: Tensor<2>,
    /// Head on the complex branch.
    pub complex: Tensor<2>,
    /// Head on the attention-fused map; the reference scores with this one alone.
    pub total: Tensor<2>,
}

/// Every intermediate tensor of one forward pass, named as in the reference's `forward`.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Output of each complex block.
    pub blocks: Vec<Complex>,
    /// Batch statistics of each block's normalisation (train mode only).
    pub batch_stats: Vec<BatchStats>,
    /// Magnitude branch map `[B,4,8,T']`.
    pub fm: Tensor<4>,
    /// Complex branch map `[B,4,8,T']`.
    pub fc: Tensor<4>,
    /// `cat(Fc, Fm)` `[B,8,8,T']`.
    pub ft: Tensor<4>,
    /// Channel weights `[B,8]`.
    pub attention: Tensor<2>,
    /// `Ft·a + Ft`.
    pub fout: Tensor<4>,
    /// `total_conv(Fout)` `[B,4,8,T']`.
    pub t: Tensor<4>,
    /// GAP of Fm, Fc and T, `[B,4]` each.
    pub fm_pooled: Tensor<2>,
    /// GAP(Fc).
    pub fc_pooled: Tensor<2>,
    /// GAP(T).
    pub t_pooled: Tensor<2>,
    /// The heads.
    pub outputs: Outputs,
}

impl Network {
    /// A freshly initialised network (reference initialisation: Kaiming-normal fan-out on every
    /// conv, N(0, 0.01²) on linear layers, zero biases, BN γ = 1, β = 0, PReLU slopes 0.25).
    pub fn new(config: &NetworkConfig, device: &Device) -> Self {
        let mut c_in = 1;
        let blocks = BLOCKS
            .iter()
            .map(|spec| {
                let block = ComplexBlock::new(c_in, spec, config, device);
                c_in = spec.channels;
                block
            })
            .collect();
        let n = config.num_classes;
        Self {
            blocks,
            magnitude_conv: conv2d([45, 4], [5, 1], [2, 1], [1, 0], device),
            complex_conv: conv2d([90, 4], [5, 1], [2, 1], [1, 0], device),
            attention: ChannelAttention::new(config.attention_gate, device),
            total_conv: conv2d([8, 4], [1, 1], [1, 1], [0, 0], device),
            classifier_magnitude: linear(4, n, device),
            classifier_complex: linear(4, n, device),
            classifier_total: linear(4, n, device),
        }
    }

    /// Trainable real scalars (a complex BN shift counts as two). burn's `num_params` also
    /// counts the BN running statistics, which are buffers, not parameters: they are
    /// subtracted here.
    pub fn num_trainable_params(&self) -> usize {
        let buffers: usize = self
            .blocks
            .iter()
            .map(|b| {
                let bn = &b.bn;
                [
                    &bn.running_mean_re,
                    &bn.running_mean_im,
                    &bn.running_var,
                    &bn.running_var_im,
                ]
                .iter()
                .map(|s| s.value().dims()[0])
                .sum::<usize>()
            })
            .sum();
        self.num_params() - buffers
    }

    /// Number of machine IDs the heads tell apart.
    pub fn num_classes(&self) -> usize {
        self.classifier_total.weight.dims()[1]
    }

    /// The three heads' logits for a batch `re`, `im` `[B, 1, 513, T]`. Batch norm runs in train
    /// mode on an autodiff device, in eval mode otherwise.
    pub fn forward(&self, re: Tensor<4>, im: Tensor<4>) -> Outputs {
        self.forward_trace(re, im).outputs
    }

    /// The forward pass with every intermediate tensor kept (parity tests, feature
    /// extraction).
    pub fn forward_trace(&self, re: Tensor<4>, im: Tensor<4>) -> Trace {
        let train = re.device().is_autodiff();
        let mut x = Complex { re, im };
        let mut blocks = Vec::with_capacity(self.blocks.len());
        let mut batch_stats = Vec::new();
        // In inference on the CPU kernel, each block is one kernel call and the planes stay in
        // its buffers between blocks (`trunk_on_cpu`); elsewhere the first block refuses and
        // every block runs as usual.
        #[cfg(feature = "flex")]
        if !train {
            blocks = crate::complex::trunk_on_cpu(&self.blocks, &x);
            if let Some(last) = blocks.last() {
                x = last.clone();
            }
        }
        for block in &self.blocks[blocks.len()..] {
            x = if train {
                let (y, stats) = block.forward_train(x);
                batch_stats.push(stats);
                y
            } else {
                block.forward(x)
            };
            blocks.push(x.clone());
        }
        let power = x.re.clone().square() + x.im.clone().square();
        let fm = self.magnitude_conv.forward(power);
        let fc = self.complex_conv.forward(Tensor::cat(vec![x.re, x.im], 1));
        let ft = Tensor::cat(vec![fc.clone(), fm.clone()], 1);
        let attention = self.attention.weights(ft.clone());
        let [b, c] = attention.dims();
        let fout = ft.clone() * attention.clone().reshape([b, c, 1, 1]) + ft.clone();
        let t = self.total_conv.forward(fout.clone());
        let fm_pooled = global_average(fm.clone());
        let fc_pooled = global_average(fc.clone());
        let t_pooled = global_average(t.clone());
        let outputs = Outputs {
            magnitude: self.classifier_magnitude.forward(fm_pooled.clone()),
            complex: self.classifier_complex.forward(fc_pooled.clone()),
            total: self.classifier_total.forward(t_pooled.clone()),
        };
        Trace {
            blocks,
            batch_stats,
            fm,
            fc,
            ft,
            attention,
            fout,
            t,
            fm_pooled,
            fc_pooled,
            t_pooled,
            outputs,
        }
    }
}
