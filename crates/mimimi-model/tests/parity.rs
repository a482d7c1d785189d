//! Number-for-number parity with the PyTorch reference network (marcpinet/mimimi), on the
//! fixtures of `tests/fixtures/reference/` (copied from the reference generator; see its
//! README). Tolerances are relative to each tensor's largest magnitude; the float32 round-off
//! floor measured by the generator is about 3e-6 of it.
//!
//! The fixtures are compiled in, so the same suite also runs as WebAssembly:
//! `tests/run.sh` runs it with `wasm-bindgen-test-runner` (Node) on the CPU backend in wasm.
//! There it runs what the page runs, eval mode: the train-mode tests (an autodiff device) are
//! native only, so that the suite's wasm build has the engine worker's burn features and
//! shares its compiled burn (docs/building.md).
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use burn::tensor::{Device, Tensor, TensorData};
use mimimi_dsp::{FrontEnd, FrontEndConfig, PadMode, StftConfig};
use mimimi_model::reference::network_from_state_dict;
use mimimi_model::score::cross_entropy_against;
#[cfg(not(target_arch = "wasm32"))] // the train-mode tests, native only
use mimimi_model::score::loss;
use mimimi_model::state_dict::{HostTensor, StateDict, read_safetensors};
use mimimi_model::{AttentionGate, Network};
use std::sync::OnceLock;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn weights() -> &'static StateDict {
    static W: OnceLock<StateDict> = OnceLock::new();
    W.get_or_init(|| {
        read_safetensors(include_bytes!(
            "../../../tests/fixtures/reference/weights.safetensors"
        ))
        .unwrap()
    })
}

fn fixtures() -> &'static StateDict {
    static F: OnceLock<StateDict> = OnceLock::new();
    F.get_or_init(|| {
        read_safetensors(include_bytes!(
            "../../../tests/fixtures/reference/fixtures.safetensors"
        ))
        .unwrap()
    })
}

fn fx(name: &str) -> &'static HostTensor {
    fixtures()
        .get(name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn input<const D: usize>(name: &str, device: &Device) -> Tensor<D> {
    let t = fx(name);
    let shape: [usize; D] = t.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(t.data.clone(), shape), device)
}

fn values<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let data = t.into_data().convert::<f32>();
    let shape = data.shape().to_vec();
    (shape, data.try_to_vec::<f32>().unwrap())
}

/// Asserts max|got − want| ≤ tol · max|want| and returns that ratio.
fn check_values(name: &str, shape: &[usize], got: &[f32], want: &HostTensor, tol: f32) -> f32 {
    // A PyTorch scalar has shape []; burn's has [1].
    let scalar = want.shape.is_empty() && shape == [1];
    assert!(
        scalar || shape == want.shape.as_slice(),
        "{name}: shape {shape:?} vs {:?}",
        want.shape
    );
    let max = want
        .data
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let err = max_abs_diff(got, &want.data);
    let rel = err / max;
    println!("{name:45} max|Δ|/max|x| = {rel:.2e}");
    assert!(
        rel <= tol,
        "{name}: max|Δ| = {err:.3e} is {rel:.3e} of max|x| = {max:.3e} (tolerance {tol:.0e})"
    );
    rel
}

fn check<const D: usize>(name: &str, got: Tensor<D>, tol: f32) -> f32 {
    let (shape, v) = values(got);
    check_values(name, &shape, &v, fx(name), tol)
}

/// Maps, pooled features (the bound: 1e-4 of the largest magnitude).
const MAP_TOL: f32 = 1e-4;

fn reference_network(device: &Device) -> Network {
    network_from_state_dict(weights(), AttentionGate::Softmax, device)
        .unwrap()
        .0
}

