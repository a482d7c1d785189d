//! `--method baseline`: the classical detector the network has to beat.
//!
//! Log-mel energies (64 bands of the same STFT the network sees, in dB), five consecutive
//! frames stacked into one 320-value vector (as the DCASE 2020 Task 2 baseline stacks them),
//! and per machine ID one Gaussian of those vectors over its training clips, with an OAS
//! shrinkage covariance ([`mimimi_model::Gaussian`]). A clip's anomaly score is the mean
//! squared Mahalanobis distance of its vectors from its own ID's Gaussian, per dimension.
//! Thresholds come from the validation clips by the same rule as the network's, and the
//! classification accuracy is the share of normal test clips nearest to their own ID.

use crate::data::{Clip, Split, scan, train_ids};
use crate::report::{Report, Scored, id_report, report};
use anyhow::Context;
use mimimi_dsp::mel::{MelBank, MelConfig, stack_frames};
use mimimi_dsp::{DecodeLimits, FrontEnd, FrontEndConfig, decode_wav_channel, stft::stft};
use mimimi_model::Gaussian;
use mimimi_model::threshold::ThresholdRule;
use std::path::Path;

/// The baseline's features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineConfig {
    /// The signal path up to the STFT (its normalisation and examples are not used).
    pub frontend: FrontEndConfig,
    /// Mel bands.
    pub mel: MelConfig,
    /// Frames stacked into one vector.
    pub context: usize,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            frontend: FrontEndConfig::default(),
            mel: MelConfig::default(),
            context: 5,
        }
    }
}

/// Turns audio files into stacked log-mel vectors.
#[derive(Debug, Clone)]
pub struct Features {
    config: BaselineConfig,
    frontend: FrontEnd,
    bank: MelBank,
}

impl Features {
    /// The feature extractor for `config`.
    pub fn new(config: BaselineConfig) -> Self {
        let bins = config.frontend.stft.n_fft / 2 + 1;
        Self {
            bank: MelBank::new(&config.mel, config.frontend.sample_rate, bins),
            frontend: FrontEnd::new(config.frontend),
            config,
        }
    }

    /// The vectors of one file (channel 0); errors name the file.
    pub fn of_file(&self, path: &Path) -> anyhow::Result<Vec<Vec<f32>>> {
        let read = || -> anyhow::Result<Vec<f32>> {
            let bytes = std::fs::read(path)?;
            let (audio, _) = decode_wav_channel(&bytes, 0, &DecodeLimits::default())?;
            Ok(self.frontend.to_model_rate(&audio, 0)?)
        };
        let samples = read().with_context(|| path.display().to_string())?;
        Ok(self.of_samples(&samples))
    }

    /// The vectors of a signal at the model rate.
    pub fn of_samples(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        let spec = stft(samples, &self.config.frontend.stft);
        let mel = self.bank.log_mel(&spec);
        stack_frames(&mel, self.bank.bands(), self.config.context)
    }
}

/// One Gaussian per machine ID, fitted on the given clips' vectors.
pub fn fit(features: &Features, clips: &[&Clip], ids: &[String]) -> anyhow::Result<Vec<Gaussian>> {
    ids.iter()
        .map(|id| {
            let mut vectors = Vec::new();
            for clip in clips.iter().filter(|c| &c.id == id) {
                vectors.extend(features.of_file(&clip.path)?);
            }
            Gaussian::fit(&vectors).with_context(|| format!("machine ID {id}"))
        })
        .collect()
}

/// Fits the baseline on the training clips of `machine_type` in `data` and evaluates it on the
/// test clips; thresholds from the validation clips.
pub fn evaluate(data: &Path, machine_type: &str, seed: u64) -> anyhow::Result<Report> {
    let clips = scan(data, machine_type, seed)?;
    let ids = train_ids(&clips);
    let of = |split| clips.iter().filter(move |c| c.split == split);
    let features = Features::new(BaselineConfig::default());
    let train: Vec<&Clip> = of(Split::Train).collect();
    let models = fit(&features, &train, &ids)?;
    let rule = ThresholdRule::default();
    let mut reports = Vec::new();
    for (class, id) in ids.iter().enumerate() {
        let mut validation = Vec::new();
        for clip in of(Split::Validation).filter(|c| &c.id == id) {
            validation.push(models[class].score(&features.of_file(&clip.path)?));
        }
        let (mut scored, mut correct, mut normal) = (Vec::new(), 0usize, 0usize);
        for clip in of(Split::Test).filter(|c| &c.id == id) {
            let vectors = features.of_file(&clip.path)?;
            let scores: Vec<f64> = models.iter().map(|g| g.score(&vectors)).collect();
            if !clip.anomalous {
                normal += 1;
                let nearest = (0..scores.len())
                    .min_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                    .unwrap_or(class);
                correct += usize::from(nearest == class);
            }
            scored.push(Scored {
                score: scores[class],
                anomalous: clip.anomalous,
                kind: clip.kind.clone(),
                cannot_tell: false,
            });
        }
        let accuracy = Some(correct as f64 / normal.max(1) as f64);
        reports.push(id_report(
            id,
            &scored,
            accuracy,
            rule.threshold(&validation),
        ));
    }
    Ok(report(
        machine_type,
        data,
        crate::report::Scorer::Baseline,
        "log-mel frames (5 stacked), a Gaussian per ID, mean Mahalanobis distance",
        reports,
    ))
}
