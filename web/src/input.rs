//! Sound in: a file (WAV through Mimimi's own decoder, anything else the browser can decode
//! through the Web Audio API) or the microphone (raw samples, with a live level).

use crate::fetch::js_error;
use js_sys::{ArrayBuffer, Uint8Array};
use mimimi_dsp::quality::{GapTracker, cut};
use mimimi_dsp::{Audio, DecodeLimits, WavError, decode_wav_channel};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AudioBuffer, AudioContext, AudioWorkletNode, AudioWorkletNodeOptions, ChannelCountMode,
    MediaStream, MessageEvent,
};

/// The largest file the page reads (a 1-hour 16-bit stereo WAV at 48 kHz is 690 MB).
pub const MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;

/// True if `bytes` start like a WAV file.
fn is_wav(bytes: &[u8]) -> bool {
    bytes.len() >= 12
        && (&bytes[..4] == b"RIFF" || &bytes[..4] == b"RF64")
        && &bytes[8..12] == b"WAVE"
}

/// Why a file could not be read or decoded; the text is what the page shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FileError {
    /// Nothing in it.
    #[error("{name} is empty (0 bytes).")]
    Empty {
        /// The file's name.
        name: String,
    },
    /// Larger than the page reads (refused unread).
    #[error("{name} is {mb:.0} MB; the page reads such files up to {max_mb} MB.{}",
        if *.recording { " Trim the recording to a minute or less." } else { "" })]
    TooBig {
        /// The file's name.
        name: String,
        /// Its size, MB.
        mb: f64,
        /// The cap, MB.
        max_mb: u64,
        /// It was read as a recording (which can be trimmed).
        recording: bool,
    },
    /// The browser could not read the file's bytes.
    #[error("{name} could not be read: {reason}")]
    Unreadable {
        /// The file's name.
        name: String,
        /// The browser's reason.
        reason: String,
    },
    /// A readable recording the page will not take (too long, too many channels).
    #[error("{name}: {error}.")]
    Refused {
        /// The file's name.
        name: String,
        /// The limit it passes.
        error: WavError,
    },
    /// The same, found from the header of a compressed file before decoding.
    #[error("{name}: {error} (from its header: nothing was decoded).")]
    RefusedUndecoded {
        /// The file's name.
        name: String,
        /// The limit it passes.
        error: WavError,
    },
    /// A damaged or unsupported WAV file.
    #[error("{name} is not a readable WAV file: {error}.")]
    BadWav {
        /// The file's name.
        name: String,
        /// What the decoder found.
        error: WavError,
    },
    /// A compressed file whose length cannot be known before decoding all of it.
    #[error(
        "{name}: this browser cannot tell how long the recording is without decoding all of \
             it, so it is not opened. Save it as WAV (or MP3, M4A, OGG) and try again."
    )]
    UnknownLength {
        /// The file's name.
        name: String,
    },
    /// The browser's decoder failed.
    #[error("{name} could not be decoded as audio by this browser ({reason}).")]
    Undecodable {
        /// The file's name.
        name: String,
        /// The browser's reason.
        reason: String,
    },
}

/// Decodes a file: WAV by Mimimi's decoder (exact samples, clear errors), any other format by
/// the browser. Only the first channel (the one checked) is kept; returns it as mono audio and
/// how many channels the file has. `name` only words the error.
pub async fn decode_file(name: &str, bytes: Vec<u8>) -> Result<(Audio, usize), FileError> {
    let name = name.to_string();
    if bytes.is_empty() {
        return Err(FileError::Empty { name });
    }
    if is_wav(&bytes) || name.to_ascii_lowercase().ends_with(".wav") {
        let decoded = decode_wav_channel(&bytes, 0, &DecodeLimits::default());
        return decoded
            .map(|(a, n)| (a, usize::from(n)))
            .map_err(|error| match error {
                // A readable file the page will not take: say why, not that it is damaged.
                WavError::TooLong { .. } | WavError::TooManyChannels { .. } => {
                    FileError::Refused { name, error }
                }
                _ => FileError::BadWav { name, error },
            });
    }
    decode_with_browser(&bytes).await.map_err(|e| match e {
        BrowserDecodeError::Refused(error) => FileError::Refused { name, error },
        BrowserDecodeError::RefusedUndecoded(error) => FileError::RefusedUndecoded { name, error },
        BrowserDecodeError::UnknownLength => FileError::UnknownLength { name },
        BrowserDecodeError::Failed(reason) => FileError::Undecodable { name, reason },
    })
}

