//! The Mimimi page (Leptos, client-side rendering): pick a machine, give it a clip (upload,
//! microphone or a built-in example), and read the verdict. Everything runs in this page:
//! the audio never leaves the device.
//!
//! Data flow: [`input`] (decode or record) → [`analyze`](mod@analyze) (STFT, windows, network on the
//! [`backend`]'s device, score, verdict, pictures) → the result view below. Models come from
//! [`catalog`], fetched and cached by [`fetch`]. Field use: [`enroll`] learns a machine the
//! models never heard, [`history`] keeps every check, both in [`store`] (IndexedDB);
//! [`offline`] makes the page work with no network.

mod analyze;
mod backend;
mod catalog;
mod enroll;
mod error;
mod fetch;
mod history;
mod input;
mod offline;
mod selection;
mod store;
mod view;

use analyze::{Analysis, Clip, Compute, analyze};
use backend::{Backend, Choice, Engine};
use catalog::{EXAMPLES_DIR, Entry, Example};
use enroll::TakeInfo;
use error::PageError;
use fetch::{js_error, now_ms};
use leptos::prelude::*;
use leptos::task::spawn_local;
use mimimi_dsp::Audio;
use mimimi_model::{ModelFiles, Needs, Network, Profile, Target};
use selection::Selection;
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen_futures::JsFuture;

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

