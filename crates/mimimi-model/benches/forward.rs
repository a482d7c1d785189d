//! Forward-pass timing on the CPU backend (flex): one 64-frame example, a 10 s clip as its 9
//! windows (the default scoring), and a 10 s clip in one whole-clip pass; then the network's
//! five complex convolutions on a 10 s clip's 9 windows in each [`ConvForm`], side by side.
//!
//! Run: `cargo bench -p mimimi-model --bench forward` (prints the median of N runs after one
//! warm-up; set MIMIMI_BENCH_RUNS to change N).

use burn::tensor::{Device, Distribution, Tensor};
use mimimi_model::complex::{Complex, ComplexConv2d, ConvForm};
use mimimi_model::config::BLOCKS;
use mimimi_model::{Network, NetworkConfig};
use std::time::Instant;

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() {
    let runs: usize = std::env::var("MIMIMI_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let device = Device::flex();
    let net = Network::new(&NetworkConfig::new(4), &device);
    let case = |batch: usize, frames: usize| {
        let x = Tensor::<4>::random(
            [batch, 1, 513, frames],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let net = &net;
        median_ms(runs, move || {
            let out = net.forward(x.clone(), x.clone()).total;
            let _ = out.into_data();
        })
    };
    println!("flex (CPU), {runs} runs, median:");
    println!(
        "  one 64-frame example (513×64):        {:8.1} ms",
        case(1, 64)
    );
    println!(
        "  10 s clip as 9 windows (9×513×64):    {:8.1} ms",
        case(9, 64)
    );
    println!(
        "  10 s clip whole (513×313):            {:8.1} ms",
        case(1, 313)
    );

    // The five complex convolutions alone, chained (no BN or PReLU between them: only the
    // shapes matter), in each form.
    let mut c_in = 1;
    let layers: Vec<ComplexConv2d> = BLOCKS
        .iter()
        .map(|spec| {
            let layer = ComplexConv2d::new(c_in, spec, &device);
            c_in = spec.channels;
            layer
        })
        .collect();
    let x = Complex {
        re: Tensor::<4>::random([9, 1, 513, 64], Distribution::Normal(0.0, 1.0), &device),
        im: Tensor::<4>::random([9, 1, 513, 64], Distribution::Normal(0.0, 1.0), &device),
    };
    let forms = [ConvForm::FourReal, ConvForm::Gauss, ConvForm::Stacked];
    let times: Vec<f64> = forms
        .iter()
        .map(|&form| {
            median_ms(runs, || {
                let y = layers
                    .iter()
                    .fold(x.clone(), |x, layer| layer.forward_as(x, form));
                let _ = y.re.into_data();
                let _ = y.im.into_data();
            })
        })
        .collect();
    println!(
        "  complex convolutions of 9 windows, by form (inference: {:?}):",
        ConvForm::INFERENCE
    );
    for (form, ms) in forms.iter().zip(&times) {
        println!(
            "    {:<10} {ms:8.1} ms  ({:.2}× four real)",
            format!("{form:?}"),
            ms / times[0]
        );
    }
}
