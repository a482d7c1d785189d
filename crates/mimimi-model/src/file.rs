//! The model directory: `manifest.json` (what the model is, how to feed it, its thresholds and
//! metrics, where it came from, the checksum of its weights) and the weights file (a burn
//! record in burnpack format, loadable from bytes inside wasm).

use crate::clip_gaussian::ClipGaussians;
use crate::config::NetworkConfig;
#[cfg(feature = "network")]
use crate::network::Network;
use crate::rule::{RuleError, ScoreRule};
use crate::score::ScoreHeads;
#[cfg(feature = "network")]
use burn::module::Module;
#[cfg(feature = "network")]
use burn::store::ModuleRecord;
#[cfg(feature = "network")]
use burn::tensor::{Bytes, DType, Device, TensorData};
use mimimi_dsp::FrontEndConfig;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// The manifest format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside a model directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Default file name of the weights inside a model directory.
pub const WEIGHTS_FILE: &str = "weights.bpk";

/// Where a model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Provenance {
    /// What made it: `trainer train`, `trainer import`, a test...
    pub source: String,
    /// The training data (a path, a corpus name and seed, a checkpoint file).
    pub data: String,
    /// Epochs trained.
    pub epochs: Option<u32>,
    /// Random seed of the run.
    pub seed: Option<u64>,
    /// When it was made (ISO 8601 date or date-time).
    pub created: String,
    /// Version of the tool that made it.
    pub tool_version: String,
}

/// The weights file a manifest describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsInfo {
    /// File name, relative to the model directory.
    pub file: String,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Element type of the stored tensors (`f32`, `f16`).
    pub dtype: String,
}

impl WeightsInfo {
    /// f32 weights not written yet: [`ModelFiles::from_network`] fills in the file name,
    /// checksum and size.
    pub fn unwritten() -> Self {
        Self {
            file: String::new(),
            sha256: String::new(),
            bytes: 0,
            dtype: "f32".into(),
        }
    }
}

/// Everything about a model except its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ManifestFile")]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Machine type (fan, pump, slider, valve, or a user's own).
    pub machine_type: String,
    /// Machine IDs in class order: class k of the heads is `classes[k]`.
    pub classes: Vec<String>,
    /// The network's hyper-parameters.
    pub network: NetworkConfig,
    /// The signal path its inputs must go through.
    pub frontend: FrontEndConfig,
    /// Decision threshold per machine ID (score above it: anomalous).
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
    /// How the thresholds were chosen (never from test labels).
    #[serde(default)]
    pub threshold_rule: String,
    /// How a clip is scored against a machine ID: what the thresholds apply to.
    pub score_rule: ScoreRule,
    /// Evaluation metrics the model was shipped with (free-form JSON, see docs/model-format.md).
    #[serde(default)]
    pub metrics: serde_json::Value,
    /// Where it came from.
    #[serde(default)]
    pub provenance: Provenance,
    /// The weights file.
    pub weights: WeightsInfo,
}

/// A manifest as stored, old forms included: before `score_rule`, a manifest named the
/// cross-entropy's heads in `score_heads` (absent: the total head) and, optionally, clip
/// Gaussians that replaced the cross-entropy. Both still load, as the rule they meant.
#[derive(Deserialize)]
struct ManifestFile {
    format_version: u32,
    machine_type: String,
    classes: Vec<String>,
    network: NetworkConfig,
    frontend: FrontEndConfig,
    #[serde(default)]
    thresholds: BTreeMap<String, f64>,
    #[serde(default)]
    threshold_rule: String,
    #[serde(default)]
    score_rule: Option<ScoreRule>,
    #[serde(default)]
    score_heads: Option<ScoreHeads>,
    #[serde(default)]
    clip_gaussians: Option<ClipGaussians>,
    #[serde(default)]
    metrics: serde_json::Value,
    #[serde(default)]
    provenance: Provenance,
    weights: WeightsInfo,
}

impl TryFrom<ManifestFile> for Manifest {
    type Error = ManifestError;

    fn try_from(f: ManifestFile) -> Result<Self, ManifestError> {
        let score_rule = match (f.score_rule, f.score_heads, f.clip_gaussians) {
            (Some(rule), None, None) => rule,
            (Some(_), _, _) => {
                return Err(ManifestError::TwoRules);
            }
            (None, _, Some(g)) => ScoreRule::ClipGaussians(g),
            (None, heads, None) => ScoreRule::CrossEntropy {
                heads: heads.unwrap_or_default(),
            },
        };
        Ok(Self {
            format_version: f.format_version,
            machine_type: f.machine_type,
            classes: f.classes,
            network: f.network,
            frontend: f.frontend,
            thresholds: f.thresholds,
            threshold_rule: f.threshold_rule,
            score_rule,
            metrics: f.metrics,
            provenance: f.provenance,
            weights: f.weights,
        })
    }
}

