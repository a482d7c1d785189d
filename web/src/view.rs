//! The page's sections: machine choice, input, status, result (the verdict view), backend.
//! Views over the [`Ui`] signals; the work they start lives in [`crate::check`] and
//! [`crate::record`].

use crate::Ui;
use crate::analyze::{Analysis, Picture};
use crate::backend::{Choice, selftest};
use crate::check::{Checks, Source};
use crate::engine::forget_engine;
use crate::selection::Selection;
use crate::widgets::{distance_text, recording_controls, scale_position};
use leptos::html::Canvas;
use leptos::prelude::*;
use leptos::task::spawn_local;
use mimimi_model::Call;
use wasm_bindgen::{Clamped, JsCast};

/// Machine type and ID.
pub fn machine_picker(ui: Ui) -> impl IntoView {
    view! {
        <section aria-label="Machine" class="card">
            <h2>"1. Machine"</h2>
            <div class="row">
                <label>"Type "
                    <select id="machine-type" prop:value=move || ui.machine_type.get()
                        on:change=move |ev| ui.select(&event_target_value(&ev), None)>
                        {move || ui.entries.get().into_iter().map(|e| {
                            let dir = e.dir.clone();
                            view! { <option value=dir>{e.machine_type.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Machine ID "
                    <select id="machine-id" prop:value=move || ui.id.get().value()
                        on:change=move |ev| ui.id.set(Selection::parse(&event_target_value(&ev)))>
                        {move || {
                            let dir = ui.machine_type.get();
                            let entry = ui.entries.get().into_iter().find(|e| e.dir == dir);
                            let machine_type = entry.as_ref().map(|e| e.machine_type.clone()).unwrap_or_default();
                            let ids = entry.map(|e| e.classes).unwrap_or_default()
                                .into_iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> })
                                .collect_view();
                            let enrolled = ui.profiles.get().into_iter()
                                .filter(|p| p.machine_type == machine_type)
                                .map(|p| view! {
                                    <option value=Selection::Enrolled(p.name.clone()).value()>{format!("{} (enrolled)", p.name)}</option>
                                })
                                .collect_view();
                            view! {
                                <optgroup label="Synthetic test machines">{ids}</optgroup>
                                <optgroup label="Your machines">{enrolled}</optgroup>
                            }
                        }}
                    </select>
                </label>
            </div>
            {move || ui.download.get().map(|(loaded, total)| view! {
                <p>
                    <label for="model-progress">"Downloading the model… "</label>
                    <progress id="model-progress" max={total.unwrap_or(0) as f64} value={loaded as f64}></progress>
                    {format!(" {:.1} MB", loaded as f64 / 1e6)}
                </p>
            })}
            <p class="small" id="model-line">{move || ui.model_line.get()}</p>
            <p class="small" id="machine-note">{move || if matches!(ui.id.get(), Selection::Enrolled(_)) {
                "Judged against this machine's own normal sound, learnt from its enrollment takes."
            } else {
                "The bundled IDs are Mimimi's synthetic test machines: a real machine needs to be enrolled first (New machine, below)."
            }}</p>
        </section>
    }
}

/// Upload, record, examples.
pub fn input_panel(ui: Ui) -> impl IntoView {
    let checks = expect_context::<Checks>();
    let idle =
        move || !checks.pending().get() && ui.busy.get().is_none() && ui.recording.get().is_none();
    view! {
        <section aria-label="Sound" class="card">
            <h2>"2. Sound"</h2>
            <div class="inputs">
                <label class="button" for="file-input">"Upload a recording"</label>
                <input id="file-input" type="file" accept="audio/*,.wav,.mp3,.ogg,.webm,.m4a,.flac"
                    class="visually-hidden"
                    prop:disabled=move || !idle()
                    on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = event_target(&ev);
                        if let Some(file) = input.files().and_then(|f| f.get(0)) {
                            checks.dispatch_local(Source::File(file));
                        }
                        input.set_value("");
                    } />
                {move || match ui.recording.get() {
                    None => view! {
                        <button id="record" prop:disabled=move || !idle()
                            on:click=move |_| { checks.dispatch_local(Source::Microphone); }>"Record"</button>
                    }.into_any(),
                    Some(state) => recording_controls(state, "stop", "level").into_any(),
                }}
                <label class="small">"Length "
                    <input id="duration" type="number" min="3" max="60" step="1" inputmode="numeric"
                        prop:value=move || ui.duration.get().to_string()
                        on:change=move |ev| {
                            let v = event_target_value(&ev).parse::<f64>().unwrap_or(10.0);
                            ui.duration.set(v.clamp(3.0, 60.0));
                        } />
                    " s"
                </label>
            </div>
            <p class="small">"Hold the phone still, 10–30 cm from the machine, pointing at it; avoid talking."</p>
            {move || {
                let examples = ui.examples.get();
                (!examples.is_empty()).then(|| view! {
                    <details class="examples">
                        <summary>"Try a built-in example (synthetic machines)"</summary>
                        <div class="example-list">
                            {examples.into_iter().map(|ex| {
                                let label = ex.label.clone();
                                view! {
                                    <button class="example" prop:disabled=move || !idle()
                                        on:click=move |_| { checks.dispatch_local(Source::Example(ex.clone())); }>{label}</button>
                                }
                            }).collect_view()}
                        </div>
                    </details>
                })
            }}
        </section>
    }
}

/// Progress and errors: the page's own error, else the last check's (none while a check
/// runs).
pub fn status(ui: Ui) -> impl IntoView {
    let checks = expect_context::<Checks>();
    let error = move || {
        // A check's error goes when the next check starts, as the page's own error does.
        ui.error.get().or_else(|| {
            if checks.pending().get() {
                return None;
            }
            checks.value().with(|outcome| {
                outcome
                    .as_ref()
                    .and_then(|o| o.as_ref().err())
                    .map(ToString::to_string)
            })
        })
    };
    view! {
        <div aria-live="polite" id="status">
            {move || ui.busy.get().map(|(label, fraction)| view! {
                <p class="busy"><progress max="1" value={fraction} aria-label="Progress"></progress>" "{label}</p>
            })}
        </div>
        <div role="alert" id="error-box">
            {move || error().map(|e| view! { <p class="error" id="error">{e}</p> })}
        </div>
    }
}

fn draw(canvas: &web_sys::HtmlCanvasElement, picture: &Picture) {
    canvas.set_width(picture.width as u32);
    canvas.set_height(picture.height as u32);
    let Ok(Some(ctx)) = canvas.get_context("2d") else {
        return;
    };
    let ctx: web_sys::CanvasRenderingContext2d = ctx.unchecked_into();
    if let Ok(image) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        Clamped(&picture.rgba),
        picture.width as u32,
        picture.height as u32,
    ) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}

/// A score or threshold with six significant digits: a trained model's scores run from 1e-7
/// to 10, and fixed decimals would print the small ones as 0.000001.
fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if (-3..6).contains(&magnitude) {
        format!("{x:.*}", (5 - magnitude).max(0) as usize)
    } else {
        format!("{x:.5e}")
    }
}

