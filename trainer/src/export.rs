//! `trainer export`: a model directory for the page, its weights as f32 or f16.

use crate::out;
use mimimi_model::ModelFiles;
use mimimi_model::file::MANIFEST_FILE;
use std::path::Path;

/// Write a model directory for the page: the manifest (thresholds included) and the
/// weights as f32 or f16; prints the file sizes.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory (from `train`, `import` or `calibrate`).
    #[arg(long)]
    pub model: std::path::PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Element type of the stored weights (`f16` halves the download).
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
    pub dtype: String,
}

impl Args {
    /// Writes the model and prints its files' sizes.
    pub fn run(self) -> anyhow::Result<bool> {
        export(&self.model, &self.out, &self.dtype).map(|()| true)
    }
}

/// `trainer export`: the model re-stored with `dtype` weights under `out`.
fn export(model: &Path, out: &Path, dtype: &str) -> anyhow::Result<()> {
    let files = ModelFiles::load(model).and_then(|m| m.with_dtype(dtype))?;
    // Prove the written weights load into the network the manifest describes.
    files.network(&mimimi_model::Device::flex())?;
    files.save(out)?;
    for name in [MANIFEST_FILE, files.manifest.weights.file.as_str()] {
        let path = out.join(name);
        let bytes = std::fs::metadata(&path)?.len();
        out::line(&format!("{:>10} bytes  {}", bytes, path.display()))?;
    }
    Ok(())
}
