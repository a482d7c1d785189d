//! The bundled models and example clips: `models/index.json` lists the model directories
//! (what the machine picker shows), each `models/<type>/` holds a manifest and weights;
//! `examples/index.json` names the example clips. The index loads at start; a type's manifest
//! only when a check or an enrollment needs it (and is kept on the device for offline use);
//! its weights only when a score reads the network, with progress, checked against the
//! manifest's sha256 and cached on the device.

use crate::error::PageError;
use crate::fetch::{cached, evict, fetch_bytes, sha256_hex, store};
use mimimi_dsp::{Audio, decode_wav};
use mimimi_model::file::MANIFEST_FILE;
use mimimi_model::index::INDEX_FILE;
use mimimi_model::{Listed, Manifest, ModelError, ModelFiles, ModelIndex};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;

/// Where the bundled models are served from, relative to the page.
pub const MODELS_DIR: &str = "models";
/// Where the example clips are served from, relative to the page.
pub const EXAMPLES_DIR: &str = "examples";

/// A model whose manifest is loaded and whose weights may not be yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Directory under [`MODELS_DIR`].
    pub dir: String,
    /// Its manifest.
    pub manifest: Manifest,
}

impl Entry {
    fn weights_url(&self) -> String {
        weights_url(&self.dir, &self.manifest)
    }
}

/// Where the weights of the model in `dir` are served from.
pub fn weights_url(dir: &str, manifest: &Manifest) -> String {
    format!("{MODELS_DIR}/{dir}/{}", manifest.weights.file)
}

/// One built-in example clip.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Example {
    /// File name under [`EXAMPLES_DIR`].
    pub file: String,
    /// Machine type it was made for.
    pub machine_type: String,
    /// Machine ID.
    pub id: String,
    /// What it is, for the button.
    pub label: String,
}

/// The bundled models, as the index lists them.
pub async fn load_index() -> Result<Vec<Listed>, PageError> {
    let url = format!("{MODELS_DIR}/{INDEX_FILE}");
    let bytes = fetch_bytes(&url, &|_, _| {}).await?;
    let index =
        ModelIndex::parse(&bytes).map_err(|source| PageError::DamagedIndex { url, source })?;
    Ok(index.models)
}

thread_local! {
    /// Manifests read so far, by directory: each is fetched and parsed once per visit.
    static MANIFESTS: RefCell<HashMap<String, Manifest>> = RefCell::new(HashMap::new());
}

/// The model `listed` names, its manifest read: from this visit's copy, else from the
/// server (and kept on the device), else, offline, from the device's copy. A manifest that
/// is not the model the index lists is refused.
pub async fn open(listed: &Listed) -> Result<Entry, PageError> {
    let entry = |manifest| Entry {
        dir: listed.dir.clone(),
        manifest,
    };
    if let Some(manifest) = MANIFESTS.with(|m| m.borrow().get(&listed.dir).cloned()) {
        return Ok(entry(manifest));
    }
    let url = format!("{MODELS_DIR}/{}/{MANIFEST_FILE}", listed.dir);
    let (mut bytes, fresh) = match fetch_bytes(&url, &|_, _| {}).await {
        Ok(bytes) => (bytes, true),
        Err(e) => (cached(&url).await.ok_or(e)?, false),
    };
    let manifest = ModelFiles::parse_manifest(&bytes).map_err(|source| PageError::Model {
        url: url.clone(),
        source,
    })?;
    if !listed.matches(&manifest) {
        return Err(PageError::StaleManifest { url });
    }
    if fresh {
        store(&url, &mut bytes).await;
    }
    MANIFESTS.with(|m| m.borrow_mut().insert(listed.dir.clone(), manifest.clone()));
    Ok(entry(manifest))
}

/// The weights of `entry`: from the device's cache when a verified copy is there, else
/// downloaded (progress in bytes), verified against the manifest and cached.
pub async fn load_model(
    entry: &Entry,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<(ModelFiles, bool), PageError> {
    let url = entry.weights_url();
    let key = format!("{url}?sha256={}", entry.manifest.weights.sha256);
    if let Some(bytes) = cached(&key).await {
        match verified(entry.manifest.clone(), bytes).await {
            Ok(files) => return Ok((files, true)),
            Err(_) => evict(&key).await,
        }
    }
    let bytes = fetch_bytes(&url, progress).await?;
    let mut files = verified(entry.manifest.clone(), bytes)
        .await
        .map_err(|source| PageError::Model { url, source })?;
    store(&key, &mut files.weights).await;
    Ok((files, false))
}

/// A manifest and its weights, checked against the manifest's checksum, hashed by the
/// browser.
pub async fn verified(manifest: Manifest, weights: Vec<u8>) -> Result<ModelFiles, ModelError> {
    let found = sha256_hex(&weights).await;
    ModelFiles::from_hashed_parts(manifest, weights, found)
}

/// The audio of a built-in example.
pub async fn load_example(example: &Example) -> Result<Audio, PageError> {
    let url = format!("{EXAMPLES_DIR}/{}", example.file);
    let bytes = fetch_bytes(&url, &|_, _| {}).await?;
    decode_wav(&bytes).map_err(|source| PageError::DamagedWav { name: url, source })
}

/// The example clips (empty if the index is missing: examples are optional).
pub async fn load_examples() -> Vec<Example> {
    let Ok(bytes) = fetch_bytes(&format!("{EXAMPLES_DIR}/index.json"), &|_, _| {}).await else {
        return Vec::new();
    };
    serde_json::from_slice(&bytes).unwrap_or_default()
}