/// ", clearly" / "" / ", only just: …" after a distance.
fn with_sureness(margin: Option<f64>) -> String {
    match sureness(margin) {
        "" => String::new(),
        s => format!(", {s}"),
    }
}

/// How sure a call is, from its margin in normal spreads.
fn sureness(margin: Option<f64>) -> &'static str {
    match margin.map(f64::abs) {
        Some(m) if m >= 2.0 => "clearly",
        Some(m) if m < 0.5 => "only just: check again to be sure",
        _ => "",
    }
}

fn timeline(a: &Analysis) -> impl IntoView + use<> {
    let (w, h) = (600.0, 80.0);
    let threshold = a.verdict.threshold;
    let bars = a
        .window_scores
        .iter()
        .zip(&a.window_spans)
        .enumerate()
        .map(|(i, (&s, &(t0, t1)))| {
            let x = t0 / a.seconds.max(1e-9) * w;
            let width = ((t1 - t0) / a.seconds.max(1e-9) * w).max(2.0);
            let height = scale_position(s, threshold, a.verdict.spread) * h;
            // A clip the model cannot tell about has no faulty parts either: its bars are grey.
            let class = match a.verdict.call {
                Call::CannotTell => "bar unsure",
                _ if s > threshold => "bar bad",
                _ => "bar ok",
            };
            view! {
                <rect class=class x={format!("{x:.1}")} y={format!("{:.1}", h - height)}
                    width={format!("{:.1}", width * 0.9)} height={format!("{height:.1}")}>
                    <title>{format!("window {} ({t0:.1}–{t1:.1} s): score {s:.4}", i + 1)}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <svg id="timeline" viewBox={format!("0 0 {w} {h}")} preserveAspectRatio="none" role="img"
            aria-label="Score of each part of the clip; red parts sounded wrong">
            {bars}
            <line class="threshold" x1="0" x2={w} y1={h / 2.0} y2={h / 2.0}></line>
        </svg>
    }
}

/// The verdict, the score on its scale, the timeline, the pictures, the timings.
pub fn result() -> impl IntoView {
    let checks = expect_context::<Checks>();
    // The last check's analysis; none after a failed check (an old verdict beside a new
    // error would read as the new clip's). Cloned only to build the view: it holds the
    // pictures' pixels, which the canvases and the section's visibility read in place.
    let analysis = move || {
        checks
            .value()
            .with(|o| o.as_ref().and_then(|o| o.as_ref().ok()).cloned())
    };
    let shown = move || checks.value().with(|o| matches!(o, Some(Ok(_))));
    let magnitude = NodeRef::<Canvas>::new();
    let phase = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let (Some(m), Some(p)) = (magnitude.get(), phase.get()) {
            checks.value().with(|o| {
                if let Some(Ok(a)) = o {
                    draw(&m, &a.magnitude);
                    draw(&p, &a.phase);
                }
            });
        }
    });
    view! {
        <section aria-label="Result" class="card" id="result" aria-live="polite"
            style:display=move || if shown() { "block" } else { "none" }>
            {move || analysis().map(|a| {
                let v = a.verdict;
                let distance = distance_text(v.score, v.threshold, v.spread);
                let agreeing = format!("{} of {} parts agree.", v.windows_agreeing, v.windows);
                let (class, word, call, explanation) = match v.call {
                    Call::Anomalous => ("verdict bad", "Sounds wrong", "anomalous", format!(
                        "The clip lies {distance}{}. {agreeing} It sounds unlike this machine's normal sound: inspect the machine.",
                        with_sureness(v.margin()))),
                    Call::Normal => ("verdict ok", "Sounds normal", "normal", format!(
                        "The clip lies {distance}{}: within this machine's normal sound. {agreeing}",
                        with_sureness(v.margin()))),
                    Call::CannotTell => {
                        let (deviation, limit) = v.envelope.unwrap_or((f64::NAN, f64::NAN));
                        ("verdict unsure", "Cannot tell", "cannot_tell", format!(
                            "The sound's spectrum lies {deviation:.1} dB from this machine's normal sound (normal clips stay within {limit:.1} dB): this is not the sound the model knows, so any verdict would be a guess. Check that the phone is 10–30 cm from the right machine, at the usual spot, with nothing covering the microphone, and check again."))
                    }
                };
                let scale_note = if v.spread.is_some() {
                    "scale: ±6 normal spreads around the threshold"
                } else {
                    "scale: ÷100 … ×100 of the threshold"
                };
                view! {
                    <h2>"3. Result"</h2>
                    <p class=class id="verdict" data-anomalous={v.anomalous().to_string()} data-call=call>{word}</p>
                    <p>{format!("{} — ", a.machine)}{explanation}</p>
                    <div class="scale" role="img"
                        aria-label={format!("Score {:.4} against threshold {:.4}", v.score, v.threshold)}>
                        <div class="marker" style:left={format!("{:.1}%", 100.0 * scale_position(v.score, v.threshold, v.spread))}></div>
                        <div class="threshold-mark"></div>
                    </div>
                    <p class="small" id="confidence" data-margin={v.margin().map(|m| format!("{m:.3}")).unwrap_or_default()}
                        data-agreeing={v.windows_agreeing.to_string()} data-windows={v.windows.to_string()}>
                        "Score " <output id="score">{significant(v.score)}</output>
                        " · threshold " <output id="threshold">{significant(v.threshold)}</output>
                        {v.margin().map(|m| format!(" · margin {m:+.1} normal spreads"))}
                        {format!(" · {} of {} parts on the same side", v.windows_agreeing, v.windows)}
                        {format!(" ({scale_note})")}
                    </p>
                    <h3>"Over time"</h3>
                    {timeline(&a)}
                    {a.notes.iter().map(|n| view! { <p class="small note">{n.clone()}</p> }).collect_view()}
                    <p class="small" id="timings">{format!(
                        "{:.1} s of audio · decode {:.0} ms · STFT {:.0} ms · score {:.0} ms on {}",
                        a.seconds, a.timings.decode_ms, a.timings.stft_ms, a.timings.inference_ms, crate::backend::ran_on(a.backend)
                    )}</p>
                }
            })}
            <details open>
                <summary>"Spectrogram and phase"</summary>
                <p class="small">"Magnitude (dB, 80 dB range), 0–8 kHz from bottom to top"</p>
                <canvas node_ref=magnitude class="picture" aria-label="Magnitude spectrogram"></canvas>
                <p class="small">"Phase: instantaneous-frequency deviation (blue below, red above the bin's centre; steady tones are flat bands)"</p>
                <canvas node_ref=phase class="picture" aria-label="Phase view"></canvas>
            </details>
        </section>
    }
}

