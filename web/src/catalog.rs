//! The bundled models and example clips: `models/index.json` names the model directories
//! (`models/<type>/manifest.json` + weights), `examples/index.json` the example clips. The
//! manifests load first (a few kB); a type's weights only when it is chosen, with progress,
//! checked against the manifest's sha256 and cached on the device.

use crate::error::PageError;
use crate::fetch::{cached, evict, fetch_bytes, sha256_hex, store};
use mimimi_dsp::{Audio, decode_wav};
use mimimi_model::{Manifest, ModelError, ModelFiles};
use serde::Deserialize;

/// Where the bundled models are served from, relative to the page.
pub const MODELS_DIR: &str = "models";
/// Where the example clips are served from, relative to the page.
pub const EXAMPLES_DIR: &str = "examples";

#[derive(Deserialize)]
struct ModelIndex {
    models: Vec<String>,
}

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

/// Reads the model index and every manifest. A damaged manifest is reported by name, and the
/// other models stay usable.
pub async fn load_manifests() -> Result<(Vec<Entry>, Vec<PageError>), PageError> {
    let url = format!("{MODELS_DIR}/index.json");
    let index = fetch_bytes(&url, &|_, _| {}).await?;
    let index: ModelIndex =
        serde_json::from_slice(&index).map_err(|source| PageError::DamagedIndex { url, source })?;
    let (mut entries, mut problems) = (Vec::new(), Vec::new());
    for dir in index.models {
        let url = format!("{MODELS_DIR}/{dir}/manifest.json");
        let manifest = match fetch_bytes(&url, &|_, _| {}).await {
            Ok(bytes) => ModelFiles::parse_manifest(&bytes)
                .map_err(|source| PageError::Model { url, source }),
            Err(e) => Err(e.into()),
        };
        match manifest {
            Ok(manifest) => entries.push(Entry { dir, manifest }),
            Err(e) => problems.push(e),
        }
    }
    Ok((entries, problems))
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
    let files = verified(entry.manifest.clone(), bytes)
        .await
        .map_err(|source| PageError::Model { url, source })?;
    store(&key, &files.weights).await;
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
