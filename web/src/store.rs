//! What the page keeps on the device, in IndexedDB (`store.js`): enrolled machines' profiles,
//! their enrollment clips if the user keeps them, the history of checks and, if the user opts
//! in, the audio of each check. Nothing here ever leaves the device except through a file the
//! user saves.

use crate::fetch::js_error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/src/store.js")]
extern "C" {
    fn idb_put(store: &str, key: &str, value: &JsValue) -> js_sys::Promise;
    fn idb_put_all(store: &str, keys: Vec<String>, values: Vec<JsValue>) -> js_sys::Promise;
    fn idb_get(store: &str, key: &str) -> js_sys::Promise;
    fn idb_delete(store: &str, key: &str) -> js_sys::Promise;
    fn idb_clear(store: &str) -> js_sys::Promise;
    fn idb_keys(store: &str) -> js_sys::Promise;
    fn idb_values(store: &str) -> js_sys::Promise;
    fn persist() -> js_sys::Promise;
    fn save_file(name: &str, mime: &str, bytes: &[u8]);
}

/// Profiles of enrolled machines (JSON), keyed by machine name.
pub const PROFILES: &str = "profiles";
/// Enrollment takes: waiting for their profile (`pending/<time>`: label, NUL, WAV) and kept
/// for rebuilding a profile (`<name>/NN`: WAV).
pub const CLIPS: &str = "clips";
/// Checks (JSON), keyed by time.
pub const HISTORY: &str = "history";
/// Audio of checks the user chose to keep (WAV bytes), keyed like the history.
pub const AUDIO: &str = "audio";
/// Every store.
pub const ALL: [&str; 4] = [PROFILES, CLIPS, HISTORY, AUDIO];

/// Why the data on the device could not be read or written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// IndexedDB failed (storage full, private mode, blocked by the browser).
    #[error("the data on this device could not be read or written: {0}")]
    Storage(String),
    /// A record could not be written as JSON.
    #[error("a record could not be written: {0}")]
    Encode(String),
}

async fn wait(promise: js_sys::Promise) -> Result<JsValue, StoreError> {
    JsFuture::from(promise)
        .await
        .map_err(|e| StoreError::Storage(js_error(e)))
}

/// Stores `value` as JSON under `key`.
pub async fn put_json<T: Serialize>(store: &str, key: &str, value: &T) -> Result<(), StoreError> {
    let json = serde_json::to_string(value).map_err(|e| StoreError::Encode(e.to_string()))?;
    wait(idb_put(store, key, &JsValue::from_str(&json)))
        .await
        .map(|_| ())
}

/// Stores each value as JSON under its key in one transaction: all of them or none.
pub async fn put_all_json<T: Serialize>(
    store: &str,
    entries: &[(String, &T)],
) -> Result<(), StoreError> {
    let mut values = Vec::with_capacity(entries.len());
    for (_, value) in entries {
        let json = serde_json::to_string(value).map_err(|e| StoreError::Encode(e.to_string()))?;
        values.push(JsValue::from_str(&json));
    }
    let keys = entries.iter().map(|(k, _)| k.clone()).collect();
    wait(idb_put_all(store, keys, values)).await.map(|_| ())
}

/// Stores bytes under `key`.
pub async fn put_bytes(store: &str, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let array = js_sys::Uint8Array::from(bytes);
    wait(idb_put(store, key, &array.into())).await.map(|_| ())
}

/// The bytes under `key`, if any.
pub async fn get_bytes(store: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let value = wait(idb_get(store, key)).await?;
    Ok((!value.is_undefined()).then(|| js_sys::Uint8Array::new(&value).to_vec()))
}

/// Every (key, value) of a JSON store, in key order; records that no longer parse are
/// skipped and reported as the second list, so one damaged record loses nothing else.
pub async fn all_json<T: DeserializeOwned>(
    store: &str,
) -> Result<(Vec<(String, T)>, Vec<String>), StoreError> {
    let keys = js_sys::Array::from(&wait(idb_keys(store)).await?);
    let values = js_sys::Array::from(&wait(idb_values(store)).await?);
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for (key, value) in keys.iter().zip(values.iter()) {
        let key = key.as_string().unwrap_or_default();
        match value.as_string().map(|s| serde_json::from_str::<T>(&s)) {
            Some(Ok(v)) => good.push((key, v)),
            _ => bad.push(key),
        }
    }
    Ok((good, bad))
}

/// The keys of a store, in order.
pub async fn keys(store: &str) -> Result<Vec<String>, StoreError> {
    let keys = js_sys::Array::from(&wait(idb_keys(store)).await?);
    Ok(keys.iter().filter_map(|k| k.as_string()).collect())
}

/// Deletes one record.
pub async fn delete(store: &str, key: &str) -> Result<(), StoreError> {
    wait(idb_delete(store, key)).await.map(|_| ())
}

/// Deletes every record of a store.
pub async fn clear(store: &str) -> Result<(), StoreError> {
    wait(idb_clear(store)).await.map(|_| ())
}

thread_local! {
    /// Whether this page has asked for persistent storage yet.
    static ASKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Asks the browser, once per page load, not to evict this page's data (Safari evicts
/// unpersisted storage after seven days of use). Called when a record is first stored; says
/// so when the browser refuses.
pub async fn ask_persistence() -> Option<String> {
    if ASKED.with(|a| a.replace(true)) {
        return None;
    }
    let granted = JsFuture::from(persist())
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    (!granted).then(|| {
        "This browser did not promise to keep the page's data: it may delete enrolled machines \
         and the history when storage runs low or after a week unused (Safari). Save the \
         machines to a file, or install the page (Add to Home Screen)."
            .to_string()
    })
}

/// Offers `bytes` as a file download named `name`.
pub fn download(name: &str, mime: &str, bytes: &[u8]) {
    save_file(name, mime, bytes);
}
