//! Complex-valued layers, each held as real tensors (real part, imaginary part).
//!
//! - [`ComplexConv2d`]: two real convolutions `W_r`, `W_i` with bias:
//!   `re' = W_r∗re − W_i∗im`, `im' = W_r∗im + W_i∗re`.
//! - [`ComplexBatchNorm`]: complex mean, one real variance per channel `mean |z − μ|²`, real
//!   gain γ, complex shift β, running statistics.
//! - [`SplitPRelu`]: one PReLU on the real part, another on the imaginary part.

use crate::config::{BlockSpec, BnVariance, NetworkConfig};
use burn::module::{Module, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// A complex tensor as its real and imaginary parts, `[B, C, F, T]` each.
#[derive(Debug, Clone)]
pub struct Complex {
    /// Real part.
    pub re: Tensor<4>,
    /// Imaginary part.
    pub im: Tensor<4>,
}

/// Kaiming-normal initialisation with fan-out and the ReLU gain, as the reference uses on every
/// convolution.
pub(crate) fn kaiming_fan_out() -> Initializer {
    Initializer::KaimingNormal {
        gain: 2f64.sqrt(),
        fan_out_only: true,
    }
}

/// A real `Conv2d` with the reference's initialisation: Kaiming-normal (fan-out) weights and
/// zero bias.
pub(crate) fn conv2d(
    channels: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    device: &Device,
) -> Conv2d {
    let mut conv = Conv2dConfig::new(channels, kernel)
        .with_stride(stride)
        .with_padding(PaddingConfig2d::Explicit(
            padding[0], padding[1], padding[0], padding[1],
        ))
        .with_initializer(kaiming_fan_out())
        .init(device);
    conv.bias = Some(Param::from_tensor(Tensor::zeros([channels[1]], device)));
    conv
}

/// Complex 2-D convolution from two real convolutions.
#[derive(Module, Debug)]
pub struct ComplexConv2d {
    /// `W_r` (and its bias).
    pub real: Conv2d,
    /// `W_i` (and its bias).
    pub imag: Conv2d,
}

impl ComplexConv2d {
    /// A complex convolution from `c_in` to the block's channels.
    pub fn new(c_in: usize, spec: &BlockSpec, device: &Device) -> Self {
        let make = || {
            conv2d(
                [c_in, spec.channels],
                spec.kernel,
                spec.stride,
                spec.padding,
                device,
            )
        };
        Self {
            real: make(),
            imag: make(),
        }
    }

    /// `re' = W_r∗re − W_i∗im`, `im' = W_r∗im + W_i∗re`; each convolution adds its own bias.
    pub fn forward(&self, x: Complex) -> Complex {
        let re = self.real.forward(x.re.clone()) - self.imag.forward(x.im.clone());
        let im = self.real.forward(x.im) + self.imag.forward(x.re);
        Complex { re, im }
    }
}

/// Batch statistics of one train-mode pass (exposed for tests and diagnostics).
#[derive(Debug, Clone)]
pub struct BatchStats {
    /// Complex batch mean, real part `[C]`.
    pub mean_re: Tensor<1>,
    /// Complex batch mean, imaginary part `[C]`.
    pub mean_im: Tensor<1>,
    /// Biased variance used for the real part `[C]`: `mean |z − μ|²` (joint, the reference) or
    /// `mean (re − Re μ)²` (separate).
    pub var_re: Tensor<1>,
    /// Biased variance used for the imaginary part `[C]` (equal to `var_re` when joint).
    pub var_im: Tensor<1>,
}

/// Complex batch normalisation.
///
/// By default one real variance per channel, `mean |z − μ|²`, as the reference code computes
/// it. With `separate_variance` the real and imaginary parts each get their own variance, as
/// the reference's README and the paper describe ([`crate::config::BnVariance::Separate`]).
///
/// Train mode (an autodiff device): normalise with the batch's complex mean and biased
/// variance over (batch, freq, time), gradients flowing through both, and update
/// `running ← (1 − m)·running + m·batch` for the mean and the (biased) variance.
/// Eval mode: normalise with the running statistics.
#[derive(Module, Debug)]
pub struct ComplexBatchNorm {
    /// Real gain γ `[C]`.
    pub gamma: Param<Tensor<1>>,
    /// Complex shift β, real part `[C]`.
    pub beta_re: Param<Tensor<1>>,
    /// Complex shift β, imaginary part `[C]`.
    pub beta_im: Param<Tensor<1>>,
    /// Running complex mean, real part.
    pub running_mean_re: RunningState<Tensor<1>>,
    /// Running complex mean, imaginary part.
    pub running_mean_im: RunningState<Tensor<1>>,
    /// Running variance (of the real part when the variances are separate).
    pub running_var: RunningState<Tensor<1>>,
    /// Running variance of the imaginary part (a copy of `running_var` when joint).
    pub running_var_im: RunningState<Tensor<1>>,
    /// One variance per part instead of one joint variance.
    pub separate_variance: bool,
    /// Added to the variance.
    pub epsilon: f64,
    /// Weight of the batch statistics in the running ones.
    pub momentum: f64,
}

/// `[C]` → `[1, C, 1, 1]` for broadcasting over a `[B, C, F, T]` map.
fn per_channel(t: Tensor<1>) -> Tensor<4> {
    let c = t.dims()[0];
    t.reshape([1, c, 1, 1])
}

impl ComplexBatchNorm {
    /// γ = 1, β = 0, running mean 0, running variance 1.
    pub fn new(
        channels: usize,
        epsilon: f64,
        momentum: f64,
        separate_variance: bool,
        device: &Device,
    ) -> Self {
        let zeros = || Tensor::zeros([channels], device);
        Self {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta_re: Param::from_tensor(zeros()),
            beta_im: Param::from_tensor(zeros()),
            running_mean_re: RunningState::new(zeros()),
            running_mean_im: RunningState::new(zeros()),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            running_var_im: RunningState::new(Tensor::ones([channels], device)),
            separate_variance,
            epsilon,
            momentum,
        }
    }

    /// Normalises `x`; train mode on an autodiff device, eval mode otherwise.
    pub fn forward(&self, x: Complex) -> Complex {
        if x.re.device().is_autodiff() {
            self.forward_train(x).0
        } else {
            self.forward_eval(x)
        }
    }

    fn normalise(&self, x: Complex, stats: &BatchStats) -> Complex {
        let scale =
            |var: &Tensor<1>| per_channel(self.gamma.val() / (var.clone() + self.epsilon).sqrt());
        let re = (x.re - per_channel(stats.mean_re.clone())) * scale(&stats.var_re)
            + per_channel(self.beta_re.val());
        let im = (x.im - per_channel(stats.mean_im.clone())) * scale(&stats.var_im)
            + per_channel(self.beta_im.val());
        Complex { re, im }
    }

    /// Eval mode: the running statistics.
    pub fn forward_eval(&self, x: Complex) -> Complex {
        let device = x.re.device();
        let mean_re = self.running_mean_re.value().to_device(&device);
        let mean_im = self.running_mean_im.value().to_device(&device);
        let var_re = self.running_var.value().to_device(&device);
        let var_im = if self.separate_variance {
            self.running_var_im.value().to_device(&device)
        } else {
            var_re.clone()
        };
        self.normalise(
            x,
            &BatchStats {
                mean_re,
                mean_im,
                var_re,
                var_im,
            },
        )
    }

    /// Train mode: batch statistics, running statistics updated. Returns the output and the
    /// batch statistics.
    pub fn forward_train(&self, x: Complex) -> (Complex, BatchStats) {
        let [_, c, _, _] = x.re.dims();
        let channel_mean = |t: Tensor<4>| t.mean_dims(&[0, 2, 3]).reshape([c]);
        let mean_re = channel_mean(x.re.clone());
        let mean_im = channel_mean(x.im.clone());
        let d_re = x.re.clone() - per_channel(mean_re.clone());
        let d_im = x.im.clone() - per_channel(mean_im.clone());
        let (var_re, var_im) = if self.separate_variance {
            (channel_mean(d_re.square()), channel_mean(d_im.square()))
        } else {
            let var = channel_mean(d_re.square() + d_im.square());
            (var.clone(), var)
        };

        let device = x.re.device();
        let m = self.momentum;
        let update = |state: &RunningState<Tensor<1>>, batch: &Tensor<1>| {
            let old = state.value_sync().to_device(&device);
            state.update((old.mul_scalar(1.0 - m) + batch.clone().detach().mul_scalar(m)).detach());
        };
        update(&self.running_mean_re, &mean_re);
        update(&self.running_mean_im, &mean_im);
        update(&self.running_var, &var_re);
        update(&self.running_var_im, &var_im);

        let stats = BatchStats {
            mean_re,
            mean_im,
            var_re,
            var_im,
        };
        (self.normalise(x, &stats), stats)
    }
}

/// PReLU with per-channel slopes, applied separately to the real and imaginary parts.
#[derive(Module, Debug)]
pub struct SplitPRelu {
    /// Slopes for the real part `[C]` (initial 0.25).
    pub alpha_re: Param<Tensor<1>>,
    /// Slopes for the imaginary part `[C]` (initial 0.25).
    pub alpha_im: Param<Tensor<1>>,
}

impl SplitPRelu {
    /// Slopes of 0.25, as `nn.PReLU(C)`.
    pub fn new(channels: usize, device: &Device) -> Self {
        let slopes = || Param::from_tensor(Tensor::full([channels], 0.25, device));
        Self {
            alpha_re: slopes(),
            alpha_im: slopes(),
        }
    }

    /// `y = x` for x ≥ 0, `a_c·x` otherwise, per part.
    pub fn forward(&self, x: Complex) -> Complex {
        Complex {
            re: burn::tensor::activation::prelu(x.re, self.alpha_re.val()),
            im: burn::tensor::activation::prelu(x.im, self.alpha_im.val()),
        }
    }
}

/// ComplexConv2d → complex batch norm → split PReLU.
#[derive(Module, Debug)]
pub struct ComplexBlock {
    /// The convolution.
    pub conv: ComplexConv2d,
    /// The normalisation.
    pub bn: ComplexBatchNorm,
    /// The activation.
    pub activation: SplitPRelu,
}

impl ComplexBlock {
    /// A block from `c_in` channels with the given spec and network configuration.
    pub fn new(c_in: usize, spec: &BlockSpec, config: &NetworkConfig, device: &Device) -> Self {
        let separate = config.bn_variance == BnVariance::Separate;
        Self {
            conv: ComplexConv2d::new(c_in, spec, device),
            bn: ComplexBatchNorm::new(
                spec.channels,
                config.bn_epsilon,
                config.bn_momentum,
                separate,
                device,
            ),
            activation: SplitPRelu::new(spec.channels, device),
        }
    }

    /// The block's output.
    pub fn forward(&self, x: Complex) -> Complex {
        self.activation
            .forward(self.bn.forward(self.conv.forward(x)))
    }

    /// Train-mode output and the batch statistics of its normalisation.
    pub fn forward_train(&self, x: Complex) -> (Complex, BatchStats) {
        let (y, stats) = self.bn.forward_train(self.conv.forward(x));
        (self.activation.forward(y), stats)
    }
}
