//! The connection to the engine workers (`web/engine`), where the network runs: started on
//! first use, sent each model once, asked for a clip's network evidence. On the CPU a clip's
//! windows are spread over several workers, one per core the browser reports but the page's
//! own (at most [`MAX_CPU_WORKERS`]); WebGPU runs in the first. Replies come back by request
//! number; a worker that fails to start or stops on a bug fails every open request of its own
//! with [`EngineError::Stopped`] and is started afresh by the next one.

use crate::params::query;
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::future::try_join_all;
use mimimi_dsp::{Audio, FrontEndConfig};
use mimimi_engine::protocol::{
    Backend, EngineError, Reply, Request, Share, WORKER_ID, bytes_payload, pack, samples_payload,
    unpack,
};
use mimimi_model::evidence::Batch;
use mimimi_model::{ModelFiles, Needs};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// The most CPU workers a clip is spread over. Each holds its own copy of the engine's module
/// and a model's network: the memory this costs is measured by `?bench` (docs/speed.md).
pub const MAX_CPU_WORKERS: usize = 4;

/// The worker's script, written by Trunk's loader shim (index.html).
const SCRIPT: &str = "./mimimi-engine_loader.js";

/// A model and where to run its network.
#[derive(Clone, Copy)]
pub struct Compute<'a> {
    /// The page's name for the model (its directory).
    pub key: &'a str,
    /// Its files.
    pub files: &'a ModelFiles,
    /// Where the network runs.
    pub backend: Backend,
}

/// A started worker and what is waiting on it.
struct Connection {
    worker: Worker,
    /// Whether the worker said it is ready (messages before that would be lost).
    started: bool,
    /// Messages held until then.
    held: Vec<(js_sys::Array, js_sys::Array)>,
    next: u32,
    pending: HashMap<u32, UnboundedSender<Reply>>,
    /// Models the worker holds.
    models: HashSet<String>,
}

thread_local! {
    /// The workers by slot (`None`: not started, or stopped).
    static POOL: RefCell<Vec<Option<Connection>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the connection in `slot`, if there is one.
fn with_connection<R>(slot: usize, f: impl FnOnce(&mut Connection) -> R) -> Option<R> {
    POOL.with(|p| p.borrow_mut().get_mut(slot).and_then(Option::as_mut).map(f))
}

/// How many workers a clip's windows are spread over on the CPU: `?workers=N` if given (for
/// measuring), else one per core the browser reports but one, which the page's own thread
/// keeps so that it stays responsive (docs/page.md), within 1..=[`MAX_CPU_WORKERS`].
fn cpu_workers() -> usize {
    let cores = web_sys::window().map_or(1.0, |w| w.navigator().hardware_concurrency());
    let asked = query("workers").and_then(|v| v.parse::<usize>().ok());
    asked
        .unwrap_or((cores as usize).saturating_sub(1))
        .clamp(1, MAX_CPU_WORKERS)
}

/// How many workers `audio`'s windows are spread over on `backend`: on the CPU
/// [`cpu_workers`], but never more than the clip has windows; WebGPU runs in one.
pub fn workers(backend: Backend, frontend: &FrontEndConfig, audio: &Audio) -> usize {
    match backend {
        Backend::Cpu => cpu_workers().min(windows_about(frontend, audio).max(1)),
        Backend::WebGpu => 1,
    }
}

/// Ends the connection in `slot`: every open request fails with `why`; the next request
/// starts a new worker there.
fn stop(slot: usize, why: String) {
    let Some(connection) = POOL.with(|p| p.borrow_mut().get_mut(slot).and_then(Option::take))
    else {
        return;
    };
    connection.worker.terminate();
    for sender in connection.pending.into_values() {
        let _ = sender.unbounded_send(Reply::Failed(EngineError::Stopped(why.clone())));
    }
}

fn received(slot: usize, event: MessageEvent) {
    let (envelope, _) = match unpack::<Reply>(&event.data()) {
        Ok(v) => v,
        Err(e) => return stop(slot, e.to_string()),
    };
    match (envelope.id, envelope.body) {
        (WORKER_ID, Reply::Started) => {
            with_connection(slot, |c| {
                c.started = true;
                for (message, transfer) in c.held.drain(..) {
                    // A worker that cannot take a message has stopped: its error event says so.
                    let _ = c.worker.post_message_with_transfer(&message, &transfer);
                }
            });
        }
        (WORKER_ID, Reply::Crashed(why)) => stop(slot, why),
        (WORKER_ID, Reply::Failed(e)) => stop(slot, e.to_string()),
        (id, reply) => {
            with_connection(slot, |c| {
                let last = !matches!(reply, Reply::Progress { .. });
                if let Some(sender) = c.pending.get(&id) {
                    let _ = sender.unbounded_send(reply);
                }
                if last {
                    c.pending.remove(&id);
                }
            });
        }
    }
}

fn connect(slot: usize) -> Result<(), EngineError> {
    if with_connection(slot, |_| ()).is_some() {
        return Ok(());
    }
    let worker = Worker::new(SCRIPT)
        .map_err(|e| EngineError::Stopped(format!("the worker could not be created: {e:?}")))?;
    // The handlers live as long as the page: a worker is started again only after a failure.
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event| received(slot, event));
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        let message = event.message();
        stop(
            slot,
            if message.is_empty() {
                "its script could not be loaded".into()
            } else {
                message
            },
        );
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    let connection = Connection {
        worker,
        started: false,
        held: Vec::new(),
        next: WORKER_ID + 1,
        pending: HashMap::new(),
        models: HashSet::new(),
    };
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        if pool.len() <= slot {
            pool.resize_with(slot + 1, || None);
        }
        pool[slot] = Some(connection);
    });
    Ok(())
}