impl Manifest {
    /// Checks what a damaged or hand-edited file could get wrong, before anything uses it:
    /// the front end's parameters, one head per machine ID (IDs unique, at most 1024),
    /// finite thresholds of known IDs, and the score rule.
    pub fn validate(&self) -> Result<(), ManifestError> {
        self.frontend.validate()?;
        let n = self.classes.len();
        if n == 0 || n > 1024 {
            return Err(ManifestError::IdCount(n));
        }
        if self.network.num_classes != n {
            return Err(ManifestError::Heads {
                heads: self.network.num_classes,
                ids: n,
            });
        }
        let unique: std::collections::BTreeSet<&String> = self.classes.iter().collect();
        if unique.len() != n {
            return Err(ManifestError::RepeatedId);
        }
        for (id, &threshold) in &self.thresholds {
            if !unique.contains(id) {
                return Err(ManifestError::ThresholdOfUnknownId(id.clone()));
            }
            if !threshold.is_finite() || threshold.abs() > 1e12 {
                return Err(ManifestError::Threshold {
                    id: id.clone(),
                    threshold,
                });
            }
        }
        Ok(self.score_rule.validate(&self.classes)?)
    }

    /// The class index of machine ID `id`.
    pub fn class_of(&self, id: &str) -> Result<usize, IdError> {
        self.classes
            .iter()
            .position(|c| c == id)
            .ok_or_else(|| IdError::Unknown {
                id: id.into(),
                known: self.classes.clone(),
            })
    }

    /// The decision threshold of machine ID `id`.
    pub fn threshold_of(&self, id: &str) -> Result<f64, IdError> {
        self.class_of(id)?;
        self.thresholds
            .get(id)
            .copied()
            .ok_or_else(|| IdError::NoThreshold(id.into()))
    }
}

/// Why a model could not be loaded or saved.
#[derive(Debug, Error)]
pub enum ModelError {
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the expected shape, or holds unusable values.
    #[error("the model manifest is damaged or not a Mimimi manifest: {0}")]
    BadManifest(#[from] ManifestError),
    /// Written by a newer or older, incompatible format.
    #[error("model format version {found} is not supported (this build reads version {expected})")]
    Version {
        /// Version in the manifest.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The weights do not match the manifest's checksum.
    #[error(
        "the weights file is damaged or belongs to another model: sha256 {found}, manifest says {expected}"
    )]
    Checksum {
        /// Checksum of the bytes received.
        found: String,
        /// Checksum the manifest expects.
        expected: String,
    },
    /// The weights do not fit the network the manifest describes.
    #[error("the weights do not fit the network described by the manifest: {0}")]
    Weights(String),
    /// A machine ID the model cannot judge against.
    #[error(transparent)]
    Id(#[from] IdError),
}

/// Why the model cannot judge a clip against a machine ID.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum IdError {
    /// A machine ID the model does not know.
    #[error("machine ID {id:?} is not in this model (it knows {known:?})")]
    Unknown {
        /// The ID asked for.
        id: String,
        /// The model's IDs.
        known: Vec<String>,
    },
    /// No threshold is stored for a known ID.
    #[error("the model has no decision threshold for machine ID {0:?}: run `trainer calibrate`")]
    NoThreshold(String),
}

/// What makes a manifest unusable.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// Not JSON of a manifest's shape.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Both the score rule and the older fields that it replaced.
    #[error("the manifest has both a score_rule and the older score_heads or clip_gaussians")]
    TwoRules,
    /// The front end's parameters.
    #[error(transparent)]
    FrontEnd(#[from] mimimi_dsp::ConfigError),
    /// No machine IDs, or more than 1024.
    #[error("{0} machine IDs (1–1024 expected)")]
    IdCount(usize),
    /// The network's head size differs from the number of IDs.
    #[error("the network has {heads} heads' classes for {ids} machine IDs")]
    Heads {
        /// Classes of the network's heads.
        heads: usize,
        /// Machine IDs listed.
        ids: usize,
    },
    /// An ID listed twice.
    #[error("a machine ID is listed twice")]
    RepeatedId,
    /// A threshold of an ID the model does not list.
    #[error("a threshold for unknown machine ID {0}")]
    ThresholdOfUnknownId(String),
    /// A threshold that is not a usable number.
    #[error("the threshold of ID {id} is {threshold}, not a usable number")]
    Threshold {
        /// The ID.
        id: String,
        /// Its threshold.
        threshold: f64,
    },
    /// The score rule.
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A model held in memory: its manifest and the bytes of its weights, checked against each
/// other.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The manifest.
    pub manifest: Manifest,
    /// The weights file's bytes.
    pub weights: Vec<u8>,
}

impl ModelFiles {
    #[cfg(feature = "network")]
    /// Packs a network with its description; fills in the weights' checksum and size.
    pub fn from_network(network: Network, mut manifest: Manifest) -> Result<Self, ModelError> {
        let bytes = network
            .into_record()
            .into_bytes()
            .map_err(|e| ModelError::Weights(e.to_string()))?;
        let weights = bytes.to_vec();
        manifest.format_version = FORMAT_VERSION;
        manifest.weights.sha256 = sha256_hex(&weights);
        manifest.weights.bytes = weights.len() as u64;
        if manifest.weights.file.is_empty() {
            manifest.weights.file = WEIGHTS_FILE.into();
        }
        Ok(Self { manifest, weights })
    }

