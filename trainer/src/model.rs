//! A model loaded for native use: its files, its network on the CPU, its front end; and the
//! evidence and judgement of audio files against it ([`mimimi_model::judge`](mod@mimimi_model::judge)), as `score`,
//! `eval`, `calibrate` and `enroll` need them.

use crate::data::prepare_file;
use anyhow::Context;
use mimimi_dsp::{FrontEnd, Prepared};
use mimimi_model::evidence::evidence_blocking;
use mimimi_model::{
    ClipScore, Device, Evidence, Judgement, ModelFiles, Needs, Network, Target, judge,
};
use std::path::Path;

/// A model ready to judge files.
pub struct Loaded {
    /// Its files (the manifest names the rule, the front end and the weights' checksum).
    pub files: ModelFiles,
    network: Network,
    frontend: FrontEnd,
    device: Device,
}

impl Loaded {
    /// Loads the model in `dir` on the CPU.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let files = ModelFiles::load(dir).with_context(|| dir.display().to_string())?;
        Self::new(files)
    }

    /// Wraps model files already in memory.
    pub fn new(files: ModelFiles) -> anyhow::Result<Self> {
        let device = Device::flex();
        let network = files.network(&device)?;
        let frontend = FrontEnd::new(files.manifest.frontend);
        Ok(Self {
            files,
            network,
            frontend,
            device,
        })
    }

    /// The same model with another front end (e.g. whole-clip scoring).
    pub fn with_frontend(mut self, frontend: FrontEnd) -> Self {
        self.frontend = frontend;
        self
    }

    /// Decodes and prepares one file (channel `channel`).
    pub fn prepare(&self, path: &Path, channel: usize) -> anyhow::Result<Prepared> {
        prepare_file(path, &self.frontend, channel)
    }

    /// What `needs` asks of a prepared clip (`class`: the ID a cross-entropy is against).
    pub fn evidence(
        &self,
        prepared: &Prepared,
        needs: &Needs,
        class: Option<usize>,
    ) -> anyhow::Result<Evidence> {
        Ok(evidence_blocking(
            &self.network,
            &self.frontend.config,
            needs,
            class,
            prepared,
            &self.device,
        )?)
    }

    /// The class a cross-entropy against `target` is computed for (trained IDs only).
    pub fn class_of(&self, target: &Target) -> Option<usize> {
        match target {
            Target::Id(id) => self.files.manifest.class_of(id).ok(),
            Target::Enrolled(_) => None,
        }
    }

    /// The score of a prepared clip against `target` by its rule, without a verdict (what
    /// sets thresholds).
    pub fn score_prepared(
        &self,
        prepared: &Prepared,
        target: &Target,
    ) -> anyhow::Result<ClipScore> {
        let manifest = &self.files.manifest;
        let evidence = self.evidence(prepared, &target.needs(manifest), self.class_of(target))?;
        Ok(mimimi_model::judge::score(manifest, target, &evidence)?)
    }

    /// Judges a prepared clip against `target`.
    pub fn judge_prepared(
        &self,
        prepared: &Prepared,
        target: &Target,
    ) -> anyhow::Result<Judgement> {
        let manifest = &self.files.manifest;
        target.check(manifest)?;
        let evidence = self.evidence(prepared, &target.needs(manifest), self.class_of(target))?;
        Ok(judge(manifest, target, &evidence)?)
    }

    /// Judges one file against `target`; errors name the file.
    pub fn judge_file(
        &self,
        path: &Path,
        channel: usize,
        target: &Target,
    ) -> anyhow::Result<Judgement> {
        // (prepare names the file itself.)
        let prepared = self.prepare(path, channel)?;
        self.judge_prepared(&prepared, target)
            .with_context(|| path.display().to_string())
    }
}
