//! Training throughput on the CPU backend (flex): examples per second of one training step
//! (forward in train mode, the three-head loss, backward, Adam update) on 64-frame examples.
//!
//! Run: `cargo bench -p mimimi-model --bench train_step` (MIMIMI_BENCH_RUNS steps after one
//! warm-up, default 5; MIMIMI_BENCH_BATCH examples per step, default 8).

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
    let device = Device::flex().autodiff();
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
    model = step(model); // warm-up
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        model = step(model);
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[runs / 2];
    println!("flex (CPU), batch {batch}, {runs} steps, median:");
    println!(
        "  {:.0} ms per step, {:.1} examples/s",
        median * 1e3,
        batch as f64 / median
    );
}