/// The bytes of an uploaded file, refused unread above `max_bytes` (every file the page reads
/// has a cap: a phone's memory is small).
pub(crate) async fn read_bytes(file: &web_sys::File, max_bytes: u64) -> Result<Vec<u8>, FileError> {
    if file.size() as u64 > max_bytes {
        return Err(FileError::TooBig {
            name: file.name(),
            mb: file.size() / 1e6,
            max_mb: max_bytes / 1_000_000,
            recording: false,
        });
    }
    JsFuture::from(file.array_buffer())
        .await
        .map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec())
        .map_err(|e| FileError::Unreadable {
            name: file.name(),
            reason: js_error(e),
        })
}

/// Reads and decodes an uploaded file, refusing files too big to hold: its first channel, and
/// how many channels it has.
pub(crate) async fn read_file(file: &web_sys::File) -> Result<(Audio, usize), FileError> {
    let bytes = read_bytes(file, MAX_FILE_BYTES)
        .await
        .map_err(|e| match e {
            FileError::TooBig {
                name, mb, max_mb, ..
            } => FileError::TooBig {
                name,
                mb,
                max_mb,
                recording: true,
            },
            other => other,
        })?;
    decode_file(&file.name(), bytes).await
}

#[wasm_bindgen(module = "/src/media.js")]
extern "C" {
    /// Seconds the file plays, from its header (NaN if unknown within `ms`).
    #[wasm_bindgen(js_name = playingTime)]
    fn playing_time(bytes: &[u8], ms: u32) -> js_sys::Promise;
}

/// Why the browser's decoder was not used or failed.
enum BrowserDecodeError {
    /// Past the limits Mimimi's own decoder applies, found from the header.
    RefusedUndecoded(WavError),
    /// Past those limits, found once decoded (a header that understated).
    Refused(WavError),
    /// The length cannot be read before decoding (decoding could allocate gigabytes).
    UnknownLength,
    /// The browser could not decode it.
    Failed(String),
}

/// How long the page waits for a file's header to give its length.
const HEADER_WAIT_MS: u32 = 5_000;

async fn decode_with_browser(bytes: &[u8]) -> Result<(Audio, usize), BrowserDecodeError> {
    use BrowserDecodeError::{Failed, Refused, RefusedUndecoded, UnknownLength};
    let limits = DecodeLimits::default();
    // The length from the header first: the Web Audio decoder materialises every channel at
    // the context's rate, and a short compressed file can decode to hours.
    let seconds = JsFuture::from(playing_time(bytes, HEADER_WAIT_MS))
        .await
        .ok()
        .and_then(|v| v.as_f64())
        .filter(|s| s.is_finite())
        .ok_or(UnknownLength)?;
    if seconds > limits.max_seconds {
        return Err(RefusedUndecoded(WavError::TooLong {
            seconds,
            max_seconds: limits.max_seconds,
        }));
    }
    let failed = |e: JsValue| Failed(js_error(e));
    let context = AudioContext::new().map_err(failed)?;
    let buffer: ArrayBuffer = Uint8Array::from(bytes).buffer();
    let decoded = JsFuture::from(context.decode_audio_data(&buffer).map_err(failed)?).await;
    let _ = context.close();
    let decoded: AudioBuffer = decoded.map_err(failed)?.unchecked_into();
    // Checked again on what was decoded (a header can understate), before the channels are
    // copied into the module.
    if decoded.duration() > limits.max_seconds {
        return Err(Refused(WavError::TooLong {
            seconds: decoded.duration(),
            max_seconds: limits.max_seconds,
        }));
    }
    if decoded.number_of_channels() > u32::from(limits.max_channels) {
        return Err(Refused(WavError::TooManyChannels {
            channels: decoded.number_of_channels().min(u32::from(u16::MAX)) as u16,
            max: limits.max_channels,
        }));
    }
    let first = decoded.get_channel_data(0).map_err(failed)?;
    let audio = Audio::mono(decoded.sample_rate().round() as u32, first);
    Ok((audio, decoded.number_of_channels() as usize))
}

