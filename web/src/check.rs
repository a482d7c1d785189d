//! One check, from a file, an example or a recording to the verdict on the page and in the
//! history: the page's [`Checks`] action.

use crate::analyze::{Analysis, Clip, analyze};
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

/// What a check is of.
#[derive(Clone)]
pub(crate) enum Source {
    /// A file the user chose.
    File(web_sys::File),
    /// A recording from the microphone, of the chosen length (or until Stop).
    Microphone,
    /// A built-in example (its machine is selected first).
    Example(Example),
}

/// The last check's outcome: its analysis, or why there is none.
pub(crate) type Outcome = Result<Analysis, PageError>;

/// The page's checks, one Leptos action (the root provides it as context): the input panel
/// dispatches a [`Source`]; `pending` is true while a check runs (the inputs wait), `value`
/// is the last outcome, which the status and result views show, and `version` counts the
/// checks done. Progress goes to [`Ui::busy`] while it runs.
pub(crate) type Checks = Action<Source, Outcome>;

/// The checks action: each source read, checked against the selected machine, and kept in
/// the history.
pub(crate) fn checks(ui: Ui, history: History) -> Checks {
    Action::new_local(move |source: &Source| {
        let source = source.clone();
        async move {
            ui.error.set(None);
            let outcome = async { check(ui, history, clip_of(ui, source).await?).await }.await;
            ui.busy.set(None);
            outcome
        }
    })
}

/// The clip a source gives: a file read and decoded, an example fetched (its machine
/// selected), or a recording.
async fn clip_of(ui: Ui, source: Source) -> Result<Clip, PageError> {
    let start = now_ms();
    match source {
        Source::File(file) => {
            let name = file.name();
            ui.busy.set(Some((format!("Reading {name}…"), 0.0)));
            let (audio, channels) = input::read_file(&file).await?;
            // The decoder keeps the first channel; the clip says how many the file had.
            let mut clip = Clip::new(audio, name, now_ms() - start);
            clip.channels = channels;
            Ok(clip)
        }
        Source::Example(example) => {
            ui.select(
                &example.machine_type,
                Some(Selection::Id(example.id.clone())),
            );
            ui.busy
                .set(Some((format!("Loading {}…", example.label), 0.0)));
            let audio = catalog::load_example(&example).await?;
            Ok(Clip::new(audio, example.label, now_ms() - start))
        }
        Source::Microphone => Ok(Clip::new(record::record(ui).await?, "The recording", 0.0)),
    }
}

/// Checks `clip` against the selected machine; a result goes into the history.
async fn check(ui: Ui, history: History, clip: Clip) -> Outcome {
    let target = target(ui)?;
    let dir = ui.machine_type.get_untracked();
    let entry = open_entry(ui, &dir).await?;
    let needs = target.needs(&entry.manifest);
    let analysis = with_compute(ui, &dir, &needs, async |compute| {
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
    .await?;
    history::record(history, &analysis, &clip.source, &clip.audio).await;
    Ok(analysis)
}
