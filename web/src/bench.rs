//! `?bench[=N]`: the page's own timing of the first example on each backend.

use crate::Ui;
use crate::analyze::{Clip, analyze};
use crate::backend::{self, Backend, Choice};
use crate::catalog;
use crate::engine::ensure_model;
use crate::error::PageError;
use crate::selection::Selection;
use crate::worker::Compute;
use leptos::prelude::*;
use mimimi_model::Target;

/// `?bench[=N]`: scores the first example N times (default 5) on each backend and reports
/// median STFT and inference times.
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
        let clip = Clip {
            channels: audio.channels.len(),
            audio,
            source: example.label.clone(),
            decode_ms: 0.0,
        };
        let mut lines = vec![format!(
            "bench: {} ×{runs}, {}",
            example.label, entry.manifest.machine_type
        )];
        for choice in [Choice::Cpu, Choice::WebGpu] {
            let engine = backend::choose(choice, &entry.dir, &files).await;
            if choice == Choice::WebGpu && engine.backend != Backend::WebGpu {
                lines.push(format!("WebGPU: unavailable ({})", engine.detail));
                continue;
            }
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
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            lines.push(format!(
                "{}: STFT {:.1} ms, inference {:.1} ms (median of {runs})",
                engine.backend.label(),
                median(&mut stft),
                median(&mut infer)
            ));
        }
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