    /// Parses a manifest alone (the page reads it before downloading the weights).
    pub fn parse_manifest(json: &[u8]) -> Result<Manifest, ModelError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            format_version: u32,
        }
        let version: VersionOnly = serde_json::from_slice(json).map_err(ManifestError::from)?;
        if version.format_version != FORMAT_VERSION {
            return Err(ModelError::Version {
                found: version.format_version,
                expected: FORMAT_VERSION,
            });
        }
        let manifest: Manifest = serde_json::from_slice(json).map_err(ManifestError::from)?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks the weights against the manifest's checksum.
    pub fn from_parts(manifest: Manifest, weights: Vec<u8>) -> Result<Self, ModelError> {
        let found = sha256_hex(&weights);
        Self::from_hashed_parts(manifest, weights, found)
    }

    /// Checks the weights against the manifest's checksum, given their SHA-256 in hex
    /// (`found`) as the caller computed it: the page hashes with the browser's WebCrypto,
    /// off its thread.
    pub fn from_hashed_parts(
        manifest: Manifest,
        weights: Vec<u8>,
        found: String,
    ) -> Result<Self, ModelError> {
        if found != manifest.weights.sha256 {
            return Err(ModelError::Checksum {
                found,
                expected: manifest.weights.sha256.clone(),
            });
        }
        Ok(Self { manifest, weights })
    }

    /// Parses and checks a manifest and its weights.
    pub fn from_bytes(manifest_json: &[u8], weights: Vec<u8>) -> Result<Self, ModelError> {
        Self::from_parts(Self::parse_manifest(manifest_json)?, weights)
    }

    /// Reads a model directory.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| ModelError::Io {
                path: path.display().to_string(),
                source,
            })
        };
        let manifest = Self::parse_manifest(&read(&dir.join(MANIFEST_FILE))?)?;
        let weights = read(&dir.join(&manifest.weights.file))?;
        Self::from_parts(manifest, weights)
    }

    /// Writes the model directory (created if missing).
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| ModelError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let weights_path = dir.join(&self.manifest.weights.file);
        std::fs::write(&weights_path, &self.weights).map_err(io(&weights_path))?;
        let json = serde_json::to_vec_pretty(&self.manifest).expect("manifest serialises");
        let manifest_path = dir.join(MANIFEST_FILE);
        std::fs::write(&manifest_path, json).map_err(io(&manifest_path))?;
        Ok(())
    }

    #[cfg(feature = "network")]
    /// The same model with its weights stored as `dtype` (`f32` or `f16`): f16 halves the
    /// download; [`ModelFiles::network`] casts back to f32 on load, so the network computes
    /// in f32 either way and only the rounding of the weights differs.
    pub fn with_dtype(&self, dtype: &str) -> Result<Self, ModelError> {
        let target = match dtype {
            "f32" => DType::F32,
            "f16" => DType::F16,
            other => {
                return Err(ModelError::Weights(format!(
                    "unsupported weight type {other:?}"
                )));
            }
        };
        let bad = |e: burn_pack::Error| ModelError::Weights(e.to_string());
        let tensors = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(self.weights.clone()))
            .and_then(|r| r.into_tensors())
            .map_err(bad)?
            .into_iter()
            .map(|t| {
                let (name, dtype, shape, id, bytes) = t.into_parts().map_err(bad)?;
                let data = TensorData::from_bytes(bytes, shape, dtype);
                let data = if data.dtype().is_float() {
                    data.convert_dtype(target)
                } else {
                    data
                };
                let (bytes, shape, dtype) = data.into_parts();
                Ok(burn_pack::Tensor::new(name, dtype, shape, id, bytes))
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        let weights = burn_pack::Writer::new(tensors)
            .into_bytes()
            .map_err(bad)?
            .to_vec();
        let mut manifest = self.manifest.clone();
        manifest.weights = WeightsInfo {
            file: match target {
                DType::F16 => "weights.f16.bpk".into(),
                _ => WEIGHTS_FILE.into(),
            },
            sha256: sha256_hex(&weights),
            bytes: weights.len() as u64,
            dtype: dtype.into(),
        };
        Ok(Self { manifest, weights })
    }

    #[cfg(feature = "network")]
    /// Builds the network on `device` and loads the weights into it (cast to the network's
    /// f32 if they were stored as f16).
    pub fn network(&self, device: &Device) -> Result<Network, ModelError> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(self.weights.clone()))
            .map_err(|e| ModelError::Weights(e.to_string()))?
            .cast_to_module_dtype();
        Network::new(&self.manifest.network, device)
            .try_load_record(record)
            .map_err(|e| ModelError::Weights(e.to_string()))
    }
}
