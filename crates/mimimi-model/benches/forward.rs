//! Forward-pass timing on the CPU backend (flex), with criterion: one 64-frame example, a 10 s
//! clip as its 9 windows (the default scoring), and a 10 s clip in one whole-clip pass; then
//! the network's five complex convolutions on a 10 s clip's 9 windows in each [`ConvForm`],
//! side by side in one run.
//!
//! Run: `cargo bench -p mimimi-model --bench forward` (criterion prints each time with its
//! spread; `-- conv` runs only the convolution forms).
#![allow(clippy::unwrap_used)] // a failed unwrap is the benchmark failing
#![allow(missing_docs)] // criterion's macros write undocumented items

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mimimi_model::complex::{Complex, ComplexConv2d, ConvForm};
use mimimi_model::config::BLOCKS;
use mimimi_model::{Network, NetworkConfig};
use std::time::Duration;

fn network(c: &mut Criterion) {
    let device = Device::flex();
    let net = Network::new(&NetworkConfig::new(4), &device);
    let mut group = c.benchmark_group("forward");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, batch, frames) in [
        ("one 64-frame example", 1, 64),
        ("10 s clip as 9 windows", 9, 64),
        ("10 s clip whole", 1, 313),
    ] {
        let x = Tensor::<4>::random(
            [batch, 1, 513, frames],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        group.bench_function(name, |b| {
            b.iter(|| net.forward(x.clone(), x.clone()).total.into_data())
        });
    }
    group.finish();
}

fn conv(c: &mut Criterion) {
    let device = Device::flex();
    // The five complex convolutions alone, chained (no BN or PReLU between them: only the
    // shapes matter).
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
    let mut group = c.benchmark_group(format!(
        "conv of 9 windows (inference: {:?})",
        ConvForm::INFERENCE
    ));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for form in [
        ConvForm::FourReal,
        ConvForm::Gauss,
        ConvForm::Stacked,
        ConvForm::GaussTiled,
    ] {
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{form:?}")),
            &form,
            |b, &form| {
                b.iter(|| {
                    let y = layers
                        .iter()
                        .fold(x.clone(), |x, layer| layer.forward_as(x, form));
                    (y.re.into_data(), y.im.into_data())
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, network, conv);
criterion_main!(benches);
