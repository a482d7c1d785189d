//! The Mimimi page (Leptos, client-side rendering): pick a machine, give it a clip (upload,
//! microphone or a built-in example), and read the verdict. Everything runs in this page:
//! the audio never leaves the device.
//!
//! Data flow: [`input`] (decode or [`record`]) → [`check`] → [`analyze`](mod@analyze) (STFT,
//! windows, network on the [`engine`]'s device, score, verdict, pictures) → the result view
//! ([`view`](mod@view)). Models come from [`catalog`], fetched and cached by [`fetch`]. Field use:
//! [`enroll`] learns a machine the models never heard, [`history`] keeps every check, both in
//! [`store`] (IndexedDB); [`offline`] makes the page work with no network.
//!
//! State: what every section reads is one [`state::Ui`] of signals, passed to each section;
//! a feature's own state lives with it and is shared through context ([`enroll::Enroll`],
//! [`history::History`], and the actions of each: [`check::Checks`], [`enroll::Steps`],
//! [`history::Chores`]); what is not shown (models, networks, the recording) stays in the
//! module that owns it. Failures are one type, [`error::PageError`].

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
mod params;
mod record;
mod selection;
mod state;
mod store;
mod view;
mod widgets;
mod worker;

use enroll::Enroll;
use history::History;
use leptos::prelude::*;
use leptos::task::spawn_local;
use params::query;
use state::Ui;

/// The page's root component: creates the shared state and each feature's, loads what is
/// stored and the catalog, and lays out the sections.
#[component]
fn App() -> impl IntoView {
    let ui = Ui::new();
    let enroll = Enroll::new();
    let history = History::new();
    let checks = check::checks(ui, history);
    let steps = enroll::steps(ui, enroll);
    let chores = history::chores(ui, history, enroll);
    provide_context(enroll);
    provide_context(history);
    provide_context(checks);
    provide_context(steps);
    provide_context(chores);
    let (update_ready, offline_ready) = (RwSignal::new(false), RwSignal::new(false));
    let bench_lines = RwSignal::new(Vec::new());
    let selftest = query("selftest").is_some();
    let bench_runs = query("bench").map(|v| v.parse().unwrap_or(5).clamp(1, 100));
    spawn_local(offline::register(update_ready, offline_ready));
    spawn_local(async move {
        enroll::load(ui, enroll).await;
        history::load(history).await;
        match catalog::load_index().await {
            Ok(entries) => {
                let first = entries.first().map(|e| e.dir.clone());
                ui.entries.set(entries);
                if let Some(dir) = first {
                    enroll.machine_type.set(dir.clone());
                    ui.select(&dir, None);
                }
            }
            Err(e) => ui
                .error
                .set(Some(format!("The models could not be loaded: {e}"))),
        }
        ui.examples.set(catalog::load_examples().await);
        if let Some(runs) = bench_runs {
            bench::bench(ui, bench_lines, runs).await;
        }
    });
    view! {
        <header>
            <h1>"Mimimi"</h1>
            <p class="tagline">"Does this machine sound wrong? Everything runs on this device: no audio is uploaded."</p>
        </header>
        {offline::update_banner(update_ready)}
        // Checks, enrollment steps and history chores done: lets tests see that a new
        // outcome arrived even when it reads like the last one.
        <main data-finished={move || (checks.version().get() + steps.version().get() + chores.version().get()).to_string()}
            data-offline-ready={move || offline_ready.get().to_string()}>
            {view::machine_picker(ui)}
            {view::input_panel(ui)}
            {view::status(ui)}
            {view::result()}
            {enroll::panel(ui)}
            {history::panel()}
            {view::backend_panel(ui)}
            {bench::panel(bench_lines)}
            {selftest.then(view::selftest_panel)}
        </main>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