/// Why the microphone could not be used; the text is what the page shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MicrophoneError {
    /// Not a secure page: the browser offers no microphone.
    #[error(
        "This page cannot use the microphone here: it needs a secure page (https or localhost)."
    )]
    Insecure,
    /// The user or the browser's settings said no.
    #[error(
        "Microphone access was denied. Allow the microphone for this page in the browser's \
             site settings and try again, or upload a recording instead."
    )]
    Denied,
    /// No microphone.
    #[error("No microphone was found on this device. Upload a recording instead.")]
    NotFound,
    /// Another app holds it.
    #[error(
        "The microphone is in use by another app or could not be started. Close the other \
             app and try again."
    )]
    Busy,
    /// Anything else, with the browser's reason.
    #[error("The microphone could not be started: {0}.")]
    Failed(String),
}

impl From<JsValue> for MicrophoneError {
    fn from(e: JsValue) -> Self {
        let name = e
            .dyn_ref::<web_sys::DomException>()
            .map(|d| d.name())
            .unwrap_or_default();
        match name.as_str() {
            "NotAllowedError" | "SecurityError" => MicrophoneError::Denied,
            "NotFoundError" | "OverconstrainedError" => MicrophoneError::NotFound,
            "NotReadableError" | "AbortError" => MicrophoneError::Busy,
            _ => MicrophoneError::Failed(js_error(e)),
        }
    }
}

/// The page's AudioWorklet module (index.html copies it into the build).
const WORKLET: &str = "recorder-worklet.js";

/// What the microphone delivered so far: the worklet's blocks, as they arrive.
struct Collected {
    samples: Vec<f32>,
    /// The recording's gaps, found block by block.
    gaps: GapTracker,
    /// Peak level of the latest block (0..1).
    level: f32,
    /// The worklet sent its last block.
    finished: bool,
}

/// A recording in progress. The samples are collected on the audio thread by an AudioWorklet
/// (`recorder-worklet.js`) and posted here in blocks, so a busy page loses none of them.
pub struct Recorder {
    context: AudioContext,
    stream: MediaStream,
    node: AudioWorkletNode,
    collected: Rc<RefCell<Collected>>,
    _on_block: Closure<dyn FnMut(MessageEvent)>,
}

impl Recorder {
    /// Asks for the microphone (raw: no echo cancellation, noise suppression or automatic
    /// gain, which would change the machine's sound) and starts collecting samples.
    pub async fn start() -> Result<Self, MicrophoneError> {
        // The audio context first, while the user's tap still counts as a gesture: browsers
        // (Safari on iOS above all) keep a context made later suspended, and silent.
        let context = AudioContext::new()?;
        let _ = context.resume();
        let started = Self::start_in(context.clone()).await;
        if started.is_err() {
            // A refused microphone must not leave an audio context open per attempt.
            let _ = context.close();
        }
        started
    }

