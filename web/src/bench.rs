//! `?bench[=N]`: the page's own timing of the first example on each backend: the check as the
//! model's rule runs it, then the network alone over the clip's windows in the engine workers
//! (`?workers=N` sets how many share the CPU's), and the workers' memory.

use crate::Ui;
use crate::analyze::{Clip, analyze};
use crate::backend::{self, Backend, Choice};
use crate::catalog;
use crate::engine::ensure_model;
use crate::error::PageError;
use crate::fetch::now_ms;
use crate::selection::Selection;
use crate::worker::{self, Compute};
use leptos::prelude::*;
use mimimi_model::{Needs, ScoreHeads, Target};

/// The median of `v`.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `?bench[=N]`: scores the first example N times (default 5) on each backend and reports
/// median STFT and inference times; then times the network's cross-entropy over the clip's
/// windows N times on each backend, and reports each engine worker's memory.
pub(crate) async fn bench(ui: Ui, shown: RwSignal<Vec<String>>, runs: usize) {
    let Some(example) = ui.examples.get_untracked().into_iter().next() else {
        shown.set(vec!["bench: no example clip to score".into()]);
        return;
    };
    ui.select(
        &example.machine_type,
        Some(Selection::Id(example.id.clone())),
    );
    let lines = async {
        let (entry, files) = ensure_model(ui, &example.machine_type).await?;
        let audio = catalog::load_example(&example).await?;
        let clip = Clip::new(audio, example.label.clone(), 0.0);
        let mut lines = vec![format!(
            "bench: {} ×{runs}, {}",
            example.label, entry.manifest.machine_type
        )];
        let mut devices = Vec::new();
        for choice in [Choice::Cpu, Choice::WebGpu] {
            let engine = backend::choose(choice, &entry.dir, &files).await;
            if choice == Choice::WebGpu && engine.backend != Backend::WebGpu {
                lines.push(format!("WebGPU: unavailable ({})", engine.detail));
                continue;
            }
            devices.push(engine.backend);
            let target = Target::Id(example.id.clone());
            let (mut stft, mut infer) = (Vec::new(), Vec::new());
            for run in 0..=runs {
                ui.busy.set(Some((
                    format!("bench {} run {run}/{runs}", engine.backend.label()),
                    run as f64 / runs as f64,
                )));
                let compute = Compute {
                    key: &entry.dir,
                    files: &files,
                    backend: engine.backend,
                };
                let a = analyze(&clip, &files.manifest, Some(compute), &target, &|_, _| {}).await?;
                if run > 0 {
                    // Run 0 warms up (shader compilation on a GPU).
                    stft.push(a.timings.stft_ms);
                    infer.push(a.timings.inference_ms);
                }
            }
            lines.push(format!(
                "{}: STFT {:.1} ms, inference {:.1} ms (median of {runs})",
                engine.backend.label(),
                median(stft),
                median(infer)
            ));
        }
        // The network alone: every window's cross-entropy (total head) against the example's ID.
        let needs = Needs {
            cross_entropy: Some(ScoreHeads::Total),
            ..Needs::default()
        };
        let class = entry.manifest.class_of(&example.id).ok();
        let frontend = entry.manifest.frontend;
        for device in devices {
            let compute = Compute {
                key: &entry.dir,
                files: &files,
                backend: device,
            };
            let (mut times, mut scores) = (Vec::new(), Vec::new());
            for run in 0..=runs {
                ui.busy.set(Some((
                    format!("bench: the network on {} run {run}/{runs}", device.label()),
                    run as f64 / runs as f64,
                )));
                let start = now_ms();
                let batches =
                    worker::evidence(compute, &needs, class, frontend, &clip.audio, &|_, _| {})
                        .await?;
                if run > 0 {
                    times.push(now_ms() - start);
                }
                scores = batches.into_iter().flat_map(|b| b.cross_entropy).collect();
            }
            let workers = worker::workers(device, &frontend, &clip.audio);
            let (clip_ms, windows) = (median(times), scores.len());
            // What was computed, to compare runs with different workers.
            let mean = scores.iter().sum::<f64>() / windows.max(1) as f64;
            lines.push(format!(
                "network on {}, {workers} worker(s): {clip_ms:.1} ms per clip of {windows} windows, {:.1} ms per window (median of {runs}); mean cross-entropy {mean:.9}",
                device.label(),
                clip_ms / windows.max(1) as f64,
            ));
        }
        let memory = worker::memory().await?;
        lines.push(format!(
            "engine workers' memory: {} MB",
            memory
                .iter()
                .map(|b| format!("{:.1}", *b as f64 / 1e6))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok::<_, PageError>(lines)
    }
    .await;
    ui.busy.set(None);
    shown.set(lines.unwrap_or_else(|e| vec![format!("bench failed: {e}")]));
}

/// The benchmark's lines, once it has run.
pub(crate) fn panel(lines: RwSignal<Vec<String>>) -> impl IntoView {
    move || {
        (!lines.get().is_empty()).then(|| {
            view! {
                <section id="bench" aria-label="Benchmark">
                    <h2>"Benchmark"</h2>
                    <ul>{lines.get().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                </section>
            }
        })
    }
}
