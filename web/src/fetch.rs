//! Fetching the page's own static files: with a progress callback, and through the Cache API
//! for model files (weights, under their checksum; the manifests last read), so that a second
//! visit, or one offline, loads them from the device.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

/// Name of the cache that holds verified model weights and the manifests last read (its
/// name predates the manifests: renaming it would orphan what phones keep).
const CACHE_NAME: &str = "mimimi-weights-v1";

/// A JS error as text.
pub fn js_error(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

/// Why one of the page's own files could not be fetched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// No response (offline, blocked).
    #[error("{url}: {reason} (is the network down?)")]
    Network {
        /// The file.
        url: String,
        /// The browser's reason.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The file.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body stopped arriving.
    #[error("{url}: download interrupted ({reason})")]
    Interrupted {
        /// The file.
        url: String,
        /// The browser's reason.
        reason: String,
    },
}

/// GET `url` (relative to the page); the body as bytes. `progress(loaded, total)` is called
/// as chunks arrive (`total` from Content-Length when the server sends it).
pub async fn fetch_bytes(
    url: &str,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<Vec<u8>, FetchError> {
    let response: Response = JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|e| FetchError::Network {
            url: url.into(),
            reason: js_error(e),
        })?
        .unchecked_into();
    if !response.ok() {
        return Err(FetchError::Status {
            url: url.into(),
            status: response.status(),
        });
    }
    read_body(&response, url, progress).await
}

/// Bytes from which a chunk of a body is copied in a task of its own ([`read_body`]).
const BIG_CHUNK: u32 = 256 * 1024;

async fn read_body(
    response: &Response,
    url: &str,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<Vec<u8>, FetchError> {
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    let Some(body) = response.body() else {
        return Ok(Vec::new());
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| FetchError::Interrupted {
                url: url.into(),
                reason: js_error(e),
            })?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        if let Ok(value) = Reflect::get(&chunk, &"value".into()) {
            let value: Uint8Array = value.unchecked_into();
            // A big chunk is data the browser buffered at once (a fast network, a cache), in a
            // task already busy receiving it: copying it there made tasks of over 50 ms.
            if value.length() >= BIG_CHUNK {
                yield_now().await;
            }
            // Straight into the body's buffer: one copy, not a Vec of its own and a second.
            let start = bytes.len();
            bytes.resize(start + value.length() as usize, 0);
            value.copy_to(&mut bytes[start..]);
        }
        progress(bytes.len() as u64, total);
    }
    // What the caller does with the whole body (parse, hash) starts in a task of its own.
    yield_now().await;
    Ok(bytes)
}

async fn open_cache() -> Option<Cache> {
    let caches = window().caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME))
        .await
        .ok()
        .map(|c| c.unchecked_into())
}

/// The bytes of `url` from the weights cache, if there. The caller checks them against the
/// manifest's checksum (and re-downloads on a mismatch).
pub async fn cached(url: &str) -> Option<Vec<u8>> {
    let cache = open_cache().await?;
    let hit = JsFuture::from(cache.match_with_str(url)).await.ok()?;
    let response: Response = hit.dyn_into().ok()?;
    read_body(&response, url, &|_, _| {}).await.ok()
}

/// Stores verified bytes under `url` in the weights cache (silently skipped where the browser
/// offers no Cache API, e.g. a page opened from a file or in private mode). `bytes` is `mut`
/// only because web-sys's `Response` constructor asks for it: the browser copies the bytes
/// and leaves them as they were, and no copy of our own is made first.
pub async fn store(url: &str, bytes: &mut [u8]) {
    let Some(cache) = open_cache().await else {
        return;
    };
    if let Ok(response) = Response::new_with_opt_u8_array(Some(bytes)) {
        let _ = JsFuture::from(cache.put_with_str(url, &response)).await;
    }
}

/// Removes `url` from the weights cache (a damaged entry).
pub async fn evict(url: &str) {
    if let Some(cache) = open_cache().await {
        let _ = JsFuture::from(cache.delete_with_str(url)).await;
    }
}

/// Hands control back to the browser for one turn of its event loop, so that it can paint
/// and handle input between two pieces of long work.
pub async fn yield_now() {
    gloo_timers::future::TimeoutFuture::new(0).await;
}

/// Milliseconds since the page started (high resolution).
pub fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

/// Marks a moment in the browser's performance timeline (User Timing), where the developer
/// tools and the browser tests see it: `performance.getEntriesByName(name)`.
pub fn mark(name: &str) {
    if let Some(performance) = window().performance() {
        let _ = performance.mark(name);
    }
}

/// The SHA-256 of `bytes` in hex: by the browser's WebCrypto, which hashes off the page's
/// thread (3.4 MB took 0.2 s here in wasm, a frozen page), or here where the browser offers
/// none (a page not served over https or from localhost).
pub async fn sha256_hex(bytes: &[u8]) -> String {
    let digest = async {
        let subtle = window().crypto().ok()?.subtle();
        // A view of the module's memory, not a copy: digest() copies what it hashes before
        // it returns.
        let promise = subtle.digest_with_str_and_u8_array("SHA-256", bytes).ok()?;
        let buffer = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
        Some(js_sys::Uint8Array::new(&buffer).to_vec())
    };
    match digest.await {
        Some(hash) => hash.iter().map(|b| format!("{b:02x}")).collect(),
        None => mimimi_model::file::sha256_hex(bytes),
    }
}
