//! Training throughput with criterion: one training step (forward in train mode, the
//! three-head loss, backward, Adam update) on a batch of 64-frame examples; criterion's
//! throughput line gives examples per second.
//!
//! Run: `cargo bench -p mimimi-model --bench train_step` on the CPU (flex), or
//! `MIMIMI_BENCH_BACKEND=wgpu cargo bench -p mimimi-model --features wgpu --bench train_step`
//! on a GPU. MIMIMI_BENCH_BATCH examples per step (default 8).
#![allow(clippy::unwrap_used)] // a failed unwrap is the benchmark failing
#![allow(missing_docs)] // criterion's macros write undocumented items

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mimimi_model::score::loss;
use mimimi_model::{Network, NetworkConfig};
use std::time::{Duration, Instant};

fn train_step(c: &mut Criterion) {
    let batch: usize = std::env::var("MIMIMI_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let backend = std::env::var("MIMIMI_BENCH_BACKEND").unwrap_or_else(|_| "flex".into());
    let device = match backend.as_str() {
        "flex" => Device::flex(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu_options().init().expect("a wgpu adapter"),
        other => panic!("MIMIMI_BENCH_BACKEND={other}: use flex, or wgpu with --features wgpu"),
    }
    .autodiff();
    let mut model = Some(Network::new(&NetworkConfig::new(4), &device));
    let mut optim = AdamConfig::new().init();
    let labels: Vec<usize> = (0..batch).map(|i| i % 4).collect();
    let mut step = |model: Network| {
        let x =
            || Tensor::<4>::random([batch, 1, 513, 64], Distribution::Normal(0.0, 1.0), &device);
        let out = model.forward(x(), x());
        let grads = GradientsParams::from_grads(loss(&out, &labels).backward(), &model);
        optim.step(1e-4, model, grads)
    };
    let mut group = c.benchmark_group(format!("train step, {backend}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(batch as u64));
    group.bench_function(format!("batch {batch}"), |b| {
        b.iter_custom(|steps| {
            let start = Instant::now();
            for _ in 0..steps {
                model = model.take().map(&mut step);
            }
            // The steps are queued on a GPU: waiting for the device ends them.
            device.sync().expect("device sync");
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
