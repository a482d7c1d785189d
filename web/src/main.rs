//! The Mimimi page (Leptos, client-side rendering): pick a machine, give it a clip (upload,
//! microphone or a built-in example), and read the verdict. Everything runs in this page:
//! the audio never leaves the device.
//!
//! Data flow: [`input`] (decode or [`record`]) → [`check`] → [`analyze`](mod@analyze) (STFT,
//! windows, network on the [`engine`]'s device, score, verdict, pictures) → the result view
//! below. Models come from [`catalog`], fetched and cached by [`fetch`]. Field use: [`enroll`]
//! learns a machine the models never heard, [`history`] keeps every check, both in [`store`]
//! (IndexedDB); [`offline`] makes the page work with no network.

mod analyze;
mod backend;
mod bench;
mod catalog;
mod check;
mod engine;
mod enroll;
mod error;
mod fetch;
mod history;
mod input;
mod offline;
mod record;
mod selection;
mod store;
mod view;

use analyze::Analysis;
use backend::{Backend, Choice, Engine};
use catalog::{Entry, Example};
use enroll::TakeInfo;
use error::PageError;
use leptos::prelude::*;
use leptos::task::spawn_local;
use mimimi_dsp::Audio;
use mimimi_model::{ModelFiles, Network, Profile};
use selection::Selection;
use std::cell::RefCell;
use std::collections::HashMap;

/// What is kept between checks and is not shown directly: loaded models, built networks, the
/// engine and a recording in progress.
#[derive(Default)]
struct Runtime {
    models: HashMap<String, ModelFiles>,
    networks: HashMap<(String, Backend), Network>,
    engine: Option<Engine>,
    recorder: Option<input::Recorder>,
    /// The user pressed Stop: `record` ends the recording at its next look.
    stop_requested: bool,
    /// Accepted enrollment takes (their summaries are in [`Ui::takes`]).
    takes: Vec<Audio>,
    /// Checks made since the page loaded (keeps history keys unique).
    checks_made: u32,
}

thread_local! {
    static RUNTIME: RefCell<Runtime> = RefCell::new(Runtime::default());
}

fn runtime<R>(f: impl FnOnce(&mut Runtime) -> R) -> R {
    RUNTIME.with(|r| f(&mut r.borrow_mut()))
}

