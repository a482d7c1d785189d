//! Recording from the microphone, for a check or an enrollment take: this module owns the
//! recording in progress; what the audio is for is its caller's business.

use crate::Ui;
use crate::fetch::now_ms;
use crate::input::{MicrophoneError, Recorder};
use leptos::prelude::*;
use mimimi_dsp::Audio;
use std::cell::RefCell;

/// The recording in progress, and whether the user pressed Stop.
#[derive(Default)]
struct Recording {
    recorder: Option<Recorder>,
    stop_requested: bool,
}

thread_local! {
    static RECORDING: RefCell<Recording> = RefCell::new(Recording::default());
}

fn recording<R>(f: impl FnOnce(&mut Recording) -> R) -> R {
    RECORDING.with(|r| f(&mut r.borrow_mut()))
}

/// Waits `ms` milliseconds without blocking the page.
pub(crate) async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// The user pressed Stop: [`record`] ends the recording at its next look.
pub(crate) fn stop() {
    recording(|r| r.stop_requested = true);
}

/// Records from the microphone for the chosen duration (or until stopped) and returns the
/// audio, or why the microphone could not be used.
pub(crate) async fn record(ui: Ui) -> Result<Audio, MicrophoneError> {
    let recorder = Recorder::start().await?;
    let target = ui.duration.get_untracked();
    recording(|r| {
        r.recorder = Some(recorder);
        r.stop_requested = false;
    });
    let start = now_ms();
    loop {
        let state = recording(|r| {
            let rec = r.recorder.as_ref()?;
            Some((rec.seconds(), rec.level(), r.stop_requested))
        });
        let Some((seconds, level, stop)) = state else {
            break;
        };
        ui.recording.set(Some((seconds, target, level)));
        if stop || seconds >= target || (now_ms() - start) / 1000.0 > target + 5.0 {
            break;
        }
        sleep_ms(100).await;
    }
    ui.recording.set(None);
    let recorder = recording(|r| r.recorder.take())
        .ok_or_else(|| MicrophoneError::Failed("the recording was lost".into()))?;
    Ok(recorder.stop().await)
}