/// The backend in use, with a menu to force one.
pub fn backend_panel(ui: Ui) -> impl IntoView {
    view! {
        <section aria-label="Compute backend" class="card small" id="backend">
            <label>"Compute on "
                <select id="backend-choice" prop:value=move || ui.choice.get().value()
                    on:change=move |ev| {
                        ui.choice.set(Choice::parse(&event_target_value(&ev)));
                        // Chosen again before the next check.
                        forget_engine();
                        ui.backend.set(None);
                    }>
                    <option value="auto">"Automatic (GPU if it works)"</option>
                    <option value="webgpu">"WebGPU"</option>
                    <option value="cpu">"CPU"</option>
                </select>
            </label>
            {move || match ui.backend.get() {
                None => view! { <p id="backend-name">"Backend: chosen at the first check"</p> }.into_any(),
                Some((label, detail, technical)) => view! {
                    <p id="backend-name">"Backend: " <strong>{label}</strong></p>
                    <p id="backend-detail">{detail}</p>
                    {technical.map(|t| view! {
                        <details><summary>"Technical details"</summary><p id="backend-technical">{t}</p></details>
                    })}
                }.into_any(),
            }}
        </section>
    }
}

/// `?selftest`: the reference network on the reference clip, CPU and WebGPU.
pub fn selftest_panel() -> impl IntoView {
    let result = RwSignal::new(None);
    spawn_local(async move { result.set(Some(selftest().await)) });
    let fmt = |r: &Result<f64, String>| match r {
        Ok(s) => format!("{s:.8}"),
        Err(e) => format!("— ({e})"),
    };
    view! {
        <section class="card small" aria-label="Self-test">
            <h2>"Reference self-test"</h2>
            {move || match result.get() {
                None => view! { <p>"Running…"</p> }.into_any(),
                Some(r) => view! {
                    <p>"Reference network, 10 s clip, class 1: CPU "
                        <output id="selftest-cpu">{fmt(&r.cpu)}</output>
                        ", WebGPU " <output id="selftest-gpu">{fmt(&r.gpu)}</output></p>
                }.into_any(),
            }}
        </section>
    }
}
