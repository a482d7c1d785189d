//! The connection to the engine worker (`web/engine`), where the network runs: started on
//! first use, sent each model once, asked for a clip's network evidence. Replies come back
//! by request number; a worker that fails to start or stops on a bug fails every open request
//! with [`EngineError::Stopped`] and is started afresh by the next one.

use futures::StreamExt;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use mimimi_dsp::{Audio, FrontEndConfig};
use mimimi_engine::protocol::{
    Backend, EngineError, Reply, Request, WORKER_ID, bytes_payload, pack, samples_payload, unpack,
};
use mimimi_model::evidence::Batch;
use mimimi_model::{ModelFiles, Needs};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

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
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

/// Ends the connection: every open request fails with `why`; the next request starts a new
/// worker.
fn stop(why: String) {
    let Some(connection) = CONNECTION.with(|c| c.borrow_mut().take()) else {
        return;
    };
    connection.worker.terminate();
    for sender in connection.pending.into_values() {
        let _ = sender.unbounded_send(Reply::Failed(EngineError::Stopped(why.clone())));
    }
}

fn received(event: MessageEvent) {
    let (envelope, _) = match unpack::<Reply>(&event.data()) {
        Ok(v) => v,
        Err(e) => return stop(e.to_string()),
    };
    match (envelope.id, envelope.body) {
        (WORKER_ID, Reply::Started) => CONNECTION.with(|c| {
            if let Some(c) = c.borrow_mut().as_mut() {
                c.started = true;
                for (message, transfer) in c.held.drain(..) {
                    // A worker that cannot take a message has stopped: its error event says so.
                    let _ = c.worker.post_message_with_transfer(&message, &transfer);
                }
            }
        }),
        (WORKER_ID, Reply::Crashed(why)) => stop(why),
        (WORKER_ID, Reply::Failed(e)) => stop(e.to_string()),
        (id, reply) => CONNECTION.with(|c| {
            if let Some(c) = c.borrow_mut().as_mut() {
                let last = !matches!(reply, Reply::Progress { .. });
                if let Some(sender) = c.pending.get(&id) {
                    let _ = sender.unbounded_send(reply);
                }
                if last {
                    c.pending.remove(&id);
                }
            }
        }),
    }
}

fn connect() -> Result<(), EngineError> {
    if CONNECTION.with(|c| c.borrow().is_some()) {
        return Ok(());
    }
    let worker = Worker::new(SCRIPT)
        .map_err(|e| EngineError::Stopped(format!("the worker could not be created: {e:?}")))?;
    // The handlers live as long as the page: a worker is started again only after a failure.
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(received);
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(|event: ErrorEvent| {
        let message = event.message();
        stop(if message.is_empty() {
            "its script could not be loaded".into()
        } else {
            message
        });
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    CONNECTION.with(|c| {
        *c.borrow_mut() = Some(Connection {
            worker,
            started: false,
            held: Vec::new(),
            next: WORKER_ID + 1,
            pending: HashMap::new(),
            models: HashSet::new(),
        })
    });
    Ok(())
}

/// Sends `request` and waits for its answer, passing progress on.
async fn request(
    request: &Request,
    payload: Option<JsValue>,
    progress: &dyn Fn(usize, usize),
) -> Result<Reply, EngineError> {
    connect()?;
    let (sender, mut replies) = unbounded();
    CONNECTION.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.as_mut().expect("connected above");
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

/// Sends the model to the worker unless it holds it.
async fn send_model(key: &str, files: &ModelFiles) -> Result<(), EngineError> {
    let held = CONNECTION.with(|c| c.borrow().as_ref().is_some_and(|c| c.models.contains(key)));
    if held {
        return Ok(());
    }
    let model = Request::Model {
        key: key.to_string(),
        manifest: Box::new(files.manifest.clone()),
    };
    match request(&model, Some(bytes_payload(&files.weights)), &|_, _| {}).await? {
        Reply::Stored => {
            CONNECTION.with(|c| {
                if let Some(c) = c.borrow_mut().as_mut() {
                    c.models.insert(key.to_string());
                }
            });
            Ok(())
        }
        other => Err(unexpected(&other)),
    }
}

/// What `needs` asks of the network for the first channel of `audio`, cut into windows as
/// `frontend` cuts it; `progress(done, total)` counts windows.
pub async fn evidence(
    compute: Compute<'_>,
    needs: &Needs,
    class: Option<usize>,
    frontend: FrontEndConfig,
    audio: &Audio,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<Batch>, EngineError> {
    send_model(compute.key, compute.files).await?;
    let samples = audio.channels.first().map_or(&[][..], Vec::as_slice);
    let ask = Request::Evidence {
        key: compute.key.to_string(),
        backend: compute.backend,
        needs: needs.clone(),
        class,
        frontend,
        sample_rate: audio.sample_rate,
    };
    match request(&ask, Some(samples_payload(samples)), progress).await? {
        Reply::Evidence(batches) => Ok(batches),
        other => Err(unexpected(&other)),
    }
}
