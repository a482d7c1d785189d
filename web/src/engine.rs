//! The engine's one home on the page's side: the model's files (downloaded and verified
//! once), the backend chosen on first use, and the GPU-to-CPU fallback when a GPU is lost.
//! The network itself runs in the engine worker ([`crate::worker`]). Every check, enrollment
//! and benchmark reaches the network through [`with_compute`].

use crate::Ui;
use crate::backend::{self, Backend, Engine};
use crate::catalog::{self, Entry};
use crate::error::PageError;
use crate::worker::Compute;
use leptos::prelude::*;
use mimimi_engine::protocol::EngineError;
use mimimi_model::{ModelFiles, Needs};
use std::cell::RefCell;
use std::collections::HashMap;

/// What the engine keeps between checks: loaded models, the chosen engine.
#[derive(Default)]
struct State {
    models: HashMap<String, ModelFiles>,
    engine: Option<Engine>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// Forgets the chosen engine: the next check chooses again (the user picked a backend).
pub(crate) fn forget_engine() {
    state(|s| s.engine = None);
}

/// The bundled model in `dir`, its manifest read ([`catalog::open`]).
pub(crate) async fn open_entry(ui: Ui, dir: &str) -> Result<Entry, PageError> {
    catalog::open(&ui.entry_of(dir).ok_or(PageError::NoModel)?).await
}

/// The files of the model in `dir`, downloading (with progress) and verifying them if needed.
pub(crate) async fn ensure_model(ui: Ui, dir: &str) -> Result<(Entry, ModelFiles), PageError> {
    let entry = open_entry(ui, dir).await?;
    if let Some(files) = state(|r| r.models.get(&entry.dir).cloned()) {
        return Ok((entry, files));
    }
    ui.download
        .set(Some((0, Some(entry.manifest.weights.bytes))));
    let progress = move |loaded: u64, total: Option<u64>| ui.download.set(Some((loaded, total)));
    let loaded = catalog::load_model(&entry, &progress).await;
    ui.download.set(None);
    let (files, from_cache) = loaded.map_err(|e| PageError::ModelLoad {
        machine_type: entry.manifest.machine_type.clone(),
        source: Box::new(e),
    })?;
    ui.model_line.set(format!(
        "{} model: {:.1} MB of {} weights, {}, sha256 verified.",
        entry.manifest.machine_type,
        files.weights.len() as f64 / 1e6,
        files.manifest.weights.dtype,
        if from_cache {
            "from this device's cache"
        } else {
            "downloaded"
        }
    ));
    state(|r| r.models.insert(entry.dir.clone(), files.clone()));
    Ok((entry, files))
}

/// The engine, chosen on first use with model `key`.
pub(crate) async fn ensure_engine(ui: Ui, key: &str, files: &ModelFiles) -> Engine {
    if let Some(engine) = state(|r| r.engine.clone()) {
        return engine;
    }
    ui.busy
        .set(Some(("Checking the compute backend…".into(), 0.0)));
    let engine = backend::choose(ui.choice.get_untracked(), key, files).await;
    set_engine(ui, engine.clone());
    engine
}

pub(crate) fn set_engine(ui: Ui, engine: Engine) {
    ui.backend.set(Some((
        engine.backend.label().to_string(),
        engine.detail.clone(),
        engine.technical.clone(),
    )));
    state(|r| r.engine = Some(engine));
}

/// Runs `f` with model `key` on the current engine; a GPU that fails while reading results
/// back (driver reset, tab in the background on a phone) hands the work, and later work, to
/// the CPU.
pub(crate) async fn on_engine<T>(
    ui: Ui,
    key: &str,
    files: &ModelFiles,
    f: impl AsyncFn(Compute<'_>) -> Result<T, PageError>,
) -> Result<T, PageError> {
    let mut engine = ensure_engine(ui, key, files).await;
    loop {
        let compute = Compute {
            key,
            files,
            backend: engine.backend,
        };
        match f(compute).await {
            Err(PageError::Engine(EngineError::ReadBack(e)))
                if engine.backend == Backend::WebGpu =>
            {
                let reason = Some(e.to_string());
                engine = Engine::cpu("The GPU device was lost: switched to the CPU.", reason);
                set_engine(ui, engine.clone());
            }
            other => return other,
        }
    }
}

/// Runs `f` with what `needs` reads: nothing more than the spectrogram for the descriptor
/// members of the default score (no weights downloaded, no backend chosen), else the model's
/// network on the engine ([`on_engine`]).
pub(crate) async fn with_compute<T>(
    ui: Ui,
    dir: &str,
    needs: &Needs,
    f: impl AsyncFn(Option<Compute<'_>>) -> Result<T, PageError>,
) -> Result<T, PageError> {
    if !needs.network() {
        if let Some(entry) = ui.entry_of(dir)
            && state(|r| !r.models.contains_key(&entry.dir))
        {
            ui.model_line.set(format!(
                "{} model: its score reads the spectrogram alone; the network's weights are not needed.",
                entry.machine_type
            ));
        }
        return f(None).await;
    }
    let (entry, files) = ensure_model(ui, dir).await?;
    on_engine(ui, &entry.dir, &files, async |compute| {
        f(Some(compute)).await
    })
    .await
}
