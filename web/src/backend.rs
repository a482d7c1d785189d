//! Where the network runs (in the engine worker, [`crate::worker`]): WebGPU through
//! burn-wgpu when the browser yields an adapter and a device and the device computes what the
//! CPU computes, else the CPU (burn's pure-Rust `flex` backend compiled to wasm). The user can
//! force either (`?backend=cpu|webgpu` or the menu).
//!
//! The GPU is checked, not trusted: some browsers fail shader validation silently and return
//! zeros. Before the first check on WebGPU the page scores a short synthetic signal with the
//! chosen model on both devices and keeps the GPU only if the scores agree. `?selftest` runs the
//! heavier reference self-test (the PyTorch reference's weights and test clip) instead.

use crate::catalog;
use crate::error::PageError;
use crate::worker::{self, Compute};
use mimimi_dsp::{Audio, decode_wav};
use mimimi_engine::protocol::EngineError;
use mimimi_model::score::{ClipScore, ScoreHeads};
use mimimi_model::{ModelFiles, Needs, ScoreRule};

pub use mimimi_engine::protocol::Backend;

/// Where the reference self-test files are served from (relative to the page).
const SELFTEST_DIR: &str = "selftest";
/// The engine's name for the self-test's model.
const SELFTEST_KEY: &str = "selftest";
/// Class the reference self-test clip is scored against (the reference fixtures use class 1).
const SELFTEST_CLASS: usize = 1;
/// Largest relative difference between the GPU and CPU scores that still trusts the GPU.
pub const AGREEMENT: f64 = 1e-3;

/// Where a check ran, as the page shows it: the network's backend, or the CPU alone when the
/// score needed no network.
pub fn ran_on(backend: Option<Backend>) -> &'static str {
    backend.map_or("CPU (wasm; no network)", Backend::label)
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// WebGPU if it works, else the CPU.
    Auto,
    /// WebGPU only (an error if there is none).
    WebGpu,
    /// The CPU only.
    Cpu,
}

impl Choice {
    /// From the `backend` query parameter or the menu value.
    pub fn parse(value: &str) -> Self {
        match value {
            "webgpu" | "gpu" => Choice::WebGpu,
            "cpu" => Choice::Cpu,
            _ => Choice::Auto,
        }
    }

    /// The menu value.
    pub fn value(self) -> &'static str {
        match self {
            Choice::Auto => "auto",
            Choice::WebGpu => "webgpu",
            Choice::Cpu => "cpu",
        }
    }
}

/// Where the page's network runs, and why.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Which backend.
    pub backend: Backend,
    /// Why this backend, in words a technician can read.
    pub detail: String,
    /// The underlying error, for a developer (shown folded away).
    pub technical: Option<String>,
}

impl Engine {
    /// The CPU, with the reason.
    pub fn cpu(detail: impl Into<String>, technical: Option<String>) -> Self {
        Self {
            backend: Backend::Cpu,
            detail: detail.into(),
            technical,
        }
    }
}

/// A short deterministic test signal: two tones and pseudo-random noise, 2.1 s at 16 kHz.
fn probe_signal() -> Audio {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let samples = (0..33_600)
        .map(|n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let t = n as f32 / 16_000.0;
            0.3 * (std::f32::consts::TAU * 440.0 * t).sin()
                + 0.2 * (std::f32::consts::TAU * 1_230.0 * t).sin()
                + 0.2 * noise
        })
        .collect();
    Audio::mono(16_000, samples)
}

/// The network's cross-entropy of `audio` against `class` with model `key` on `backend`
/// (the manifest's heads where it scores by cross-entropy, else the total head), averaged
/// over the windows: what the GPU check and the self-test compare.
async fn score_on(
    backend: Backend,
    key: &str,
    files: &ModelFiles,
    audio: &Audio,
    whole_clip: bool,
    class: usize,
) -> Result<f64, EngineError> {
    let mut frontend = files.manifest.frontend;
    frontend.examples.whole_clip = whole_clip;
    let heads = match files.manifest.score_rule {
        ScoreRule::CrossEntropy { heads } => heads,
        _ => ScoreHeads::Total,
    };
    let needs = Needs {
        cross_entropy: Some(heads),
        ..Needs::default()
    };
    let compute = Compute {
        key,
        files,
        backend,
    };
    let batches =
        worker::evidence(compute, &needs, Some(class), frontend, audio, &|_, _| {}).await?;
    let scores = batches.into_iter().flat_map(|b| b.cross_entropy).collect();
    Ok(ClipScore::from_windows(scores).score)
}

