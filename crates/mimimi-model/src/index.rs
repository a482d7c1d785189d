//! The index of a folder of model directories (`index.json` beside them, as the page's
//! `models/`): for each model what a machine picker shows and what tells whether an enrolled
//! machine was learnt with it, so that a page lists every model and reads only the chosen
//! one's manifest (the manifests are mostly score-rule statistics, ~100 kB each gzipped).
//! `trainer index` writes it from the manifests; a test holds the bundled one to them.

use crate::file::{MANIFEST_FILE, Manifest, ModelError, ModelFiles};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;
use thiserror::Error;

/// File name of the index inside the folder of model directories.
pub const INDEX_FILE: &str = "index.json";

/// Every model of a folder, in the order a picker lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIndex {
    /// The models.
    pub models: Vec<Listed>,
}

/// One model as the index lists it: copied from its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    /// Its directory (one path segment).
    pub dir: String,
    /// [`Manifest::machine_type`].
    pub machine_type: String,
    /// [`Manifest::classes`]: the machine IDs it knows.
    pub classes: Vec<String>,
    /// The sha256 of its weights ([`crate::file::WeightsInfo::sha256`]), which a profile
    /// names as the model it was learnt with.
    pub weights_sha256: String,
}

impl Listed {
    /// The index's line for the model in `dir` with `manifest`.
    pub fn of(dir: &str, manifest: &Manifest) -> Self {
        Self {
            dir: dir.to_string(),
            machine_type: manifest.machine_type.clone(),
            classes: manifest.classes.clone(),
            weights_sha256: manifest.weights.sha256.clone(),
        }
    }

    /// Whether `manifest` is the model this line lists (read from its directory).
    pub fn matches(&self, manifest: &Manifest) -> bool {
        *self == Self::of(&self.dir, manifest)
    }
}

/// Why an index cannot be used.
#[derive(Debug, Error)]
pub enum IndexError {
    /// Not JSON of an index's shape.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A directory name that is not one plain path segment.
    #[error("{0:?} is not a model directory's name")]
    BadDir(String),
    /// A directory listed twice.
    #[error("the model directory {0:?} is listed twice")]
    RepeatedDir(String),
}

impl ModelIndex {
    /// Reads an index and checks that each model is listed once under a plain directory
    /// name (the page builds URLs from it).
    pub fn parse(json: &[u8]) -> Result<Self, IndexError> {
        let index: Self = serde_json::from_slice(json)?;
        let mut seen = BTreeSet::new();
        for listed in &index.models {
            let dir = &listed.dir;
            let plain = !dir.is_empty()
                && dir != "."
                && dir != ".."
                && !dir.contains(['/', '\\', '?', '#', '%']);
            if !plain {
                return Err(IndexError::BadDir(dir.clone()));
            }
            if !seen.insert(dir) {
                return Err(IndexError::RepeatedDir(dir.clone()));
            }
        }
        Ok(index)
    }

    /// The index of every model directory (a subfolder with a manifest) under `root`, in
    /// name order. Reads the manifests only.
    pub fn collect(root: &Path) -> Result<Self, ModelError> {
        let io = |path: &Path, source| ModelError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut dirs = Vec::new();
        for item in std::fs::read_dir(root).map_err(|e| io(root, e))? {
            let path = item.map_err(|e| io(root, e))?.path();
            if path.join(MANIFEST_FILE).is_file() {
                dirs.push(path);
            }
        }
        dirs.sort();
        let mut models = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let file = dir.join(MANIFEST_FILE);
            let json = std::fs::read(&file).map_err(|e| io(&file, e))?;
            let manifest = ModelFiles::parse_manifest(&json)?;
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            models.push(Listed::of(&name, &manifest));
        }
        Ok(Self { models })
    }

    /// The index as written to [`INDEX_FILE`] (pretty JSON, ending in a newline).
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(dir: &str) -> String {
        format!(r#"{{"dir":"{dir}","machine_type":"fan","classes":["00"],"weights_sha256":"ab"}}"#)
    }

    #[test]
    fn an_index_reads_back_and_refuses_odd_directories() {
        let index = ModelIndex::parse(format!(r#"{{"models":[{}]}}"#, listed("fan")).as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ModelIndex::parse(index.to_json().as_bytes()).ok(),
            Some(index)
        );
        for dir in ["", "..", "a/b", "a\\b", "x?y"] {
            let json = format!(r#"{{"models":[{}]}}"#, listed(&dir.replace('\\', "\\\\")));
            assert!(
                matches!(
                    ModelIndex::parse(json.as_bytes()),
                    Err(IndexError::BadDir(_))
                ),
                "{dir:?}"
            );
        }
        let twice = format!(r#"{{"models":[{},{}]}}"#, listed("fan"), listed("fan"));
        assert!(matches!(
            ModelIndex::parse(twice.as_bytes()),
            Err(IndexError::RepeatedDir(_))
        ));
        assert!(matches!(
            ModelIndex::parse(br#"{"models":["fan"]}"#),
            Err(IndexError::Json(_))
        ));
    }
}
