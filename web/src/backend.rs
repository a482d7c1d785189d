//! Backend choice. WebGPU is used only when the browser yields an adapter and a device AND the
//! device passes a self-test: the reference network (the PyTorch reference's weights, imported)
//! scores the reference's 10 s test clip on the CPU (burn's pure-Rust `flex` backend compiled
//! to wasm) and on the GPU, and the two scores must agree. Shader validation failures on some
//! browsers give zeros silently; this catches them. Otherwise the page runs on the CPU.

use mimimi_dsp::{Audio, FrontEnd, decode_wav};
use mimimi_model::score::score_clip_async;
use mimimi_model::{Device, ModelFiles};

/// Where the self-test files are served from (relative to the page).
const SELFTEST_DIR: &str = "selftest";
/// Class the self-test clip is scored against (the reference fixtures use class 1).
const SELFTEST_CLASS: usize = 1;
/// Largest relative difference between the GPU and CPU scores that still trusts the GPU.
const AGREEMENT: f64 = 1e-4;

/// The compute backend the page runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// WebGPU through burn-wgpu.
    WebGpu,
    /// The CPU, burn's flex backend in wasm.
    Cpu,
}

impl Backend {
    /// Name shown on the page.
    pub fn label(self) -> &'static str {
        match self {
            Backend::WebGpu => "WebGPU",
            Backend::Cpu => "CPU (wasm)",
        }
    }
}

/// What the probe found, for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendReport {
    /// The backend chosen.
    pub backend: Backend,
    /// Why, in words a technician can read.
    pub detail: String,
    /// The underlying error, for a developer (shown folded away).
    pub technical: Option<String>,
    /// Self-test score on the CPU.
    pub cpu_score: Option<f64>,
    /// Self-test score on WebGPU, when a device was found.
    pub gpu_score: Option<f64>,
}

async fn fetch_bytes(path: &str) -> Result<Vec<u8>, String> {
    let url = format!("{SELFTEST_DIR}/{path}");
    let response = gloo_net::http::Request::get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    response.binary().await.map_err(|e| format!("{url}: {e}"))
}

async fn load_selftest() -> Result<(ModelFiles, Audio), String> {
    let manifest = fetch_bytes("manifest.json").await?;
    let manifest = ModelFiles::parse_manifest(&manifest).map_err(|e| e.to_string())?;
    let weights = fetch_bytes(&manifest.weights.file).await?;
    let files = ModelFiles::from_parts(manifest, weights).map_err(|e| e.to_string())?;
    let audio = decode_wav(&fetch_bytes("clip.wav").await?).map_err(|e| e.to_string())?;
    Ok((files, audio))
}

/// The self-test score of the reference network on `device`, whole clip in one pass.
async fn selftest_score(device: &Device, files: &ModelFiles, audio: &Audio) -> Result<f64, String> {
    let network = files.network(device).map_err(|e| e.to_string())?;
    let mut config = files.manifest.frontend;
    config.examples.whole_clip = true;
    let prepared = FrontEnd::new(config)
        .prepare(audio, 0)
        .map_err(|e| e.to_string())?;
    let score = score_clip_async(&network, &prepared, SELFTEST_CLASS, device)
        .await
        .map_err(|e| e.to_string())?;
    Ok(score.score)
}

/// Finds the backend to use and runs the self-test on it.
pub async fn probe() -> BackendReport {
    let (files, audio) = match load_selftest().await {
        Ok(v) => v,
        Err(e) => {
            return BackendReport {
                backend: Backend::Cpu,
                detail: "The self-test files could not be loaded; using the CPU.".into(),
                technical: Some(e),
                cpu_score: None,
                gpu_score: None,
            };
        }
    };
    let cpu = selftest_score(&Device::flex(), &files, &audio).await;
    let cpu_score = cpu.as_ref().ok().copied();
    let gpu = match Device::wgpu_options().init_async().await {
        Ok(device) => selftest_score(&device, &files, &audio)
            .await
            .map_err(|e| ("the WebGPU self-test failed".to_string(), e)),
        Err(e) => Err((
            "this browser offers no WebGPU adapter".to_string(),
            e.to_string(),
        )),
    };
    let gpu_score = gpu.as_ref().ok().copied();
    let (backend, detail, technical) = match (cpu, gpu) {
        (Ok(c), Ok(g)) if (g - c).abs() <= AGREEMENT * c.abs().max(1.0) => (
            Backend::WebGpu,
            "WebGPU passed the self-test: it scores the reference clip as the CPU does."
                .to_string(),
            None,
        ),
        (Ok(c), Ok(g)) => (
            Backend::Cpu,
            "WebGPU failed the self-test (its result differs from the CPU's): using the CPU."
                .to_string(),
            Some(format!(
                "reference clip, class 1: WebGPU {g:.8}, CPU {c:.8}"
            )),
        ),
        (Ok(_), Err((why, e))) => (Backend::Cpu, format!("Using the CPU: {why}."), Some(e)),
        (Err(e), _) => (
            Backend::Cpu,
            "The CPU self-test failed: results cannot be trusted.".to_string(),
            Some(e),
        ),
    };
    BackendReport {
        backend,
        detail,
        technical,
        cpu_score,
        gpu_score,
    }
}