/// The files of the model in `dir`, downloading (with progress) and verifying them if needed.
async fn ensure_model(ui: Ui, dir: &str) -> Result<(Entry, ModelFiles), String> {
    let entry = ui
        .entry_of(dir)
        .ok_or("No model is loaded: the page's model files are missing.")?;
    if let Some(files) = runtime(|r| r.models.get(&entry.dir).cloned()) {
        return Ok((entry, files));
    }
    ui.download
        .set(Some((0, Some(entry.manifest.weights.bytes))));
    let progress = move |loaded: u64, total: Option<u64>| ui.download.set(Some((loaded, total)));
    let loaded = catalog::load_model(&entry, &progress).await;
    ui.download.set(None);
    let (files, from_cache) = loaded.map_err(|e| {
        format!(
            "The {} model could not be loaded: {e}",
            entry.manifest.machine_type
        )
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
    runtime(|r| r.models.insert(entry.dir.clone(), files.clone()));
    Ok((entry, files))
}

/// The engine, chosen on first use with the given model.
async fn ensure_engine(ui: Ui, files: &ModelFiles) -> Engine {
    if let Some(engine) = runtime(|r| r.engine.clone()) {
        return engine;
    }
    ui.busy
        .set(Some(("Checking the compute backend…".into(), 0.0)));
    let engine = backend::choose(ui.choice.get_untracked(), files).await;
    set_engine(ui, engine.clone());
    engine
}

fn set_engine(ui: Ui, engine: Engine) {
    ui.backend.set(Some((
        engine.backend.label().to_string(),
        engine.detail.clone(),
        engine.technical.clone(),
    )));
    runtime(|r| r.engine = Some(engine));
}

fn network_for(dir: &str, files: &ModelFiles, engine: &Engine) -> Result<Network, String> {
    let key = (dir.to_string(), engine.backend);
    if let Some(n) = runtime(|r| r.networks.get(&key).cloned()) {
        return Ok(n);
    }
    let network = files.network(&engine.device).map_err(|e| e.to_string())?;
    runtime(|r| r.networks.insert(key, network.clone()));
    Ok(network)
}

/// Runs `f` with the model's network on the current engine; a GPU that fails while reading
/// results back (driver reset, tab in the background on a phone) hands the work, and later
/// work, to the CPU.
async fn on_engine<T>(
    ui: Ui,
    dir: &str,
    files: &ModelFiles,
    f: impl AsyncFn(&Network, &Engine) -> Result<T, PageError>,
) -> Result<T, PageError> {
    let mut engine = ensure_engine(ui, files).await;
    loop {
        let network = network_for(dir, files, &engine)?;
        match f(&network, &engine).await {
            Err(PageError::ReadBack(e)) if engine.backend == Backend::WebGpu => {
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
async fn with_compute<T>(
    ui: Ui,
    dir: &str,
    needs: &Needs,
    f: impl AsyncFn(Option<Compute<'_>>) -> Result<T, PageError>,
) -> Result<T, PageError> {
    if !needs.network() {
        if let Some(entry) = ui.entry_of(dir)
            && runtime(|r| !r.models.contains_key(&entry.dir))
        {
            ui.model_line.set(format!(
                "{} model: its score reads the spectrogram alone; the network's weights are not needed.",
                entry.manifest.machine_type
            ));
        }
        return f(None).await;
    }
    let (entry, files) = ensure_model(ui, dir).await?;
    on_engine(ui, &entry.dir, &files, async |network, engine| {
        f(Some(Compute {
            network,
            device: &engine.device,
            backend: engine.backend,
        }))
        .await
    })
    .await
}

/// What the selected machine ID means: a model class or an enrolled machine.
fn target(ui: Ui) -> Result<Target, String> {
    match Selection::parse(&ui.id.get_untracked()) {
        Selection::Id(id) => Ok(Target::Id(id)),
        Selection::Enrolled(name) => ui
            .profiles
            .get_untracked()
            .into_iter()
            .find(|p| p.name == name)
            .map(|p| Target::Enrolled(Box::new(p)))
            .ok_or_else(|| format!("The enrolled machine \"{name}\" is gone.")),
    }
}

/// Runs one check of `clip` against the selected machine, shows the result or the error, and
/// keeps it in the history.
async fn check(ui: Ui, clip: Clip) {
    ui.error.set(None);
    let outcome = async {
        let target = target(ui).map_err(PageError::from)?;
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
async fn read_bytes(file: &web_sys::File, max_bytes: u64) -> Result<Vec<u8>, String> {
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
async fn read_file(file: &web_sys::File) -> Result<(Audio, usize), String> {
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
async fn check_file(ui: Ui, file: web_sys::File) {
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
async fn check_example(ui: Ui, example: Example) {
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

/// Waits `ms` milliseconds without blocking the page.
async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// What a recording is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Check it against the selected machine.
    Check,
    /// Add it to the enrollment takes.
    Enroll,
}

/// Records from the microphone for the chosen duration (or until stopped), then checks it or
/// adds it to the enrollment.
async fn record(ui: Ui, purpose: Purpose) {
    ui.error.set(None);
    let recorder = match input::Recorder::start().await {
        Ok(r) => r,
        Err(e) => {
            ui.finish(Err(e.into()));
            return;
        }
    };
    let target = ui.duration.get_untracked();
    runtime(|r| {
        r.recorder = Some(recorder);
        r.stop_requested = false;
    });
    let start = now_ms();
    loop {
        let state = runtime(|r| {
            let rec = r.recorder.as_ref()?;
            Some((rec.seconds(), rec.level(), r.stop_requested))
        });
        let Some((seconds, level, stop)) = state else {
            break;
        };
        ui.recording.set(Some((seconds, target, level)));
        if stop || seconds >= target || (now_ms() - start) / 1000.0 > target + 5.0 {
            break;
        }
        sleep_ms(100).await;
    }
    ui.recording.set(None);
    let Some(recorder) = runtime(|r| r.recorder.take()) else {
        return;
    };
    let audio = recorder.stop();
    match purpose {
        Purpose::Check => {
            let source = "The recording".into();
            check(
                ui,
                Clip {
                    channels: audio.channels.len(),
                    audio,
                    source,
                    decode_ms: 0.0,
                },
            )
            .await
        }
        Purpose::Enroll => {
            let n = ui.takes.get_untracked().len() + 1;
            enroll::add_take(ui, audio, format!("Recorded take {n}")).await;
        }
    }
}

/// `?bench[=N]`: scores the first example N times (default 5) on each backend and reports
/// median STFT and inference times.
async fn bench(ui: Ui, runs: usize) {
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
                let a = analyze(&clip, &files.manifest, Some(compute), &target, &|_, _| {})
                    .await
                    .map_err(|e| e.to_string())?;
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
        Ok::<_, String>(lines)
    }
    .await;
    ui.busy.set(None);
    ui.bench
        .set(lines.unwrap_or_else(|e| vec![format!("bench failed: {e}")]));
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
            bench(ui, runs).await;
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
