//! The engine worker: keeps the models the page sends, builds each model's network once per
//! backend, and answers [`Request::Evidence`] a few windows at a time, reporting progress.
//! A bug (a panic) is reported to the page as [`Reply::Crashed`] before the module stops, so
//! no request waits forever.

use crate::protocol::{
    Backend, EngineError, Reply, Request, Share, WORKER_ID, pack, payload_bytes, payload_samples,
    unpack,
};
use mimimi_dsp::{Audio, FrontEnd, FrontEndConfig};
use mimimi_model::evidence::{Batch, queue};
use mimimi_model::{Device, ModelFiles, Needs, Network};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// What the worker keeps between requests.
#[derive(Default)]
struct State {
    models: HashMap<String, ModelFiles>,
    networks: HashMap<(String, Backend), Network>,
    gpu: Option<Device>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Sends `reply` for request `id`.
fn post(id: u32, reply: &Reply) {
    let (message, transfer) = pack(id, reply, None);
    // A page that is gone cannot be told anything more.
    let _ = scope().post_message_with_transfer(&message, &transfer);
}

/// Writes the warnings and errors of the libraries (the GPU compiler's refused shaders) to
/// the console, where a developer looks.
struct Console;

impl log::Log for Console {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let text = JsValue::from_str(&format!("{}: {}", record.target(), record.args()));
            match record.level() {
                log::Level::Error => web_sys::console::error_1(&text),
                _ => web_sys::console::warn_1(&text),
            }
        }
    }

    fn flush(&self) {}
}

static CONSOLE: Console = Console;

/// Starts answering the page's messages.
pub fn start() {
    // Only fails when a logger is already set, which then reports instead.
    let _ = log::set_logger(&CONSOLE).map(|()| log::set_max_level(log::LevelFilter::Warn));
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(WORKER_ID, &Reply::Crashed(info.to_string()));
    }));
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        wasm_bindgen_futures::spawn_local(handle(event.data()));
    });
    scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    post(WORKER_ID, &Reply::Started);
}

async fn handle(data: JsValue) {
    let (envelope, payload) = match unpack::<Request>(&data) {
        Ok(v) => v,
        Err(e) => return post(WORKER_ID, &Reply::Failed(e)),
    };
    let id = envelope.id;
    let reply = match envelope.body {
        Request::Model { key, manifest } => store(key, *manifest, &payload),
        Request::Evidence {
            key,
            backend,
            needs,
            class,
            frontend,
            sample_rate,
            share,
        } => {
            let clip = Clip {
                frontend,
                sample_rate,
                share,
            };
            evidence(id, &key, backend, &needs, class, clip, &payload)
                .await
                .map(Reply::Evidence)
        }
        Request::Memory => Ok(Reply::Memory(memory())),
    };
    post(id, &reply.unwrap_or_else(Reply::Failed));
}

fn store(
    key: String,
    manifest: mimimi_model::Manifest,
    payload: &JsValue,
) -> Result<Reply, EngineError> {
    let weights = payload_bytes(payload)?;
    let files =
        ModelFiles::from_parts(manifest, weights).map_err(|e| EngineError::Model(e.to_string()))?;
    state(|s| {
        s.networks.retain(|(k, _), _| *k != key);
        s.models.insert(key, files);
    });
    Ok(Reply::Stored)
}

/// The device of `backend`; the GPU's is asked for once and kept.
async fn device(backend: Backend) -> Result<Device, EngineError> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        Backend::WebGpu => {
            if let Some(gpu) = state(|s| s.gpu.clone()) {
                return Ok(gpu);
            }
            let gpu = webgpu().await?;
            state(|s| s.gpu = Some(gpu.clone()));
            Ok(gpu)
        }
    }
}

/// A WebGPU device for burn, requested here so that the GPU's errors are reported, not
/// fatal. burn's runtime panics on any uncaptured device error; in the browser a kernel the
/// device refuses (its tuning tries variants, some with WGSL extensions SwiftShader lacks)
/// arrives that way, after its tuning has moved on to another variant. On the page's thread
/// such a panic only reached the console; in a worker a panic stops the engine
/// ([`Reply::Crashed`]), so the handler is replaced by one that logs. A lost device still
/// poisons burn's runtime, and reading results back then fails ([`EngineError::ReadBack`]).
async fn webgpu() -> Result<Device, EngineError> {
    use burn::tensor::wgpu::{WgpuSetup, wgpu};
    let no_adapter = |e: String| EngineError::NoAdapter(e);
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::BROWSER_WEBGPU,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|e| no_adapter(e.to_string()))?;
    // As burn asks for it: every feature of the adapter (mapped primary buffers are native only).
    let features = adapter
        .features()
        .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS);
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            required_features: features,
            required_limits: adapter.limits(),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            ..Default::default()
        })
        .await
        .map_err(|e| no_adapter(e.to_string()))?;
    let setup = WgpuSetup {
        instance,
        adapter,
        device: device.clone(),
        queue,
        backend: wgpu::Backend::BrowserWebGpu,
    };
    let gpu = Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| no_adapter(e.to_string()))?;
    device.on_uncaptured_error(std::sync::Arc::new(|error| {
        log::warn!("WebGPU reported an error: {error}");
    }));
    Ok(gpu)
}

fn network(key: &str, backend: Backend, device: &Device) -> Result<Network, EngineError> {
    let cached = state(|s| s.networks.get(&(key.to_string(), backend)).cloned());
    if let Some(network) = cached {
        return Ok(network);
    }
    let files = state(|s| s.models.get(key).cloned())
        .ok_or_else(|| EngineError::UnknownModel(key.to_string()))?;
    let network = files
        .network(device)
        .map_err(|e| EngineError::Model(e.to_string()))?;
    state(|s| {
        s.networks
            .insert((key.to_string(), backend), network.clone())
    });
    Ok(network)
}

/// The bytes of this module's linear memory.
fn memory() -> u64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length()
        .into()
}

/// How a clip's samples are to be read, and which of its windows to compute.
struct Clip {
    frontend: FrontEndConfig,
    sample_rate: u32,
    share: Share,
}

/// Windows per batch: on the CPU few, so that progress moves; on a GPU many, so that the
/// dispatches are few.
fn batch_size(backend: Backend) -> usize {
    match backend {
        Backend::WebGpu => 16,
        Backend::Cpu => 2,
    }
}

async fn evidence(
    id: u32,
    key: &str,
    backend: Backend,
    needs: &Needs,
    class: Option<usize>,
    clip: Clip,
    payload: &JsValue,
) -> Result<Vec<Batch>, EngineError> {
    let audio = Audio::mono(clip.sample_rate, payload_samples(payload)?);
    let prepared = FrontEnd::new(clip.frontend)
        .prepare(&audio, 0)
        .map_err(|e| EngineError::Clip(e.to_string()))?;
    let device = device(backend).await?;
    let network = network(key, backend, &device)?;
    let mine = &prepared.windows[clip.share.range(prepared.windows.len())];
    let total = mine.len();
    let mut batches = Vec::new();
    let mut done = 0;
    post(id, &Reply::Progress { done, total });
    for windows in mine.chunks(batch_size(backend)) {
        let batch = queue(
            &network,
            needs,
            class,
            &prepared.spectrogram,
            windows,
            &device,
        )
        .read()
        .await?;
        batches.push(batch);
        done += windows.len();
        post(id, &Reply::Progress { done, total });
    }
    Ok(batches)
}