fn eval_parity(prefix: &str, device: &Device) {
    let net = reference_network(device);
    let re = input::<4>(&format!("{prefix}.input.real"), device);
    let im = input::<4>(&format!("{prefix}.input.imag"), device);
    let trace = net.forward_trace(re, im);
    let block1 = trace.blocks[0].clone();
    if prefix == "a" {
        check("a.block1_item0.real", block1.re.narrow(0, 0, 1), MAP_TOL);
        check("a.block1_item0.imag", block1.im.narrow(0, 0, 1), MAP_TOL);
    } else {
        let w = block1.re.dims()[3];
        check(
            "b.block1_first4.real",
            block1.re.clone().narrow(3, 0, 4),
            MAP_TOL,
        );
        check(
            "b.block1_first4.imag",
            block1.im.clone().narrow(3, 0, 4),
            MAP_TOL,
        );
        check(
            "b.block1_last4.real",
            block1.re.narrow(3, w - 4, 4),
            MAP_TOL,
        );
        check(
            "b.block1_last4.imag",
            block1.im.narrow(3, w - 4, 4),
            MAP_TOL,
        );
    }
    let b5 = trace.blocks[4].clone();
    check(&format!("{prefix}.block5.real"), b5.re, MAP_TOL);
    check(&format!("{prefix}.block5.imag"), b5.im, MAP_TOL);
    check(&format!("{prefix}.Fm"), trace.fm, MAP_TOL);
    check(&format!("{prefix}.Fc"), trace.fc, MAP_TOL);
    check(&format!("{prefix}.Fm_pooled"), trace.fm_pooled, MAP_TOL);
    check(&format!("{prefix}.Fc_pooled"), trace.fc_pooled, MAP_TOL);
    check(&format!("{prefix}.Ft"), trace.ft, MAP_TOL);
    check(&format!("{prefix}.attention"), trace.attention, 1e-5);
    check(&format!("{prefix}.Fout"), trace.fout, MAP_TOL);
    check(&format!("{prefix}.T"), trace.t, MAP_TOL);
    check(&format!("{prefix}.T_pooled"), trace.t_pooled, MAP_TOL);
    check(
        &format!("{prefix}.logits_magnitude"),
        trace.outputs.magnitude,
        MAP_TOL,
    );
    check(
        &format!("{prefix}.logits_complex"),
        trace.outputs.complex,
        MAP_TOL,
    );
    check(
        &format!("{prefix}.logits_total"),
        trace.outputs.total.clone(),
        MAP_TOL,
    );
    check(
        &format!("{prefix}.anomaly_score"),
        cross_entropy_against(trace.outputs.total, 1),
        MAP_TOL,
    );
}

#[test]
fn eval_mode_matches_reference_on_input_a() {
    eval_parity("a", &Device::flex());
}

