//! Forward-pass timing on the CPU backend (flex): one 64-frame example, a 10 s clip as its 9
//! windows (the default scoring), and a 10 s clip in one whole-clip pass.
//!
//! Run: `cargo bench -p mimimi-model --bench forward` (prints the median of N runs after one
//! warm-up; set MIMIMI_BENCH_RUNS to change N).

use burn::tensor::{Device, Distribution, Tensor};
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
}
