//! The Mimimi page (Leptos, client-side rendering). For now it finds the compute backend the
//! browser offers and proves, with the reference network's self-test, that the network
//! computes on it what the reference computes; upload, recording and the verdict come with the
//! web app issue.

mod backend;

use backend::{BackendReport, probe};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The page's root component.
#[component]
fn App() -> impl IntoView {
    let (report, set_report) = signal(None::<BackendReport>);
    spawn_local(async move {
        set_report.set(Some(probe().await));
    });
    view! {
        <main>
            <h1>"Mimimi"</h1>
            <p>"Hear that a machine is about to fail. Everything runs on this device."</p>
            <section aria-live="polite" id="backend">
                {move || match report.get() {
                    None => view! { <p>"Looking for a compute backend…"</p> }.into_any(),
                    Some(r) => {
                        let fmt = |s: Option<f64>| s.map_or("—".to_string(), |s| format!("{s:.8}"));
                        view! {
                            <p id="backend-name">"Backend: " <strong>{r.backend.label()}</strong></p>
                            <p id="backend-detail">{r.detail.clone()}</p>
                            {r.technical.clone().map(|t| view! {
                                <details><summary>"Technical details"</summary><p id="backend-technical">{t}</p></details>
                            })}
                            <p>
                                "Self-test (reference network, 10 s clip, class 1): CPU "
                                <output id="selftest-cpu">{fmt(r.cpu_score)}</output>
                                ", WebGPU "
                                <output id="selftest-gpu">{fmt(r.gpu_score)}</output>
                            </p>
                        }.into_any()
                    }
                }}
            </section>
        </main>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
