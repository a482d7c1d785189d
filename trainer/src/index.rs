//! `trainer index`: the index of a folder of exported models (the page's `models/index.json`).

use crate::out;
use anyhow::Context;
use mimimi_model::ModelIndex;
use mimimi_model::index::INDEX_FILE;
use std::path::PathBuf;

/// Write `index.json` in a folder of model directories (as `web/assets/models`): each model's
/// directory, machine type, machine IDs and weights checksum, read from its manifest. Run it
/// after `export` into that folder: the page lists the models from it.
#[derive(clap::Args)]
pub struct Args {
    /// The folder of model directories.
    #[arg(long)]
    pub models: PathBuf,
}

impl Args {
    /// Writes the index and prints the models it lists.
    pub fn run(self) -> anyhow::Result<bool> {
        let index = ModelIndex::collect(&self.models)?;
        anyhow::ensure!(
            !index.models.is_empty(),
            "{}: no model directory (a folder with a manifest.json) in it",
            self.models.display()
        );
        let path = self.models.join(INDEX_FILE);
        std::fs::write(&path, index.to_json())
            .with_context(|| format!("writing {}", path.display()))?;
        for listed in &index.models {
            out::line(&format!(
                "{:<10} {} IDs  {}",
                listed.dir,
                listed.classes.len(),
                listed.machine_type
            ))?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page lists its models from this file: it must say what their manifests say.
    #[test]
    fn the_bundled_index_lists_the_bundled_manifests() {
        let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/assets/models");
        let written = std::fs::read(models.join(INDEX_FILE)).expect("the bundled index");
        let written = ModelIndex::parse(&written).expect("a readable index");
        let collected = ModelIndex::collect(&models).expect("the bundled manifests");
        assert_eq!(
            written, collected,
            "web/assets/models/index.json is out of date: run `trainer index --models web/assets/models`"
        );
    }
}
