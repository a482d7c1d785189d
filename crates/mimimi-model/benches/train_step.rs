//! Training throughput: examples per second of one training step (forward in train mode, the
//! three-head loss, backward, Adam update) on 64-frame examples.
//!
//! Run: `cargo bench -p mimimi-model --bench train_step` on the CPU (flex), or
//! `MIMIMI_BENCH_BACKEND=wgpu cargo bench -p mimimi-model --features wgpu --bench train_step`
//! on a GPU. MIMIMI_BENCH_RUNS steps after two warm-ups (default 5); MIMIMI_BENCH_BATCH
//! examples per step (default 8).

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use mimimi_model::score::loss;
use mimimi_model::{Network, NetworkConfig};
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runs = env("MIMIMI_BENCH_RUNS", 5);
    let batch = env("MIMIMI_BENCH_BATCH", 8);
    let backend = std::env::var("MIMIMI_BENCH_BACKEND").unwrap_or_else(|_| "flex".into());
    let device = match backend.as_str() {
        "flex" => Device::flex(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu_options().init().expect("a wgpu adapter"),
        other => panic!("MIMIMI_BENCH_BACKEND={other}: use flex, or wgpu with --features wgpu"),
    }
    .autodiff();
    let mut model = Network::new(&NetworkConfig::new(4), &device);
    let mut optim = AdamConfig::new().init();
    let labels: Vec<usize> = (0..batch).map(|i| i % 4).collect();
    let mut step = |model: Network| {
        let x =
            || Tensor::<4>::random([batch, 1, 513, 64], Distribution::Normal(0.0, 1.0), &device);
        let out = model.forward(x(), x());
        let grads = GradientsParams::from_grads(loss(&out, &labels).backward(), &model);
        optim.step(1e-4, model, grads)
    };
    // Warm-up: the first steps compile (and on a GPU autotune) the kernels.
    model = step(model);
    model = step(model);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        model = step(model);
        // The step is queued on a GPU; reading a parameter back waits for it.
        device.sync().expect("device sync");
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[runs / 2];
    println!("{backend}, batch {batch}, {runs} steps, median:");
    println!(
        "  {:.0} ms per step, {:.1} examples/s",
        median * 1e3,
        batch as f64 / median
    );
}
