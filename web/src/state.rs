//! The page's shared state: what every section reads (the models, the selected machine, the
//! enrolled machines, the work in progress), as signals. A check's outcome is the
//! [`crate::check::Checks`] action's value. Each feature's own
//! state lives with the feature ([`crate::enroll::Enroll`], [`crate::history::History`],
//! [`crate::engine`]'s models and networks, [`crate::record`]'s recording).

use crate::backend::Choice;
use crate::catalog::Example;
use crate::params::query;
use crate::selection::Selection;
use leptos::prelude::*;
use mimimi_model::{Listed, Profile};

/// The state every section shares, as signals (provided as context by the root).
#[derive(Clone, Copy)]
pub struct Ui {
    /// The bundled models (one per machine type), as their index lists them.
    pub entries: RwSignal<Vec<Listed>>,
    /// The built-in example clips.
    pub examples: RwSignal<Vec<Example>>,
    /// Model directory of the selected machine type.
    pub machine_type: RwSignal<String>,
    /// The selected machine: a model ID or an enrolled machine ([`Selection`]).
    pub id: RwSignal<Selection>,
    /// Model download: (loaded, total) bytes while loading.
    pub download: RwSignal<Option<(u64, Option<u64>)>>,
    /// A line about the model in use (source, size, cache).
    pub model_line: RwSignal<String>,
    /// The backend the user asked for.
    pub choice: RwSignal<Choice>,
    /// Backend label, detail and technical note.
    pub backend: RwSignal<Option<(String, String, Option<String>)>>,
    /// What the page is doing now, with progress 0..1.
    pub busy: RwSignal<Option<(String, f64)>>,
    /// An error outside a check (the list of models could not be read), as the user reads
    /// it; a check clears it.
    pub error: RwSignal<Option<String>>,
    /// Recording: elapsed and target seconds, peak level.
    pub recording: RwSignal<Option<(f64, f64, f32)>>,
    /// Length of a recording, seconds.
    pub duration: RwSignal<f64>,
    /// Enrolled machines (read by the picker, the checks, the enrollment and the history).
    pub profiles: RwSignal<Vec<Profile>>,
}

impl Ui {
    /// Nothing loaded yet; the backend choice from the URL (`?backend=cpu`).
    pub fn new() -> Self {
        Self {
            entries: RwSignal::new(Vec::new()),
            examples: RwSignal::new(Vec::new()),
            machine_type: RwSignal::new(String::new()),
            id: RwSignal::new(Selection::Id(String::new())),
            download: RwSignal::new(None),
            model_line: RwSignal::new(String::new()),
            choice: RwSignal::new(Choice::parse(&query("backend").unwrap_or_default())),
            backend: RwSignal::new(None),
            busy: RwSignal::new(None),
            error: RwSignal::new(None),
            recording: RwSignal::new(None),
            duration: RwSignal::new(10.0),
            profiles: RwSignal::new(Vec::new()),
        }
    }

    /// The bundled model in directory `dir`.
    pub fn entry_of(&self, dir: &str) -> Option<Listed> {
        self.entries
            .get_untracked()
            .into_iter()
            .find(|e| e.dir == dir)
    }

    /// Selects a machine type and `wanted` if the type has it (one of the model's classes, or
    /// an enrolled machine of the type), else the type's first ID.
    pub fn select(&self, dir: &str, wanted: Option<Selection>) {
        self.machine_type.set(dir.to_string());
        let (classes, machine_type) = self
            .entry_of(dir)
            .map(|e| (e.classes, e.machine_type))
            .unwrap_or_default();
        let known = |s: &Selection| match s {
            Selection::Id(id) => classes.contains(id),
            Selection::Enrolled(name) => self
                .profiles
                .get_untracked()
                .iter()
                .any(|p| &p.name == name && p.machine_type == machine_type),
        };
        let selection = wanted
            .filter(known)
            .or_else(|| classes.first().cloned().map(Selection::Id))
            .unwrap_or(Selection::Id(String::new()));
        self.id.set(selection);
    }
}
