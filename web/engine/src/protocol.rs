//! The messages between the page and its engine worker. Each message is a JavaScript array
//! `[header, payload]`: the header is JSON ([`Envelope`]), the payload the bulk numbers
//! (a model's weights, a clip's samples) as a typed array whose buffer is transferred, not
//! copied.

use js_sys::{Array, Float32Array, Uint8Array};
use mimimi_dsp::FrontEndConfig;
use mimimi_model::evidence::Batch;
use mimimi_model::score::ReadError;
use mimimi_model::{Manifest, Needs};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

/// Where the network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Backend {
    /// WebGPU through burn-wgpu.
    WebGpu,
    /// The CPU: burn's flex backend in wasm.
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

/// The id of the worker's own messages ([`Reply::Started`], [`Reply::Crashed`]); requests
/// are numbered from 1.
pub const WORKER_ID: u32 = 0;

/// A message's header: which request it belongs to, and what it says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The request's number ([`WORKER_ID`] for the worker's own messages).
    pub id: u32,
    /// The message.
    pub body: T,
}

/// What the page asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Keep a model under `key` (payload: its weights' bytes, checked against the manifest).
    Model {
        /// The page's name for the model (its directory).
        key: String,
        /// Its manifest.
        manifest: Box<Manifest>,
    },
    /// The network's part of a clip's evidence (payload: its mono samples): what `needs` asks
    /// of the network, window by window, as the model's front end (`frontend`) cuts the clip.
    Evidence {
        /// The model ([`Request::Model`] first).
        key: String,
        /// Where to run it.
        backend: Backend,
        /// What is asked.
        needs: Needs,
        /// The machine ID a cross-entropy is against.
        class: Option<usize>,
        /// How the clip is cut into windows.
        frontend: FrontEndConfig,
        /// The samples' rate.
        sample_rate: u32,
        /// Which of the clip's windows this worker computes (the page spreads a clip's
        /// windows over several CPU workers).
        share: Share,
    },
    /// How much memory the worker's module holds ([`Reply::Memory`]).
    Memory,
}

/// Part `index` of `of` near-equal runs of a clip's windows, in time order: what one of
/// several workers computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// Which part (from 0).
    pub index: usize,
    /// How many parts.
    pub of: usize,
}

impl Share {
    /// The whole clip.
    pub const ALL: Share = Share { index: 0, of: 1 };

    /// The windows of a clip of `total` this share covers. The shares `0..of` cover
    /// `0..total` in order, each window once; an index past the last part covers none.
    pub fn range(self, total: usize) -> std::ops::Range<usize> {
        let of = self.of.max(1);
        let at = |part: usize| (total * part.min(of)) / of;
        at(self.index)..at(self.index + 1)
    }
}

/// What the worker answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// The worker is ready for requests (sent once, with [`WORKER_ID`]).
    Started,
    /// The model is kept.
    Stored,
    /// Windows done so far (then more replies follow).
    Progress {
        /// Windows of this worker's [`Share`] done.
        done: usize,
        /// Windows in this worker's share.
        total: usize,
    },
    /// The evidence, one batch of windows after the other, in time order.
    Evidence(Vec<Batch>),
    /// The bytes of the worker module's linear memory (which never shrinks: its peak).
    Memory(u64),
    /// The request failed.
    Failed(EngineError),
    /// The worker stopped on a bug (sent with [`WORKER_ID`]); every open request is lost.
    Crashed(String),
}

/// Why the engine could not answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum EngineError {
    /// The browser gives no WebGPU adapter or device.
    #[error("this browser offers no WebGPU adapter ({0})")]
    NoAdapter(String),
    /// A model was asked for that the page never sent.
    #[error("the engine has no model {0:?}")]
    UnknownModel(String),
    /// The model's files could not be made into a network.
    #[error("{0}")]
    Model(String),
    /// The clip could not be cut into windows.
    #[error("{0}")]
    Clip(String),
    /// A result could not be read back from the device (a lost GPU).
    #[error(transparent)]
    ReadBack(#[from] ReadError),
    /// A message could not be read.
    #[error("a message between the page and its engine was damaged: {0}")]
    Message(String),
    /// The worker could not start, or stopped.
    #[error("the network engine stopped: {0}")]
    Stopped(String),
}

/// Packs a header and its payload into one message and the list of buffers to transfer.
pub fn pack<T: Serialize>(id: u32, body: &T, payload: Option<JsValue>) -> (Array, Array) {
    let header = serde_json::to_string(&Envelope { id, body }).expect("messages serialise");
    let message = Array::of1(&JsValue::from_str(&header));
    let transfer = Array::new();
    if let Some(payload) = payload {
        if let Some(buffer) = js_sys::Reflect::get(&payload, &JsValue::from_str("buffer"))
            .ok()
            .filter(|b| b.is_instance_of::<js_sys::ArrayBuffer>())
        {
            transfer.push(&buffer);
        }
        message.push(&payload);
    }
    (message, transfer)
}

