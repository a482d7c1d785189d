//! One check, from a file, an example or a recording to the verdict on the page and in the
//! history.

use crate::analyze::{Clip, analyze};
use crate::catalog::{self, Example};
use crate::engine::{open_entry, with_compute};
use crate::error::PageError;
use crate::fetch::now_ms;
use crate::history::History;
use crate::selection::Selection;
use crate::{Ui, backend, history, input, record};
use leptos::prelude::*;
use mimimi_model::Target;

/// What the selected machine ID means: a model class or an enrolled machine.
pub(crate) fn target(ui: Ui) -> Result<Target, PageError> {
    match ui.id.get_untracked() {
        Selection::Id(id) => Ok(Target::Id(id)),
        Selection::Enrolled(name) => ui
            .profiles
            .get_untracked()
            .into_iter()
            .find(|p| p.name == name)
            .map(|p| Target::Enrolled(Box::new(p)))
            .ok_or(PageError::MachineGone(name)),
    }
}

/// Runs one check of `clip` against the selected machine, shows the result or the error, and
/// keeps it in the history.
pub(crate) async fn check(ui: Ui, history: History, clip: Clip) {
    ui.error.set(None);
    let outcome = async {
        let target = target(ui)?;
        let dir = ui.machine_type.get_untracked();
        let entry = open_entry(ui, &dir).await?;
        let needs = target.needs(&entry.manifest);
        with_compute(ui, &dir, &needs, async |compute| {
            ui.busy.set(Some((
                format!(
                    "Checking on {}…",
                    backend::ran_on(compute.map(|c| c.backend))
                ),
                0.0,
            )));
            let progress = move |done: usize, total: usize| {
                let label = format!("Scoring window {done} of {total}…");
                ui.busy
                    .set(Some((label, done as f64 / total.max(1) as f64)));
            };
            analyze(&clip, &entry.manifest, compute, &target, &progress).await
        })
        .await
    }
    .await;
    if let Ok(analysis) = &outcome {
        history::record(history, analysis, &clip.source, &clip.audio).await;
    }
    ui.finish(outcome);
}

/// Reads an uploaded file and checks it.
pub(crate) async fn check_file(ui: Ui, history: History, file: web_sys::File) {
    let name = file.name();
    ui.error.set(None);
    ui.busy.set(Some((format!("Reading {name}…"), 0.0)));
    let start = now_ms();
    match input::read_file(&file).await {
        Ok((audio, channels)) => {
            // The decoder keeps the first channel; the clip says how many the file had.
            let mut clip = Clip::new(audio, name, now_ms() - start);
            clip.channels = channels;
            check(ui, history, clip).await;
        }
        Err(e) => ui.finish(Err(e.into())),
    }
}

/// Fetches a built-in example, selects its machine and checks it.
pub(crate) async fn check_example(ui: Ui, history: History, example: Example) {
    ui.select(
        &example.machine_type,
        Some(Selection::Id(example.id.clone())),
    );
    ui.busy
        .set(Some((format!("Loading {}…", example.label), 0.0)));
    let start = now_ms();
    match catalog::load_example(&example).await {
        Ok(audio) => {
            let clip = Clip::new(audio, example.label, now_ms() - start);
            check(ui, history, clip).await;
        }
        Err(e) => ui.finish(Err(e)),
    }
}

/// Records from the microphone and checks the recording.
pub(crate) async fn check_recording(ui: Ui, history: History) {
    if let Some(audio) = record::record(ui).await {
        check(ui, history, Clip::new(audio, "The recording", 0.0)).await;
    }
}