    /// The rest of [`Recorder::start`], in the context made for it.
    async fn start_in(context: AudioContext) -> Result<Self, MicrophoneError> {
        let window =
            web_sys::window().ok_or_else(|| MicrophoneError::Failed("no window".into()))?;
        let devices = window
            .navigator()
            .media_devices()
            .map_err(|_| MicrophoneError::Insecure)?;
        // The worklet, its node and its message handler before the microphone, so that none
        // of them failing can leave the microphone on. Their errors are not the microphone's
        // (an AbortError here is a module that failed to load, not a busy microphone).
        let worklet = |e: JsValue| MicrophoneError::Failed(js_error(e));
        let added = context.audio_worklet().and_then(|w| w.add_module(WORKLET));
        JsFuture::from(added.map_err(worklet)?)
            .await
            .map_err(worklet)?;
        // One input, mixed down to mono as the browser mixes channels; one silent output to
        // the speakers, which keeps the node rendering in every browser.
        let options = AudioWorkletNodeOptions::new();
        options.set_number_of_inputs(1);
        options.set_number_of_outputs(1);
        options.set_channel_count(1);
        options.set_channel_count_mode(ChannelCountMode::Explicit);
        let node = AudioWorkletNode::new_with_options(&context, "mimimi-recorder", &options)
            .map_err(worklet)?;
        let collected = Rc::new(RefCell::new(Collected {
            samples: Vec::new(),
            gaps: GapTracker::new(context.sample_rate().round() as u32),
            level: 0.0,
            finished: false,
        }));
        let on_block = {
            let collected = collected.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let mut collected = collected.borrow_mut();
                let Ok(block) = event.data().dyn_into::<js_sys::Float32Array>() else {
                    // `null`: the worklet's last block came before it.
                    collected.finished = true;
                    return;
                };
                let block = block.to_vec();
                collected.level = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                collected.gaps.push(&block);
                collected.samples.extend_from_slice(&block);
            })
        };
        node.port()
            .map_err(worklet)?
            .set_onmessage(Some(on_block.as_ref().unchecked_ref()));
        let constraints = web_sys::MediaStreamConstraints::new();
        let audio = js_sys::Object::new();
        for key in ["echoCancellation", "noiseSuppression", "autoGainControl"] {
            js_sys::Reflect::set(&audio, &key.into(), &false.into()).ok();
        }
        constraints.set_audio(&audio);
        let stream: MediaStream =
            JsFuture::from(devices.get_user_media_with_constraints(&constraints)?)
                .await?
                .unchecked_into();
        let release = |e| {
            stop_tracks(&stream);
            MicrophoneError::from(e)
        };
        let source = context
            .create_media_stream_source(&stream)
            .map_err(release)?;
        source
            .connect_with_audio_node(&node)
            .and_then(|_| node.connect_with_audio_node(&context.destination()))
            .map_err(release)?;
        Ok(Self {
            context,
            stream,
            node,
            collected,
            _on_block: on_block,
        })
    }

    /// Peak level of the latest block (0..1).
    pub fn level(&self) -> f32 {
        self.collected.borrow().level
    }

    /// Seconds of sound recorded so far: without the gaps that [`Recorder::stop`] removes
    /// (see [`GapTracker`]), so that a take recorded for its minimum length is long enough.
    pub fn seconds(&self) -> f64 {
        self.collected.borrow().gaps.kept() as f64 / f64::from(self.context.sample_rate())
    }

    /// Stops the microphone and returns what was recorded, the worklet's part-filled last
    /// block included.
    pub async fn stop(self) -> Audio {
        if let Ok(port) = self.node.port() {
            let _ = port.post_message(&JsValue::NULL);
            // The worklet answers within a few render quanta (3 ms each); a context that no
            // longer renders never answers, so the wait is bounded (the last block is then
            // lost: at most 43 ms).
            for _ in 0..50 {
                if self.collected.borrow().finished {
                    break;
                }
                gloo_timers::future::TimeoutFuture::new(10).await;
            }
            port.set_onmessage(None);
        }
        let _ = self.node.disconnect();
        stop_tracks(&self.stream);
        let rate = self.context.sample_rate().round() as u32;
        let _ = self.context.close();
        let mut collected = self.collected.borrow_mut();
        let mut samples = std::mem::take(&mut collected.samples);
        cut(&mut samples, &collected.gaps.gaps());
        Audio::mono(rate, samples)
    }
}

/// Turns the microphone off (the browser's recording indicator goes out).
fn stop_tracks(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
    }
}
