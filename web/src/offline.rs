//! Offline and installable: the page registers the service worker that `web/pwa.sh` writes at
//! build time (it precaches the app shell, the wasm and the list of models; a model's files are kept
//! on the device when first used), and offers a reload when
//! a new deployment has been downloaded in the background.

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/src/offline.js")]
extern "C" {
    fn register_worker(on_update: &Closure<dyn Fn()>) -> js_sys::Promise;
    fn apply_update();
    fn offline_ready() -> js_sys::Promise;
}

/// Registers the service worker; `update_ready` turns true when a new version waits.
pub async fn register(update_ready: RwSignal<bool>, ready: RwSignal<bool>) {
    let on_update = Closure::<dyn Fn()>::new(move || update_ready.set(true));
    let outcome = JsFuture::from(register_worker(&on_update)).await;
    // The worker calls back for the page's whole life.
    on_update.forget();
    if outcome.ok().and_then(|v| v.as_string()).as_deref() == Some("ok") {
        ready.set(
            JsFuture::from(offline_ready())
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        );
    }
}

/// A banner when a new version of the page is ready.
pub fn update_banner(update_ready: RwSignal<bool>) -> impl IntoView {
    move || {
        update_ready.get().then(|| {
            view! {
                <p class="card update" id="update-banner" role="status">
                    "A new version of Mimimi has been downloaded. "
                    <button id="update-reload" on:click=move |_| apply_update()>"Reload to use it"</button>
                </p>
            }
        })
    }
}
