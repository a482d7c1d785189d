//! Complex-valued layers, each held as real tensors (real part, imaginary part).
//!
//! - [`ComplexConv2d`]: two real convolutions `W_r`, `W_i` with bias:
//!   `re' = W_r∗re − W_i∗im`, `im' = W_r∗im + W_i∗re`.
//! - [`ComplexBatchNorm`]: complex mean, one real variance per channel `mean |z − μ|²`, real
//!   gain γ, complex shift β, running statistics.
//! - [`SplitPRelu`]: one PReLU on the real part, another on the imaginary part.

use crate::config::{BlockSpec, BnVariance, NetworkConfig};
#[cfg(feature = "flex")]
use crate::cpu_conv::{ComplexKernel, Epilogue, Layout, Part, Planes};
use burn::module::{Module, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::module::conv2d as conv;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

/// A complex tensor as its real and imaginary parts, `[B, C, F, T]` each.
#[derive(Debug, Clone)]
pub struct Complex {
    /// Real part.
    pub re: Tensor<4>,
    /// Imaginary part.
    pub im: Tensor<4>,
}

impl Complex {
    /// Both parts with their last two dimensions swapped (a view on flex, no copy).
    pub fn transposed(self) -> Self {
        Self {
            re: self.re.swap_dims(2, 3),
            im: self.im.swap_dims(2, 3),
        }
    }
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

    /// `re' = W_r∗re − W_i∗im + (b_r − b_i)`, `im' = W_r∗im + W_i∗re + (b_r + b_i)` (each
    /// real convolution of the reference adds its own bias): in training (gradients tracked)
    /// as the reference computes it, otherwise in the faster [`ConvForm::INFERENCE`].
    pub fn forward(&self, x: Complex) -> Complex {
        let form = if self.real.weight.val().is_require_grad() {
            ConvForm::FourReal
        } else {
            ConvForm::INFERENCE
        };
        self.forward_as(x, form)
    }

    /// [`Self::forward`] in a chosen form (the forms agree up to rounding).
    pub fn forward_as(&self, x: Complex, form: ConvForm) -> Complex {
        let Some(options) = self.options() else {
            // Padding computed from the input (never built by this crate): burn's own layers.
            let re = self.real.forward(x.re.clone()) - self.imag.forward(x.im.clone());
            let im = self.real.forward(x.im) + self.imag.forward(x.re);
            return Complex { re, im };
        };
        let (wr, wi) = (self.real.weight.val(), self.imag.weight.val());
        let bias = |c: &Conv2d| c.bias.as_ref().map(|b| b.val());
        let (br, bi) = (bias(&self.real), bias(&self.imag));
        match form {
            #[cfg(feature = "flex")]
            ConvForm::GaussTiled => match self.forward_tiled(&x) {
                Some(y) => y,
                None => self.forward_as(x, ConvForm::Gauss),
            },
            #[cfg(not(feature = "flex"))]
            ConvForm::GaussTiled => self.forward_as(x, ConvForm::Gauss),
            ConvForm::FourReal => {
                let re = conv(x.re.clone(), wr.clone(), br.clone(), options.clone())
                    - conv(x.im.clone(), wi.clone(), bi.clone(), options.clone());
                let im = conv(x.im, wr, br, options.clone()) + conv(x.re, wi, bi, options);
                Complex { re, im }
            }
            ConvForm::Gauss => {
                let t1 = conv(x.re.clone(), wr.clone(), None, options.clone());
                let t2 = conv(x.im.clone(), wi.clone(), None, options.clone());
                let t3 = conv(x.re + x.im, wr + wi, None, options);
                let re = t1.clone() - t2.clone();
                let im = t3 - t1 - t2;
                match (br, bi) {
                    (Some(br), Some(bi)) => Complex {
                        re: re + per_channel(br.clone() - bi.clone()),
                        im: im + per_channel(br + bi),
                    },
                    _ => Complex { re, im },
                }
            }
            ConvForm::Stacked => {
                let out = wr.dims()[0];
                // [[W_r, −W_i], [W_i, W_r]] over the input [re; im].
                let weight = Tensor::cat(
                    vec![
                        Tensor::cat(vec![wr.clone(), -wi.clone()], 1),
                        Tensor::cat(vec![wi, wr], 1),
                    ],
                    0,
                );
                let bias = match (br, bi) {
                    (Some(br), Some(bi)) => {
                        Some(Tensor::cat(vec![br.clone() - bi.clone(), br + bi], 0))
                    }
                    _ => None,
                };
                let y = conv(Tensor::cat(vec![x.re, x.im], 1), weight, bias, options);
                Complex {
                    re: y.clone().narrow(1, 0, out),
                    im: y.narrow(1, out, out),
                }
            }
        }
    }

    /// The layer's options if the CPU kernel (`crate::cpu_conv`) can compute it on `device`:
    /// flex without autodiff, and a layer this crate builds (explicit symmetric padding, no
    /// dilation, no groups). Reads no tensor, so that elsewhere (WebGPU) nothing is copied.
    #[cfg(feature = "flex")]
    fn cpu_kernel_options(&self, device: &Device) -> Option<ConvOptions<2>> {
        let options = self.options()?;
        let fits = !device.is_autodiff()
            && *device == Device::flex()
            && options.dilation == [1, 1]
            && options.groups == 1
            && options.padding.iter().all(|(begin, end)| begin == end);
        fits.then_some(options)
    }

    /// This layer as the CPU kernel computes it, `epilogue` applied to each output: `None`
    /// where [`Self::cpu_kernel_options`] is, or where the weights are not f32.
    #[cfg(feature = "flex")]
    fn cpu_kernel(&self, device: &Device, epilogue: Option<Epilogue>) -> Option<ComplexKernel> {
        let options = self.cpu_kernel_options(device)?;
        let [c_out, c_in, kh, kw] = self.real.weight.dims();
        let (bias_re, bias_im) = match (&self.real.bias, &self.imag.bias) {
            (Some(br), Some(bi)) => {
                let (br, bi) = (values(br.val())?, values(bi.val())?);
                let diff = br.iter().zip(&bi).map(|(r, i)| r - i).collect();
                let sum = br.iter().zip(&bi).map(|(r, i)| r + i).collect();
                (diff, sum)
            }
            (None, None) => (vec![0.0; c_out], vec![0.0; c_out]),
            _ => return None,
        };
        Some(ComplexKernel {
            wr: values(self.real.weight.val())?,
            wi: values(self.imag.weight.val())?,
            bias_re,
            bias_im,
            c_in,
            spec: BlockSpec {
                channels: c_out,
                kernel: [kh, kw],
                stride: options.stride,
                padding: options.padding.map(|(begin, _)| begin),
            },
            epilogue,
        })
    }

    /// [`ConvForm::GaussTiled`] through the CPU kernel, on freq-major planes: `None` where
    /// [`Self::cpu_kernel`] is.
    #[cfg(feature = "flex")]
    fn forward_tiled(&self, x: &Complex) -> Option<Complex> {
        let device = x.re.device();
        let kernel = self.cpu_kernel(&device, None)?;
        let input = Planes {
            re: values(x.re.clone())?,
            im: values(x.im.clone())?,
            dims: x.re.dims(),
        };
        Some(
            kernel
                .forward(&input, Layout::FreqMajor)?
                .into_complex(&device),
        )
    }

    /// The convolution's options, for the explicit padding every layer here is built with.
    fn options(&self) -> Option<ConvOptions<2>> {
        let c = &self.real;
        let PaddingConfig2d::Explicit(top, left, bottom, right) = c.padding else {
            return None;
        };
        Some(ConvOptions::new_with_padding(
            c.stride,
            [(top, bottom), (left, right)],
            c.dilation,
            c.groups,
        ))
    }
}

/// A tensor's values, when they are f32 and readable here (the CPU).
#[cfg(feature = "flex")]
fn values<const D: usize>(t: Tensor<D>) -> Option<Vec<f32>> {
    t.try_into_data().ok()?.try_into_vec::<f32>().ok()
}

/// How a complex convolution is computed from real ones; all give the same numbers up to
/// rounding (the parity suite holds each to the reference's tolerances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvForm {
    /// Four real convolutions, as the reference writes it.
    FourReal,
    /// Gauss's product: three real convolutions (`W_r∗re`, `W_i∗im`, `(W_r+W_i)∗(re+im)`), a
    /// quarter less arithmetic.
    Gauss,
    /// One real convolution of twice the channels, `[[W_r, −W_i], [W_i, W_r]]` over `[re; im]`:
    /// the same arithmetic as four, in one call.
    Stacked,
    /// Gauss's three products computed together by this crate's own CPU kernel (`cpu_conv.rs`:
    /// gemm over im2col tiles shared by the products, written in place) when the tensors are
    /// on flex; elsewhere (WebGPU, autodiff) exactly [`ConvForm::Gauss`].
    GaussTiled,
}

