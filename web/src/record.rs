//! Recording from the microphone, for a check or an enrollment take.

use crate::analyze::Clip;
use crate::check::check;
use crate::fetch::now_ms;
use crate::{Ui, enroll, input, runtime};
use leptos::prelude::*;

/// Waits `ms` milliseconds without blocking the page.
pub(crate) async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// What a recording is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Check it against the selected machine.
    Check,
    /// Add it to the enrollment takes.
    Enroll,
}

/// Records from the microphone for the chosen duration (or until stopped), then checks it or
/// adds it to the enrollment.
pub(crate) async fn record(ui: Ui, purpose: Purpose) {
    ui.error.set(None);
    let recorder = match input::Recorder::start().await {
        Ok(r) => r,
        Err(e) => {
            ui.finish(Err(e.into()));
            return;
        }
    };
    let target = ui.duration.get_untracked();
    runtime(|r| {
        r.recorder = Some(recorder);
        r.stop_requested = false;
    });
    let start = now_ms();
    loop {
        let state = runtime(|r| {
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
    let Some(recorder) = runtime(|r| r.recorder.take()) else {
        return;
    };
    let audio = recorder.stop();
    match purpose {
        Purpose::Check => {
            let source = "The recording".into();
            check(
                ui,
                Clip {
                    channels: audio.channels.len(),
                    audio,
                    source,
                    decode_ms: 0.0,
                },
            )
            .await
        }
        Purpose::Enroll => {
            let n = ui.takes.get_untracked().len() + 1;
            enroll::add_take(ui, audio, format!("Recorded take {n}")).await;
        }
    }
}