/// A query parameter of the page's URL.
fn query(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Everything the page shows, as signals.
#[derive(Clone, Copy)]
struct Ui {
    entries: RwSignal<Vec<Entry>>,
    examples: RwSignal<Vec<Example>>,
    machine_type: RwSignal<String>,
    id: RwSignal<String>,
    /// Model download: (loaded, total) bytes while loading.
    download: RwSignal<Option<(u64, Option<u64>)>>,
    /// A line about the model in use (source, size, cache).
    model_line: RwSignal<String>,
    choice: RwSignal<Choice>,
    /// Backend label, detail and technical note.
    backend: RwSignal<Option<(String, String, Option<String>)>>,
    /// What the page is doing now, with progress 0..1.
    busy: RwSignal<Option<(String, f64)>>,
    error: RwSignal<Option<String>>,
    result: RwSignal<Option<Analysis>>,
    /// Recording: elapsed and target seconds, peak level.
    recording: RwSignal<Option<(f64, f64, f32)>>,
    duration: RwSignal<f64>,
    bench: RwSignal<Vec<String>>,
    /// Checks finished (with a result or an error): lets tests and screen readers see that a
    /// new outcome arrived even when it reads like the last one.
    finished: RwSignal<u32>,
    /// Enrolled machines.
    profiles: RwSignal<Vec<Profile>>,
    /// Stored machines this version cannot use (an older format, damaged).
    outdated: RwSignal<Vec<enroll::Outdated>>,
    /// Enrollment: name, model directory of the closest type, accepted takes, keep the takes,
    /// and the last message.
    enroll_name: RwSignal<String>,
    enroll_type: RwSignal<String>,
    takes: RwSignal<Vec<TakeInfo>>,
    enroll_keep: RwSignal<bool>,
    enroll_message: RwSignal<Option<String>>,
    /// Stored checks (key, check), oldest first; the machine whose checks are shown; keep
    /// each check's audio; the last message.
    history: RwSignal<Vec<(String, history::Check)>>,
    history_machine: RwSignal<String>,
    keep_audio: RwSignal<bool>,
    history_message: RwSignal<Option<String>>,
    /// Keys of stored checks that could not be read (offered for deletion).
    history_damaged: RwSignal<Vec<String>>,
    /// A new deployment waits to take over; the service worker is active (works offline).
    update_ready: RwSignal<bool>,
    offline_ready: RwSignal<bool>,
}

impl Ui {
    fn new() -> Self {
        Self {
            entries: RwSignal::new(Vec::new()),
            examples: RwSignal::new(Vec::new()),
            machine_type: RwSignal::new(String::new()),
            id: RwSignal::new(String::new()),
            download: RwSignal::new(None),
            model_line: RwSignal::new(String::new()),
            choice: RwSignal::new(Choice::parse(&query("backend").unwrap_or_default())),
            backend: RwSignal::new(None),
            busy: RwSignal::new(None),
            error: RwSignal::new(None),
            result: RwSignal::new(None),
            recording: RwSignal::new(None),
            duration: RwSignal::new(10.0),
            bench: RwSignal::new(Vec::new()),
            finished: RwSignal::new(0),
            profiles: RwSignal::new(Vec::new()),
            outdated: RwSignal::new(Vec::new()),
            enroll_name: RwSignal::new(String::new()),
            enroll_type: RwSignal::new(String::new()),
            takes: RwSignal::new(Vec::new()),
            enroll_keep: RwSignal::new(true),
            enroll_message: RwSignal::new(None),
            history: RwSignal::new(Vec::new()),
            history_machine: RwSignal::new(String::new()),
            keep_audio: RwSignal::new(false),
            history_message: RwSignal::new(None),
            history_damaged: RwSignal::new(Vec::new()),
            update_ready: RwSignal::new(false),
            offline_ready: RwSignal::new(false),
        }
    }

    /// Shows the outcome of a check (a result or an error) and ends the busy state.
    fn finish(&self, outcome: Result<Analysis, PageError>) {
        self.busy.set(None);
        match outcome {
            Ok(analysis) => {
                self.error.set(None);
                self.result.set(Some(analysis));
            }
            Err(e) => self.error.set(Some(e.to_string())),
        }
        self.finished.update(|n| *n += 1);
    }

    /// The model entry in directory `dir`.
    fn entry_of(&self, dir: &str) -> Option<Entry> {
        self.entries
            .get_untracked()
            .into_iter()
            .find(|e| e.dir == dir)
    }

    /// Selects a machine type and its first ID (or `id` if it has it: one of the model's
    /// classes, or an enrolled machine of the type).
    fn select(&self, dir: &str, id: Option<&str>) {
        self.machine_type.set(dir.to_string());
        let (classes, machine_type) = self
            .entry_of(dir)
            .map(|e| (e.manifest.classes, e.manifest.machine_type))
            .unwrap_or_default();
        let enrolled = |id: &str| match Selection::parse(id) {
            Selection::Enrolled(name) => self
                .profiles
                .get_untracked()
                .iter()
                .any(|p| p.name == name && p.machine_type == machine_type),
            Selection::Id(_) => false,
        };
        let id = id
            .filter(|id| classes.iter().any(|c| c == id) || enrolled(id))
            .map(str::to_string)
            .or_else(|| classes.first().cloned())
            .unwrap_or_default();
        self.id.set(id);
    }
}

/// The page's root component.
#[component]
fn App() -> impl IntoView {
    let ui = Ui::new();
    let selftest = query("selftest").is_some();
    let bench_runs = query("bench").map(|v| v.parse().unwrap_or(5).clamp(1, 100));
    spawn_local(offline::register(ui.update_ready, ui.offline_ready));
    spawn_local(async move {
        enroll::load(ui).await;
        history::load(ui).await;
        match catalog::load_manifests().await {
            Ok((entries, problems)) => {
                if !problems.is_empty() {
                    ui.error.set(Some(problems.join(" ")));
                }
                let first = entries.first().map(|e| e.dir.clone());
                ui.entries.set(entries);
                if let Some(dir) = first {
                    ui.enroll_type.set(dir.clone());
                    ui.select(&dir, None);
                }
            }
            Err(e) => ui
                .error
                .set(Some(format!("The models could not be loaded: {e}"))),
        }
        ui.examples.set(catalog::load_examples().await);
        if let Some(runs) = bench_runs {
            bench::bench(ui, runs).await;
        }
    });
    view! {
        <header>
            <h1>"Mimimi"</h1>
            <p class="tagline">"Does this machine sound wrong? Everything runs on this device: no audio is uploaded."</p>
        </header>
        {offline::update_banner(ui.update_ready)}
        <main data-finished={move || ui.finished.get().to_string()}
            data-offline-ready={move || ui.offline_ready.get().to_string()}>
            {view::machine_picker(ui)}
            {view::input_panel(ui)}
            {view::status(ui)}
            {view::result(ui)}
            {enroll::panel(ui)}
            {history::panel(ui)}
            {view::backend_panel(ui)}
            {move || (!ui.bench.get().is_empty()).then(|| view! {
                <section id="bench" aria-label="Benchmark">
                    <h2>"Benchmark"</h2>
                    <ul>{ui.bench.get().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                </section>
            })}
            {selftest.then(view::selftest_panel)}
        </main>
    }
}

// Static constructors (the `inventory` registrations of burn's GPU compiler) run once, here.
// Without an explicit call, wasm-ld links the page as a "command" and runs every constructor
// again at the start of every call from JavaScript into the module (each event handler, each
// timer, each promise a future waits on): tens of milliseconds per check.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    #[allow(unsafe_code)]
    // SAFETY: the linker's constructor function, called once, first, before any code that
    // reads what the constructors register.
    unsafe {
        __wasm_call_ctors();
    }
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