impl ConvForm {
    /// The form of every forward pass without gradients (scoring, enrollment, the page): the
    /// fastest on the CPU (`cargo bench -p mimimi-model --bench forward` compares them side by
    /// side). Training keeps the reference's four convolutions: the gradient parity suite holds
    /// them to 1e-3 of the reference, and both other forms reorder the sums behind layer 0's
    /// imaginary-part gradients (3.7e-3 there).
    pub const INFERENCE: ConvForm = ConvForm::GaussTiled;
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

    /// Eval mode, a per-channel affine map of each part, `(scale, shift)` of the real and of
    /// the imaginary part (each `[C]`): `scale = γ / √(running var + ε)`, `shift = β − running
    /// mean · scale`. Both the layer and the CPU kernel's epilogue apply it.
    pub fn eval_affine(&self, device: &Device) -> [(Tensor<1>, Tensor<1>); 2] {
        let var_re = self.running_var.value().to_device(device);
        let var_im = if self.separate_variance {
            self.running_var_im.value().to_device(device)
        } else {
            var_re.clone()
        };
        let part = |mean: &RunningState<Tensor<1>>, var: Tensor<1>, beta: &Param<Tensor<1>>| {
            let scale = self.gamma.val().to_device(device) / (var + self.epsilon).sqrt();
            let shift =
                beta.val().to_device(device) - mean.value().to_device(device) * scale.clone();
            (scale, shift)
        };
        [
            part(&self.running_mean_re, var_re, &self.beta_re),
            part(&self.running_mean_im, var_im, &self.beta_im),
        ]
    }

