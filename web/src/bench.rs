//! `?bench[=N]`: the page's own timing of the first example on each backend.

use crate::analyze::{Clip, Compute, analyze};
use crate::backend::{self, Backend, Choice};
use crate::catalog::EXAMPLES_DIR;
use crate::engine::{ensure_model, network_for};
use crate::error::PageError;
use crate::{Ui, fetch};
use leptos::prelude::*;
use mimimi_model::Target;

/// `?bench[=N]`: scores the first example N times (default 5) on each backend and reports
/// median STFT and inference times.
pub(crate) async fn bench(ui: Ui, runs: usize) {
    let Some(example) = ui.examples.get_untracked().into_iter().next() else {
        ui.bench.set(vec!["bench: no example clip to score".into()]);
        return;
    };
    ui.select(&example.machine_type, Some(&example.id));
    let lines = async {
        let (entry, files) = ensure_model(ui, &example.machine_type).await?;
        let url = format!("{EXAMPLES_DIR}/{}", example.file);
        let audio = mimimi_dsp::decode_wav(&fetch::fetch_bytes(&url, &|_, _| {}).await?)
            .map_err(|e| e.to_string())?;
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
            let engine = backend::choose(choice, &files).await;
            if choice == Choice::WebGpu && engine.backend != Backend::WebGpu {
                lines.push(format!("WebGPU: unavailable ({})", engine.detail));
                continue;
            }
            let network = network_for(&entry.dir, &files, &engine)?;
            let target = Target::Id(ui.id.get_untracked());
            let (mut stft, mut infer) = (Vec::new(), Vec::new());
            for run in 0..=runs {
                ui.busy.set(Some((
                    format!("bench {} run {run}/{runs}", engine.backend.label()),
                    run as f64 / runs as f64,
                )));
                let compute = Compute {
                    network: &network,
                    device: &engine.device,
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
    ui.bench
        .set(lines.unwrap_or_else(|e| vec![format!("bench failed: {e}")]));
}
