//! Sound in: a file (WAV through Mimimi's own decoder, anything else the browser can decode
//! through the Web Audio API) or the microphone (raw samples, with a live level).

use crate::fetch::js_error;
use js_sys::{ArrayBuffer, Uint8Array};
use mimimi_dsp::{Audio, DecodeLimits, WavError, decode_wav_channel};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AudioBuffer, AudioContext, AudioProcessingEvent, MediaStream, ScriptProcessorNode};

/// The largest file the page reads (a 1-hour 16-bit stereo WAV at 48 kHz is 690 MB).
pub const MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;

/// True if `bytes` start like a WAV file.
fn is_wav(bytes: &[u8]) -> bool {
    bytes.len() >= 12
        && (&bytes[..4] == b"RIFF" || &bytes[..4] == b"RF64")
        && &bytes[8..12] == b"WAVE"
}

/// Decodes a file: WAV by Mimimi's decoder (exact samples, clear errors), any other format by
/// the browser. Only the first channel (the one checked) is kept; returns it as mono audio and
/// how many channels the file has. `name` only words the error.
pub async fn decode_file(name: &str, bytes: Vec<u8>) -> Result<(Audio, usize), String> {
    if bytes.is_empty() {
        return Err(format!("{name} is empty (0 bytes)."));
    }
    let looks_wav = name.to_ascii_lowercase().ends_with(".wav");
    if is_wav(&bytes) || looks_wav {
        let decoded = decode_wav_channel(&bytes, 0, &DecodeLimits::default());
        return decoded
            .map(|(a, n)| (a, usize::from(n)))
            .map_err(|e| match e {
                // A readable file the page will not take: say why, not that it is damaged.
                WavError::TooLong { .. } | WavError::TooManyChannels { .. } => {
                    format!("{name}: {e}.")
                }
                _ => format!("{name} is not a readable WAV file: {e}."),
            });
    }
    decode_with_browser(&bytes).await.map_err(|e| match e {
        BrowserDecodeError::Refused(e) => format!("{name}: {e}."),
        BrowserDecodeError::RefusedUndecoded(e) => {
            format!("{name}: {e} (from its header: nothing was decoded).")
        }
        BrowserDecodeError::UnknownLength => format!(
            "{name}: this browser cannot tell how long the recording is without decoding all of \
             it, so it is not opened. Save it as WAV (or MP3, M4A, OGG) and try again."
        ),
        BrowserDecodeError::Failed(e) => {
            format!("{name} could not be decoded as audio by this browser ({e}).")
        }
    })
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

/// Why the microphone could not be used, in words for the user.
pub fn microphone_error(e: JsValue) -> String {
    let name = e
        .dyn_ref::<web_sys::DomException>()
        .map(|d| d.name())
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "SecurityError" => "Microphone access was denied. Allow the \
            microphone for this page in the browser's site settings and try again, or upload a \
            recording instead."
            .into(),
        "NotFoundError" | "OverconstrainedError" => {
            "No microphone was found on this device. Upload a recording instead.".into()
        }
        "NotReadableError" | "AbortError" => "The microphone is in use by another app or could \
            not be started. Close the other app and try again."
            .into(),
        _ => format!("The microphone could not be started: {}.", js_error(e)),
    }
}

/// A recording in progress.
pub struct Recorder {
    context: AudioContext,
    stream: MediaStream,
    processor: ScriptProcessorNode,
    samples: Rc<RefCell<Vec<f32>>>,
    level: Rc<RefCell<f32>>,
    _on_audio: Closure<dyn FnMut(AudioProcessingEvent)>,
}

impl Recorder {
    /// Asks for the microphone (raw: no echo cancellation, noise suppression or automatic
    /// gain, which would change the machine's sound) and starts collecting samples.
    pub async fn start() -> Result<Self, String> {
        // The audio context first, while the user's tap still counts as a gesture: browsers
        // (Safari on iOS above all) keep a context made later suspended, and silent.
        let context = AudioContext::new().map_err(js_error)?;
        let _ = context.resume();
        let window = web_sys::window().ok_or("no window")?;
        let devices = window.navigator().media_devices().map_err(|_| {
            "This page cannot use the microphone here: it needs a secure page (https or \
             localhost)."
                .to_string()
        })?;
        let constraints = web_sys::MediaStreamConstraints::new();
        let audio = js_sys::Object::new();
        for key in ["echoCancellation", "noiseSuppression", "autoGainControl"] {
            js_sys::Reflect::set(&audio, &key.into(), &false.into()).ok();
        }
        constraints.set_audio(&audio);
        let stream: MediaStream = JsFuture::from(
            devices
                .get_user_media_with_constraints(&constraints)
                .map_err(microphone_error)?,
        )
        .await
        .map_err(microphone_error)?
        .unchecked_into();
        let source = context
            .create_media_stream_source(&stream)
            .map_err(js_error)?;
        let processor = context
            .create_script_processor_with_buffer_size_and_number_of_input_channels_and_number_of_output_channels(
                4096, 1, 1,
            )
            .map_err(js_error)?;
        let samples = Rc::new(RefCell::new(Vec::new()));
        let level = Rc::new(RefCell::new(0.0f32));
        let on_audio = {
            let (samples, level) = (samples.clone(), level.clone());
            Closure::<dyn FnMut(AudioProcessingEvent)>::new(move |event: AudioProcessingEvent| {
                if let Some(chunk) = event
                    .input_buffer()
                    .ok()
                    .and_then(|buffer| buffer.get_channel_data(0).ok())
                {
                    let peak = chunk.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    *level.borrow_mut() = peak;
                    samples.borrow_mut().extend_from_slice(&chunk);
                }
            })
        };
        processor.set_onaudioprocess(Some(on_audio.as_ref().unchecked_ref()));
        source
            .connect_with_audio_node(&processor)
            .map_err(js_error)?;
        processor
            .connect_with_audio_node(&context.destination())
            .map_err(js_error)?;
        Ok(Self {
            context,
            stream,
            processor,
            samples,
            level,
            _on_audio: on_audio,
        })
    }

    /// Peak level of the latest block (0..1).
    pub fn level(&self) -> f32 {
        *self.level.borrow()
    }

    /// Seconds recorded so far.
    pub fn seconds(&self) -> f64 {
        self.samples.borrow().len() as f64 / f64::from(self.context.sample_rate())
    }

    /// Stops the microphone and returns what was recorded.
    pub fn stop(self) -> Audio {
        self.processor.set_onaudioprocess(None);
        let _ = self.processor.disconnect();
        for track in self.stream.get_tracks().iter() {
            track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
        }
        let rate = self.context.sample_rate().round() as u32;
        let _ = self.context.close();
        let samples = std::mem::take(&mut *self.samples.borrow_mut());
        Audio::mono(rate, samples)
    }
}