/// Reads a message's header (and keeps its payload, `JsValue::UNDEFINED` if none).
pub fn unpack<T: for<'de> Deserialize<'de>>(
    data: &JsValue,
) -> Result<(Envelope<T>, JsValue), EngineError> {
    let message: &Array = data
        .dyn_ref()
        .ok_or_else(|| EngineError::Message("not an array".into()))?;
    let header = message
        .get(0)
        .as_string()
        .ok_or_else(|| EngineError::Message("no header".into()))?;
    let envelope =
        serde_json::from_str(&header).map_err(|e| EngineError::Message(e.to_string()))?;
    Ok((envelope, message.get(1)))
}

/// Samples as a payload.
pub fn samples_payload(samples: &[f32]) -> JsValue {
    Float32Array::from(samples).into()
}

/// Bytes as a payload.
pub fn bytes_payload(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

/// A payload's samples.
pub fn payload_samples(payload: &JsValue) -> Result<Vec<f32>, EngineError> {
    payload
        .dyn_ref::<Float32Array>()
        .map(Float32Array::to_vec)
        .ok_or_else(|| EngineError::Message("no samples".into()))
}

/// A payload's bytes.
pub fn payload_bytes(payload: &JsValue) -> Result<Vec<u8>, EngineError> {
    payload
        .dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .ok_or_else(|| EngineError::Message("no bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mimimi_model::ScoreHeads;
    use mimimi_model::embedding::Layer;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(body: T) {
        let header = serde_json::to_string(&Envelope { id: 7, body }).unwrap();
        let back: Envelope<T> = serde_json::from_str(&header).unwrap();
        let again = serde_json::to_string(&back).unwrap();
        assert_eq!(header, again);
        assert_eq!(back.id, 7);
    }

    #[test]
    fn requests_and_replies_cross_as_json_unchanged() {
        round_trip(Request::Evidence {
            key: "fan".into(),
            backend: Backend::WebGpu,
            needs: Needs {
                layers: vec![Layer::Block5, Layer::Fused],
                cross_entropy: Some(ScoreHeads::Sum),
                classify: true,
                ..Needs::default()
            },
            class: Some(3),
            frontend: FrontEndConfig::default(),
            sample_rate: 48_000,
            share: Share { index: 1, of: 3 },
        });
        round_trip(Request::Memory);
        // Numbers the network gives come back to the bit (f32 rows, f64 scores).
        let batch = Batch {
            embedding: vec![vec![0.1, -1.0e-7, f32::MAX, 3.402_823_5e-38]],
            cross_entropy: vec![0.260_909_65, 1.0 / 3.0],
            logit_sums: vec![-12.5, 1e-300],
        };
        let header = serde_json::to_string(&Reply::Evidence(vec![batch.clone()])).unwrap();
        assert_eq!(
            serde_json::from_str::<Reply>(&header).unwrap(),
            Reply::Evidence(vec![batch])
        );
        for reply in [
            Reply::Started,
            Reply::Stored,
            Reply::Progress { done: 2, total: 9 },
            Reply::Memory(3 << 30),
            Reply::Failed(EngineError::ReadBack(ReadError("lost".into()))),
            Reply::Failed(EngineError::NoAdapter("none".into())),
            Reply::Crashed("bug".into()),
        ] {
            round_trip(reply);
        }
    }

    #[test]
    fn shares_cover_every_window_once_in_order() {
        for total in [0, 1, 2, 8, 9, 10, 313] {
            for of in 1..=6 {
                let ranges: Vec<_> = (0..of)
                    .map(|index| Share { index, of }.range(total))
                    .collect();
                assert_eq!(ranges[0].start, 0, "{total} windows in {of}");
                assert_eq!(ranges[of - 1].end, total, "{total} windows in {of}");
                for pair in ranges.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start, "{total} windows in {of}");
                }
                let (shortest, longest) = ranges
                    .iter()
                    .map(ExactSizeIterator::len)
                    .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
                assert!(
                    longest - shortest <= 1,
                    "{total} windows in {of}: {ranges:?}"
                );
                assert!(Share { index: of, of }.range(total).is_empty());
            }
        }
        assert_eq!(Share::ALL.range(9), 0..9);
    }

    #[test]
    fn a_lost_gpu_stays_a_read_back_error_across_the_boundary() {
        let header = serde_json::to_string(&Reply::Failed(EngineError::from(ReadError(
            "device lost".into(),
        ))))
        .unwrap();
        let Reply::Failed(error) = serde_json::from_str::<Reply>(&header).unwrap() else {
            panic!("not a failure");
        };
        assert!(matches!(error, EngineError::ReadBack(_)));
        assert_eq!(
            error.to_string(),
            "reading the result from the device failed: device lost"
        );
    }
}