    /// Eval mode: the running statistics, as [`Self::eval_affine`].
    pub fn forward_eval(&self, x: Complex) -> Complex {
        let [(scale_re, shift_re), (scale_im, shift_im)] = self.eval_affine(&x.re.device());
        Complex {
            re: x.re * per_channel(scale_re) + per_channel(shift_re),
            im: x.im * per_channel(scale_im) + per_channel(shift_im),
        }
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

    /// The block in inference as one call of the CPU kernel: the convolution, with the
    /// normalisation ([`ComplexBatchNorm::eval_affine`]) and the activation applied as each
    /// tile is written. `None` where [`ComplexConv2d::cpu_kernel`] is.
    #[cfg(feature = "flex")]
    pub(crate) fn cpu_kernel(&self, device: &Device) -> Option<ComplexKernel> {
        // Before any tensor is read.
        self.conv.cpu_kernel_options(device)?;
        let [(scale_re, shift_re), (scale_im, shift_im)] = self.bn.eval_affine(device);
        let part = |scale, shift, slope: &Param<Tensor<1>>| -> Option<Part> {
            Some(Part {
                scale: values(scale)?,
                shift: values(shift)?,
                slope: values(slope.val())?,
            })
        };
        let epilogue = Epilogue {
            re: part(scale_re, shift_re, &self.activation.alpha_re)?,
            im: part(scale_im, shift_im, &self.activation.alpha_im)?,
        };
        self.conv.cpu_kernel(device, Some(epilogue))
    }

    /// Train-mode output and the batch statistics of its normalisation.
    pub fn forward_train(&self, x: Complex) -> (Complex, BatchStats) {
        let (y, stats) = self.bn.forward_train(self.conv.forward(x));
        (self.activation.forward(y), stats)
    }
}

/// The blocks' outputs in inference on the CPU kernel, each block one kernel call
/// ([`ComplexBlock::cpu_kernel`]). The planes stay time-major in the kernel's own buffers from
/// block to block (one transpose of the input; no tensor read back between blocks); each
/// output is handed on as a freq-major view. Stops before the first block the kernel does not
/// apply to (the first, off flex or with gradients), so the caller runs the rest as usual.
#[cfg(feature = "flex")]
pub(crate) fn trunk_on_cpu(blocks: &[ComplexBlock], x: &Complex) -> Vec<Complex> {
    let device = x.re.device();
    let mut outputs = Vec::new();
    // The latest block's output, still in the kernel's buffers.
    let mut latest: Option<Planes> = None;
    for block in blocks {
        let Some(kernel) = block.cpu_kernel(&device) else {
            break;
        };
        let first;
        let input = match &latest {
            Some(planes) => planes,
            None => {
                let t = x.clone().transposed();
                let dims = t.re.dims();
                let (Some(re), Some(im)) = (values(t.re), values(t.im)) else {
                    break;
                };
                first = Planes { re, im, dims };
                &first
            }
        };
        let Some(out) = kernel.forward(input, Layout::TimeMajor) else {
            break;
        };
        if let Some(done) = latest.replace(out) {
            outputs.push(done.into_complex(&device).transposed());
        }
    }
    if let Some(done) = latest {
        outputs.push(done.into_complex(&device).transposed());
    }
    outputs
}

#[cfg(feature = "flex")]
impl Planes {
    /// The planes as tensors on `device`, dimensions in storage order (no copy).
    fn into_complex(self, device: &Device) -> Complex {
        let tensor = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, self.dims), device);
        Complex {
            re: tensor(self.re),
            im: tensor(self.im),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BLOCKS;
    use burn::tensor::Distribution;

    #[test]
    fn every_conv_form_gives_the_same_numbers() {
        let device = Device::flex();
        let mut x = Complex {
            re: Tensor::random([2, 1, 65, 24], Distribution::Normal(0.0, 1.0), &device),
            im: Tensor::random([2, 1, 65, 24], Distribution::Normal(0.0, 1.0), &device),
        };
        let mut c_in = 1;
        for spec in &BLOCKS {
            let layer = ComplexConv2d::new(c_in, spec, &device);
            // Non-zero biases, so their sum and difference are checked too.
            let bias = || {
                Some(Param::from_tensor(Tensor::random(
                    [spec.channels],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                )))
            };
            let layer = ComplexConv2d {
                real: Conv2d {
                    bias: bias(),
                    ..layer.real
                },
                imag: Conv2d {
                    bias: bias(),
                    ..layer.imag
                },
            };
            let want = layer.forward_as(x.clone(), ConvForm::FourReal);
            let scale: f32 = want.re.clone().abs().max().into_scalar();
            // The tiled form really ran this crate's kernel here (flex, no autodiff).
            assert!(layer.forward_tiled(&x).is_some());
            for form in [ConvForm::Gauss, ConvForm::Stacked, ConvForm::GaussTiled] {
                let got = layer.forward_as(x.clone(), form);
                for (a, b) in [(&got.re, &want.re), (&got.im, &want.im)] {
                    assert_eq!(a.dims(), b.dims(), "{form:?}");
                    let err: f32 = (a.clone() - b.clone()).abs().max().into_scalar();
                    assert!(err <= 1e-5 * scale, "{form:?}: {err} of {scale}");
                }
            }
            x = want;
            c_in = spec.channels;
        }
    }

    /// The trunk on the CPU kernel (normalisation and activation applied by the kernel, planes
    /// kept time-major between blocks) gives every block's output as the blocks do one by one.
    #[test]
    fn the_trunk_on_the_cpu_kernel_matches_the_blocks() {
        let device = Device::flex();
        let config = NetworkConfig::new(4);
        let random = |c: usize, low: f64, high: f64| {
            Tensor::<1>::random([c], Distribution::Uniform(low, high), &device)
        };
        let mut c_in = 1;
        let blocks: Vec<ComplexBlock> = BLOCKS
            .iter()
            .map(|spec| {
                let mut block = ComplexBlock::new(c_in, spec, &config, &device);
                c_in = spec.channels;
                // Statistics and slopes away from their initial values, so each map counts.
                let c = spec.channels;
                block.bn.gamma = Param::from_tensor(random(c, 0.5, 2.0));
                block.bn.beta_re = Param::from_tensor(random(c, -1.0, 1.0));
                block.bn.beta_im = Param::from_tensor(random(c, -1.0, 1.0));
                block.bn.running_mean_re = RunningState::new(random(c, -1.0, 1.0));
                block.bn.running_mean_im = RunningState::new(random(c, -1.0, 1.0));
                block.bn.running_var = RunningState::new(random(c, 0.5, 2.0));
                block.activation.alpha_re = Param::from_tensor(random(c, -0.5, 0.5));
                block.activation.alpha_im = Param::from_tensor(random(c, -0.5, 0.5));
                block
            })
            .collect();
        let x = Complex {
            re: Tensor::random([2, 1, 65, 24], Distribution::Normal(0.0, 1.0), &device),
            im: Tensor::random([2, 1, 65, 24], Distribution::Normal(0.0, 1.0), &device),
        };
        let got = trunk_on_cpu(&blocks, &x);
        assert_eq!(got.len(), blocks.len());
        let mut want = x;
        for (n, (block, got)) in blocks.iter().zip(&got).enumerate() {
            want = block.forward(want);
            let scale: f32 = want.re.clone().abs().max().into_scalar();
            for (a, b) in [(&got.re, &want.re), (&got.im, &want.im)] {
                assert_eq!(a.dims(), b.dims(), "block {n}");
                let err: f32 = (a.clone() - b.clone()).abs().max().into_scalar();
                assert!(err <= 1e-5 * scale, "block {n}: {err} of {scale}");
            }
        }
    }
}