#[test]
fn eval_mode_matches_reference_on_input_b() {
    eval_parity("b", &Device::flex());
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn train_mode_matches_reference_on_input_a() {
    let device = Device::flex().autodiff();
    let net = reference_network(&device);
    let re = input::<4>("a.input.real", &device);
    let im = input::<4>("a.input.imag", &device);
    let trace = net.forward_trace(re, im);
    let labels = [1usize, 3];
    let total = loss(&trace.outputs, &labels);
    const TRAIN_TOL: f32 = 1e-3;
    check("a_train.loss", total.clone(), TRAIN_TOL);
    check(
        "a_train.logits_magnitude",
        trace.outputs.magnitude.clone(),
        TRAIN_TOL,
    );
    check(
        "a_train.logits_complex",
        trace.outputs.complex.clone(),
        TRAIN_TOL,
    );
    check(
        "a_train.logits_total",
        trace.outputs.total.clone(),
        TRAIN_TOL,
    );
    check("a_train.attention", trace.attention.clone(), TRAIN_TOL);
    check("a_train.Fm", trace.fm.clone(), TRAIN_TOL);
    check("a_train.Fc", trace.fc.clone(), TRAIN_TOL);
    check("a_train.Fout", trace.fout.clone(), TRAIN_TOL);
    check("a_train.T", trace.t.clone(), TRAIN_TOL);
    check("a_train.block5.real", trace.blocks[4].re.clone(), TRAIN_TOL);
    check("a_train.block5.imag", trace.blocks[4].im.clone(), TRAIN_TOL);

    let pair = |re: Tensor<1>, im: Tensor<1>| {
        let c = re.dims()[0];
        Tensor::cat(vec![re.reshape([c, 1]), im.reshape([c, 1])], 1)
    };
    for (i, (stats, block)) in trace.batch_stats.iter().zip(&net.blocks).enumerate() {
        let p = format!("a_train.complex_layers.{i}.bn");
        check(
            &format!("{p}.batch_mean"),
            pair(stats.mean_re.clone(), stats.mean_im.clone()),
            TRAIN_TOL,
        );
        check(&format!("{p}.batch_var"), stats.var_re.clone(), TRAIN_TOL);
        let after = format!("a_train.after.complex_layers.{i}.bn");
        let bn = &block.bn;
        check(
            &format!("{after}.running_mean"),
            pair(
                bn.running_mean_re.value_sync(),
                bn.running_mean_im.value_sync(),
            ),
            TRAIN_TOL,
        );
        check(
            &format!("{after}.running_var"),
            bn.running_var.value_sync(),
            TRAIN_TOL,
        );
    }

    let grads = total.backward();
    let g = |t: Tensor<1>| t.grad(&grads).expect("gradient");
    let g2 = |t: Tensor<2>| t.grad(&grads).expect("gradient");
    let g4 = |t: Tensor<4>| t.grad(&grads).expect("gradient");
    let b0 = &net.blocks[0];
    let b4 = &net.blocks[4];
    let gp = "a_train.grad.";
    check(
        &format!("{gp}complex_layers.0.conv.conv_imag.weight"),
        g4(b0.conv.imag.weight.val()),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}complex_layers.0.bn.bias"),
        pair(g(b0.bn.beta_re.val()), g(b0.bn.beta_im.val())),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}complex_layers.0.activation.prelu_imag.weight"),
        g(b0.activation.alpha_im.val()),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}complex_layers.4.bn.weight"),
        g(b4.bn.gamma.val()),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}complex_layers.4.activation.prelu_real.weight"),
        g(b4.activation.alpha_re.val()),
        TRAIN_TOL,
    );
    let bias = |c: &burn::nn::conv::Conv2d| g(c.bias.as_ref().unwrap().val());
    check(
        &format!("{gp}magnitude_conv.bias"),
        bias(&net.magnitude_conv),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}complex_conv.bias"),
        bias(&net.complex_conv),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}attention.conv.weight"),
        g4(net.attention.conv.weight.val()),
        TRAIN_TOL,
    );
    // burn stores Linear weights as [in, out]; the reference as [out, in].
    check(
        &format!("{gp}attention.fc1.weight"),
        g2(net.attention.fc1.weight.val()).transpose(),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}attention.fc2.bias"),
        g(net.attention.fc2.bias.as_ref().unwrap().val()),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}total_conv.weight"),
        g4(net.total_conv.weight.val()),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}classifier_magnitude.weight"),
        g2(net.classifier_magnitude.weight.val()).transpose(),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}classifier_complex.bias"),
        g(net.classifier_complex.bias.as_ref().unwrap().val()),
        TRAIN_TOL,
    );
    check(
        &format!("{gp}classifier_total.weight"),
        g2(net.classifier_total.weight.val()).transpose(),
        TRAIN_TOL,
    );
}

#[test]
fn signal_path_reproduces_input_b() {
    let signal = &fx("b.signal").data;
    let fe = FrontEnd::new(FrontEndConfig::default());
    assert_eq!(fe.config.stft.pad, PadMode::Reflect);
    let spec = mimimi_dsp::stft::stft(signal, &fe.config.stft);
    check_values(
        "b.stft.real",
        &[spec.bins, spec.frames],
        &spec.re,
        fx("b.stft.real"),
        1e-5,
    );
    check_values(
        "b.stft.imag",
        &[spec.bins, spec.frames],
        &spec.im,
        fx("b.stft.imag"),
        1e-5,
    );
    let prepared = fe.prepare_samples(signal).unwrap();
    let s = &prepared.spectrogram;
    let shape = [1, 1, s.bins, s.frames];
    let abs_err = |got: &[f32], want: &HostTensor| max_abs_diff(got, &want.data);
    assert_eq!(shape.as_slice(), fx("b.input.real").shape.as_slice());
    let (e_re, e_im) = (
        abs_err(&s.re, fx("b.input.real")),
        abs_err(&s.im, fx("b.input.imag")),
    );
    println!("normalised input B: max|Δ| re {e_re:.2e}, im {e_im:.2e}");
    assert!(e_re <= 1e-5 && e_im <= 1e-5);
    for (got, want) in prepared.norm_stats.iter().zip(&fx("b.norm_stats").data) {
        assert!((got - f64::from(*want)).abs() <= 1e-6 * f64::from(want.abs()).max(1.0));
    }
}

