//! Backend choice: WebGPU when the browser yields an adapter and a device, otherwise the CPU
//! (burn's pure-Rust `flex` backend compiled to wasm). A small network pass runs on the chosen
//! device so that "found" means "works".

use mimimi_model::{Device, Network, NetworkConfig, Tensor};

/// What the probe found, in words for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendReport {
    /// `WebGPU` or `CPU (wasm)`.
    pub name: String,
    /// Why, and the result of the test pass.
    pub detail: String,
}

/// Runs one 64-frame example through a freshly initialised network and reads the logits back.
async fn test_pass(device: &Device) -> Result<usize, String> {
    let net = Network::new(&NetworkConfig::new(4), device);
    let x = Tensor::<4>::zeros([1, 1, 513, 64], device);
    let logits = net.forward(x.clone(), x).total;
    let data = logits.into_data_async().await.map_err(|e| e.to_string())?;
    Ok(data.num_elements())
}

/// Finds the backend to use.
pub async fn probe() -> BackendReport {
    match Device::wgpu_options().init_async().await {
        Ok(device) => match test_pass(&device).await {
            Ok(n) => BackendReport {
                name: "WebGPU".into(),
                detail: format!(
                    "WebGPU adapter and device found; a test pass returned {n} logits."
                ),
            },
            Err(e) => cpu_report(format!("WebGPU device failed its test pass ({e}).")).await,
        },
        Err(e) => cpu_report(format!("No WebGPU adapter ({e}).")).await,
    }
}

async fn cpu_report(reason: String) -> BackendReport {
    let device = Device::flex();
    let detail = match test_pass(&device).await {
        Ok(n) => format!("{reason} Using the CPU; a test pass returned {n} logits."),
        Err(e) => format!("{reason} The CPU test pass failed too: {e}"),
    };
    BackendReport {
        name: "CPU (wasm)".into(),
        detail,
    }
}