/// Chooses the engine for `choice`, checking a GPU against the CPU with model `key`.
pub async fn choose(choice: Choice, key: &str, files: &ModelFiles) -> Engine {
    if choice == Choice::Cpu {
        return Engine::cpu("The CPU was chosen.", None);
    }
    let fallback = |why: &str, technical: String| {
        let detail = if choice == Choice::WebGpu {
            format!("WebGPU was asked for, but {why}: using the CPU.")
        } else {
            format!("Using the CPU: {why}.")
        };
        Engine::cpu(detail, Some(technical))
    };
    let audio = probe_signal();
    let gpu_score = score_on(Backend::WebGpu, key, files, &audio, false, 0).await;
    if let Err(EngineError::NoAdapter(e)) = gpu_score {
        return fallback("this browser offers no WebGPU adapter", e);
    }
    let cpu_score = score_on(Backend::Cpu, key, files, &audio, false, 0).await;
    match (cpu_score, gpu_score) {
        (Ok(c), Ok(g)) if (g - c).abs() <= AGREEMENT * c.abs().max(1e-3) => Engine {
            backend: Backend::WebGpu,
            detail: "WebGPU computes what the CPU computes: using the GPU.".into(),
            technical: Some(format!("check signal: WebGPU {g:.6e}, CPU {c:.6e}")),
        },
        (Ok(c), Ok(g)) => fallback(
            "its results differ from the CPU's",
            format!("check signal: WebGPU {g:.6e}, CPU {c:.6e}"),
        ),
        (_, Err(e)) => fallback("the GPU check failed", e.to_string()),
        (Err(e), _) => Engine::cpu(
            "The CPU check failed: results cannot be trusted.",
            Some(e.to_string()),
        ),
    }
}

/// The reference self-test's results (`?selftest`), as shown: a score, or why there is none
/// (the error's text: the panel only shows it, and a signal's value must be cloneable).
#[derive(Debug, Clone, PartialEq)]
pub struct SelfTest {
    /// Score on the CPU.
    pub cpu: Result<f64, String>,
    /// Score on WebGPU.
    pub gpu: Result<f64, String>,
}

async fn fetch(path: &str) -> Result<Vec<u8>, PageError> {
    Ok(crate::fetch::fetch_bytes(&format!("{SELFTEST_DIR}/{path}"), &|_, _| {}).await?)
}

/// Scores the PyTorch reference's test clip with the reference's weights, whole clip, on the
/// CPU and on WebGPU: the numbers the browser tests compare with the reference fixtures.
pub async fn selftest() -> SelfTest {
    let loaded = async {
        let model_error = |file: &str| {
            let url = format!("{SELFTEST_DIR}/{file}");
            move |source| PageError::Model { url, source }
        };
        let manifest = ModelFiles::parse_manifest(&fetch("manifest.json").await?)
            .map_err(model_error("manifest.json"))?;
        let weights = fetch(&manifest.weights.file).await?;
        let file = manifest.weights.file.clone();
        let files = catalog::verified(manifest, weights)
            .await
            .map_err(model_error(&file))?;
        let audio =
            decode_wav(&fetch("clip.wav").await?).map_err(|source| PageError::DamagedWav {
                name: format!("{SELFTEST_DIR}/clip.wav"),
                source,
            })?;
        Ok::<_, PageError>((files, audio))
    }
    .await;
    let (files, audio) = match loaded {
        Ok(v) => v,
        Err(e) => {
            return SelfTest {
                cpu: Err(e.to_string()),
                gpu: Err(e.to_string()),
            };
        }
    };
    // Each phase marked, so that a test can tell what the page's thread did during which; each
    // starts in a task of its own, not in the tail of the loading's or the previous phase's.
    crate::fetch::yield_now().await;
    crate::fetch::mark("selftest-cpu");
    let cpu = score_on(
        Backend::Cpu,
        SELFTEST_KEY,
        &files,
        &audio,
        true,
        SELFTEST_CLASS,
    )
    .await;
    crate::fetch::yield_now().await;
    crate::fetch::mark("selftest-gpu");
    let gpu = match score_on(
        Backend::WebGpu,
        SELFTEST_KEY,
        &files,
        &audio,
        true,
        SELFTEST_CLASS,
    )
    .await
    {
        Err(EngineError::NoAdapter(e)) => Err(format!("no WebGPU adapter: {e}")),
        other => other.map_err(|e| e.to_string()),
    };
    SelfTest {
        cpu: cpu.map_err(|e| e.to_string()),
        gpu,
    }
}