/// Sends `request` to the worker in `slot` and waits for its answer, passing progress on.
async fn request(
    slot: usize,
    request: &Request,
    payload: Option<JsValue>,
    progress: &dyn Fn(usize, usize),
) -> Result<Reply, EngineError> {
    connect(slot)?;
    let (sender, mut replies) = unbounded();
    with_connection(slot, |c| {
        let id = c.next;
        c.next += 1;
        c.pending.insert(id, sender);
        let (message, transfer) = pack(id, request, payload);
        if c.started {
            let _ = c.worker.post_message_with_transfer(&message, &transfer);
        } else {
            c.held.push((message, transfer));
        }
    });
    while let Some(reply) = replies.next().await {
        match reply {
            Reply::Progress { done, total } => progress(done, total),
            Reply::Failed(e) => return Err(e),
            other => return Ok(other),
        }
    }
    Err(EngineError::Stopped("no answer".into()))
}

fn unexpected(reply: &Reply) -> EngineError {
    EngineError::Message(format!("unexpected answer {reply:?}"))
}

/// Sends the model to the worker in `slot` unless it holds it.
async fn send_model(slot: usize, key: &str, files: &ModelFiles) -> Result<(), EngineError> {
    if with_connection(slot, |c| c.models.contains(key)) == Some(true) {
        return Ok(());
    }
    let model = Request::Model {
        key: key.to_string(),
        manifest: Box::new(files.manifest.clone()),
    };
    match request(
        slot,
        &model,
        Some(bytes_payload(&files.weights)),
        &|_, _| {},
    )
    .await?
    {
        Reply::Stored => {
            with_connection(slot, |c| c.models.insert(key.to_string()));
            Ok(())
        }
        other => Err(unexpected(&other)),
    }
}

/// What `needs` asks of the network for the first channel of `audio`, cut into windows as
/// `frontend` cuts it; `progress(done, total)` counts windows. On the CPU the windows are
/// spread over [`cpu_workers`] workers, each computing its [`Share`]; the batches come back
/// in time order whatever the number.
pub async fn evidence(
    compute: Compute<'_>,
    needs: &Needs,
    class: Option<usize>,
    frontend: FrontEndConfig,
    audio: &Audio,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<Batch>, EngineError> {
    let of = workers(compute.backend, &frontend, audio);
    let samples = audio.channels.first().map_or(&[][..], Vec::as_slice);
    // (done, total) of each share, as last reported.
    let counts = RefCell::new(vec![(0, 0); of]);
    let report = |index: usize, done: usize, total: usize| {
        let (done, total) = {
            let mut counts = counts.borrow_mut();
            counts[index] = (done, total);
            counts
                .iter()
                .fold((0, 0), |(d, t), &(done, total)| (d + done, t + total))
        };
        progress(done, total);
    };
    let shares = (0..of).map(|index| {
        let ask = Request::Evidence {
            key: compute.key.to_string(),
            backend: compute.backend,
            needs: needs.clone(),
            class,
            frontend,
            sample_rate: audio.sample_rate,
            share: Share { index, of },
        };
        let report = &report;
        async move {
            send_model(index, compute.key, compute.files).await?;
            let progress = move |done, total| report(index, done, total);
            match request(index, &ask, Some(samples_payload(samples)), &progress).await? {
                Reply::Evidence(batches) => Ok(batches),
                other => Err(unexpected(&other)),
            }
        }
    });
    Ok(try_join_all(shares).await?.into_iter().flatten().collect())
}

/// About how many windows the front end cuts `audio` into (its length brought to the model's
/// rate, not resampled; at most the longest clip the front end takes): bounds the workers a
/// clip is spread over, so that a clip of one window starts one. Only the number of workers
/// depends on it; the shares cover every window whatever it is.
fn windows_about(frontend: &FrontEndConfig, audio: &Audio) -> usize {
    let rate = f64::from(frontend.sample_rate);
    let length = audio.channels.first().map_or(0, Vec::len) as f64 * rate
        / f64::from(audio.sample_rate.max(1));
    let frames = frontend
        .stft
        .frames(length.min(frontend.max_seconds * rate) as usize);
    frontend.examples.windows(frames).len()
}

/// The linear memory of each started worker, in bytes (for `?bench`).
pub async fn memory() -> Result<Vec<u64>, EngineError> {
    let started: Vec<usize> = POOL.with(|p| {
        let pool = p.borrow();
        (0..pool.len()).filter(|&s| pool[s].is_some()).collect()
    });
    let mut bytes = Vec::new();
    for slot in started {
        match request(slot, &Request::Memory, None, &|_, _| {}).await? {
            Reply::Memory(b) => bytes.push(b),
            other => return Err(unexpected(&other)),
        }
    }
    Ok(bytes)
}
