//! One check, from a file, an example or a recording to the verdict on the page and in the
//! history.

use crate::analyze::{Clip, analyze};
use crate::catalog::{EXAMPLES_DIR, Example};
use crate::engine::with_compute;
use crate::error::PageError;
use crate::fetch::{self, js_error, now_ms};
use crate::selection::Selection;
use crate::{Ui, backend, history, input};
use leptos::prelude::*;
use mimimi_dsp::Audio;
use mimimi_model::Target;
use wasm_bindgen_futures::JsFuture;

/// What the selected machine ID means: a model class or an enrolled machine.
pub(crate) fn target(ui: Ui) -> Result<Target, PageError> {
    match Selection::parse(&ui.id.get_untracked()) {
        Selection::Id(id) => Ok(Target::Id(id)),
        Selection::Enrolled(name) => ui
            .profiles
            .get_untracked()
            .into_iter()
            .find(|p| p.name == name)
            .map(|p| Target::Enrolled(Box::new(p)))
            .ok_or_else(|| PageError::Message(format!("The enrolled machine \"{name}\" is gone."))),
    }
}

/// Runs one check of `clip` against the selected machine, shows the result or the error, and
/// keeps it in the history.
pub(crate) async fn check(ui: Ui, clip: Clip) {
    ui.error.set(None);
    let outcome = async {
        let target = target(ui)?;
        let dir = ui.machine_type.get_untracked();
        let entry = ui
            .entry_of(&dir)
            .ok_or("No model is loaded: the page's model files are missing.")?;
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
        history::record(ui, analysis, &clip.source, &clip.audio).await;
    }
    ui.finish(outcome);
}

/// The bytes of an uploaded file, refused unread above `max_bytes` (every file the page reads
/// has a cap: a phone's memory is small).
pub(crate) async fn read_bytes(file: &web_sys::File, max_bytes: u64) -> Result<Vec<u8>, String> {
    if file.size() as u64 > max_bytes {
        return Err(format!(
            "{} is {:.0} MB; the page reads such files up to {} MB.",
            file.name(),
            file.size() / 1e6,
            max_bytes / 1_000_000
        ));
    }
    match JsFuture::from(file.array_buffer()).await {
        Ok(buffer) => Ok(js_sys::Uint8Array::new(&buffer).to_vec()),
        Err(e) => Err(format!(
            "{} could not be read: {}",
            file.name(),
            js_error(e)
        )),
    }
}

/// Reads and decodes an uploaded file, refusing files too big to hold: its first channel, and
/// how many channels it has.
pub(crate) async fn read_file(file: &web_sys::File) -> Result<(Audio, usize), String> {
    let too_big = file.size() as u64 > input::MAX_FILE_BYTES;
    let bytes = read_bytes(file, input::MAX_FILE_BYTES)
        .await
        .map_err(|e| match too_big {
            true => format!("{e} Trim the recording to a minute or less."),
            false => e,
        })?;
    input::decode_file(&file.name(), bytes).await
}

/// Reads an uploaded file and checks it.
pub(crate) async fn check_file(ui: Ui, file: web_sys::File) {
    let name = file.name();
    ui.error.set(None);
    ui.busy.set(Some((format!("Reading {name}…"), 0.0)));
    let start = now_ms();
    match read_file(&file).await {
        Ok((audio, channels)) => {
            let decode_ms = now_ms() - start;
            check(
                ui,
                Clip {
                    audio,
                    channels,
                    source: name,
                    decode_ms,
                },
            )
            .await;
        }
        Err(e) => ui.finish(Err(e.into())),
    }
}

/// Fetches a built-in example, selects its machine and checks it.
pub(crate) async fn check_example(ui: Ui, example: Example) {
    ui.select(&example.machine_type, Some(&example.id));
    ui.busy
        .set(Some((format!("Loading {}…", example.label), 0.0)));
    let start = now_ms();
    let url = format!("{EXAMPLES_DIR}/{}", example.file);
    let audio = fetch::fetch_bytes(&url, &|_, _| {})
        .await
        .and_then(|bytes| mimimi_dsp::decode_wav(&bytes).map_err(|e| format!("{url}: {e}")));
    match audio {
        Ok(audio) => {
            let decode_ms = now_ms() - start;
            check(
                ui,
                Clip {
                    channels: audio.channels.len(),
                    audio,
                    source: example.label,
                    decode_ms,
                },
            )
            .await;
        }
        Err(e) => ui.finish(Err(e.into())),
    }
}