#[test]
fn zero_padding_changes_edge_frames_and_every_normalised_value() {
    // The reference's own pipeline (librosa ≥ 0.9) pads with zeros: a model imported from it
    // records that in its manifest. The two modes must really differ.
    let signal = &fx("b.signal").data;
    let zero = FrontEnd::new(FrontEndConfig {
        stft: StftConfig {
            pad: PadMode::Zero,
            ..Default::default()
        },
        ..Default::default()
    });
    let p = zero.prepare_samples(signal).unwrap();
    let want = &fx("b.input.real").data;
    let frames = p.spectrogram.frames;
    let edge = (0..513)
        .map(|f| (p.spectrogram.re[f * frames] - want[f * frames]).abs())
        .fold(0.0, f32::max);
    let inner = (p.spectrogram.re[100 * frames + 150] - want[100 * frames + 150]).abs();
    assert!(edge > 1e-2, "edge frame moved by {edge}");
    assert!(
        inner > 0.0,
        "normalisation statistics should change every value"
    );
}

#[test]
fn sigmoid_gate_is_an_option_that_changes_the_result() {
    let device = Device::flex();
    let net = network_from_state_dict(weights(), AttentionGate::Sigmoid, &device)
        .unwrap()
        .0;
    let trace = net.forward_trace(
        input("a.input.real", &device),
        input("a.input.imag", &device),
    );
    let (_, att) = values(trace.attention);
    assert!(att.iter().all(|&a| a > 0.0 && a < 1.0));
    let (_, logits) = values(trace.outputs.total);
    let want = &fx("a.logits_total").data;
    let diff = max_abs_diff(&logits, want);
    assert!(
        diff > 1e-2,
        "sigmoid gate should change the logits, changed by {diff}"
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn separate_bn_variance_is_an_option_that_changes_the_result() {
    // The paper's reading: real and imaginary parts normalised by their own variance. In train
    // mode (batch statistics) on input A the two variances differ, add up to the reference's
    // joint variance, and give different logits.
    let device = Device::flex().autodiff();
    let (mut net, _) = network_from_state_dict(weights(), AttentionGate::Softmax, &device).unwrap();
    for block in &mut net.blocks {
        block.bn.separate_variance = true;
    }
    let trace = net.forward_trace(
        input("a.input.real", &device),
        input("a.input.imag", &device),
    );
    let stats = &trace.batch_stats[0];
    let (_, re) = values(stats.var_re.clone());
    let (_, im) = values(stats.var_im.clone());
    assert!(
        re.iter()
            .zip(&im)
            .any(|(a, b)| (a - b).abs() > 1e-3 * a.abs()),
        "separate variances"
    );
    let (_, joint) = values(fx_tensor("a_train.complex_layers.0.bn.batch_var", &device));
    for ((a, b), j) in re.iter().zip(&im).zip(&joint) {
        assert!(
            (a + b - j).abs() <= 1e-4 * j.abs(),
            "var_re + var_im = joint var"
        );
    }
    let (_, logits) = values(trace.outputs.total);
    let want = &fx("a_train.logits_total").data;
    let diff = max_abs_diff(&logits, want);
    assert!(
        diff > 1e-2,
        "separate variance should change the logits, changed by {diff}"
    );
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[cfg(not(target_arch = "wasm32"))]
fn fx_tensor(name: &str, device: &Device) -> Tensor<1> {
    let t = fx(name);
    Tensor::from_data(TensorData::new(t.data.clone(), [t.data.len()]), device)
}
