//! The history of checks, kept on the device: every check with its time, machine, score,
//! threshold, verdict and backend (and its audio if the user opts in). Per machine: a list and
//! a trend of scores over time against the threshold. Export as CSV; delete one check, one
//! machine's checks, or everything.

use crate::Ui;
use crate::analyze::Analysis;
use crate::enroll::Enroll;
use crate::error::{PageError, Said, said_text};
use crate::store;
use crate::widgets::confirm_button;
use leptos::prelude::*;
use mimimi_dsp::Audio;
use mimimi_dsp::wav::{SampleFormat, encode_wav};
use mimimi_model::Call;
use serde::{Deserialize, Serialize};

/// The history's state: the stored checks and what the section shows.
#[derive(Clone, Copy)]
pub struct History {
    /// Stored checks (key, check), oldest first.
    pub checks: RwSignal<Vec<(String, Check)>>,
    /// The machine whose checks are shown.
    pub machine: RwSignal<String>,
    /// Keep each check's audio.
    pub keep_audio: RwSignal<bool>,
    /// What the history says outside its chores: a check that was not saved, a history that
    /// could not be read. A chore clears it.
    pub message: RwSignal<Option<String>>,
    /// Keys of stored checks that could not be read (offered for deletion).
    pub damaged: RwSignal<Vec<String>>,
    /// Checks made since the page loaded (keeps history keys unique).
    made: StoredValue<u32>,
}

impl History {
    /// An empty history ([`load`] fills it).
    pub fn new() -> Self {
        Self {
            checks: RwSignal::new(Vec::new()),
            machine: RwSignal::new(String::new()),
            keep_audio: RwSignal::new(false),
            message: RwSignal::new(None),
            damaged: RwSignal::new(Vec::new()),
            made: StoredValue::new(0),
        }
    }
}

/// One check as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// When (ISO 8601, UTC).
    pub time: String,
    /// The machine as shown ("fan · ID 06", "fan · Pump 3 (enrolled)").
    pub machine: String,
    /// What was checked (file name, "The recording", example).
    pub source: String,
    /// The clip's score.
    pub score: f64,
    /// The threshold it was judged against.
    pub threshold: f64,
    /// The verdict was "anomalous".
    pub anomalous: bool,
    /// The call (absent in checks stored before it existed: normal or anomalous by
    /// `anomalous`).
    #[serde(default)]
    pub call: Option<Call>,
    /// The normal spread of the score, where the rule knows it (the unit of the trend).
    #[serde(default)]
    pub spread: Option<f64>,
    /// The backend that computed it.
    pub backend: String,
    /// Whether its audio is kept (under the same key in the audio store).
    pub audio: bool,
}

impl Check {
    /// "anomalous", "normal" or "cannot tell".
    pub fn verdict_word(&self) -> &'static str {
        match self.call {
            Some(Call::CannotTell) => "cannot tell",
            _ if self.anomalous => "anomalous",
            _ => "normal",
        }
    }
}

/// Records a finished check (and its audio if the user opted in).
pub async fn record(h: History, analysis: &Analysis, source: &str, audio: &Audio) {
    let time: String = js_sys::Date::new_0().to_iso_string().into();
    let n = h.made.get_value() + 1;
    h.made.set_value(n);
    // Time first so that keys sort chronologically; the counter keeps them unique.
    let key = format!("{time}#{n:04}");
    let keep_audio = h.keep_audio.get_untracked();
    let check = Check {
        time,
        machine: analysis.machine.clone(),
        source: source.to_string(),
        score: analysis.verdict.score,
        threshold: analysis.verdict.threshold,
        anomalous: analysis.verdict.anomalous(),
        call: Some(analysis.verdict.call),
        spread: analysis.verdict.spread,
        backend: crate::backend::ran_on(analysis.backend).to_string(),
        audio: keep_audio,
    };
    let mut result = store::put_json(store::HISTORY, &key, &check).await;
    if keep_audio && result.is_ok() {
        result =
            store::put_bytes(store::AUDIO, &key, &encode_wav(audio, SampleFormat::Pcm16)).await;
    }
    match result {
        Ok(()) => {
            h.checks.update(|h| h.push((key, check.clone())));
            h.machine.set(check.machine);
            if let Some(note) = store::ask_persistence().await {
                h.message.set(Some(note));
            }
        }
        Err(e) => h
            .message
            .set(Some(format!("This check was not saved: {e}"))),
    }
}

/// Loads the stored history at start-up.
pub async fn load(h: History) {
    match store::all_json::<Check>(store::HISTORY).await {
        Ok((checks, damaged)) => {
            h.damaged.set(damaged);
            if let Some((_, last)) = checks.last() {
                h.machine.set(last.machine.clone());
            }
            h.checks.set(checks);
        }
        Err(e) => h.message.set(Some(e.to_string())),
    }
}

/// A text field of the CSV: one that a spreadsheet would read as a formula (it starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return: a file named `=HYPERLINK(…).wav`) gets a
/// leading `'`, and one with a separator, a quote or a line break is quoted.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The checks as CSV, oldest first.
pub fn csv(checks: &[(String, Check)]) -> String {
    let mut out = String::from("time,machine,source,score,threshold,verdict,backend\n");
    for (_, c) in checks {
        out += &format!(
            "{},{},{},{},{},{},{}\n",
            c.time,
            csv_field(&c.machine),
            csv_field(&c.source),
            c.score,
            c.threshold,
            c.verdict_word(),
            csv_field(&c.backend)
        );
    }
    out
}

/// What the user asks of the history.
#[derive(Clone)]
pub(crate) enum Chore {
    /// Offer a kept clip (by its check's key) as a WAV download.
    SaveAudio(String),
    /// Delete the checks with these keys, and their audio.
    Delete(Vec<String>),
    /// Delete the stored checks that could not be read.
    DeleteDamaged,
    /// Delete every stored profile, kept take, check and audio.
    ClearAll,
}

/// The history's chores, one Leptos action (the root provides it as context): `value` is
/// what the last chore said, shown in the section, and `version` counts the chores done
/// (`main[data-finished]`).
pub(crate) type Chores = Action<Chore, Said>;

/// The history's chores action.
pub(crate) fn chores(ui: Ui, h: History, enroll: Enroll) -> Chores {
    Action::new_local(move |chore: &Chore| {
        let chore = chore.clone();
        h.message.set(None);
        async move {
            match chore {
                Chore::SaveAudio(key) => save_audio(&key).await.map(|()| None),
                Chore::Delete(keys) => delete_keys(h, &keys).await.map(|()| None),
                Chore::DeleteDamaged => delete_damaged(h).await.map(|()| None),
                Chore::ClearAll => clear_all(ui, h, enroll).await.map(Some),
            }
        }
    })
}

/// Deletes the checks with these keys (and their audio).
async fn delete_keys(h: History, keys: &[String]) -> Result<(), PageError> {
    for key in keys {
        store::delete(store::HISTORY, key).await?;
        store::delete(store::AUDIO, key).await?;
    }
    h.checks.update(|h| h.retain(|(k, _)| !keys.contains(k)));
    Ok(())
}

/// Deletes the stored checks that could not be read (and any audio kept with them).
async fn delete_damaged(h: History) -> Result<(), PageError> {
    let keys = h.damaged.get_untracked();
    delete_keys(h, &keys).await?;
    h.damaged.update(|d| d.retain(|k| !keys.contains(k)));
    Ok(())
}

/// Offers a kept clip as a WAV download.
async fn save_audio(key: &str) -> Result<(), PageError> {
    let bytes = store::get_bytes(store::AUDIO, key)
        .await?
        .ok_or_else(|| PageError::Gone("That check's audio".into()))?;
    let name = format!(
        "mimimi-check-{}.wav",
        key.get(..19).unwrap_or(key).replace(':', "-")
    );
    store::download(&name, "audio/wav", &bytes);
    Ok(())
}

/// Scores over time as a small SVG on the result view's scale ([`crate::widgets::scale_position`]),
/// the threshold as a dashed line, anomalous checks in red.
fn trend(checks: &[(String, Check)]) -> impl IntoView + use<> {
    let (w, h) = (300.0, 80.0);
    let n = checks.len();
    let y = |c: &Check| {
        h - 4.0 - crate::widgets::scale_position(c.score, c.threshold, c.spread) * (h - 8.0)
    };
    let x = |i: usize| {
        if n <= 1 {
            w / 2.0
        } else {
            6.0 + i as f64 * (w - 12.0) / (n - 1) as f64
        }
    };
    let points: Vec<(f64, f64, bool)> = checks
        .iter()
        .enumerate()
        .map(|(i, (_, c))| (x(i), y(c), c.anomalous))
        .collect();
    let line: String = points
        .iter()
        .map(|(x, y, _)| format!("{x:.1},{y:.1} "))
        .collect();
    view! {
        <svg id="trend" viewBox=format!("0 0 {w} {h}") preserveAspectRatio="none" role="img"
            aria-label=format!("Scores of {n} checks over time against the threshold")>
            <line class="threshold" x1="0" x2=w y1=h / 2.0 y2=h / 2.0></line>
            <polyline class="trend-line" points=line></polyline>
            {points.into_iter().map(|(x, y, bad)| view! {
                <circle class=if bad { "dot bad" } else { "dot ok" } cx=x cy=y r="3"></circle>
            }).collect_view()}
        </svg>
    }
}

/// The history section.
pub fn panel() -> impl IntoView {
    let h = expect_context::<History>();
    let chores = expect_context::<Chores>();
    // What the history says outside its chores, else what the last chore said.
    let message = move || {
        h.message.get().or_else(|| {
            chores
                .value()
                .with(|said| said.as_ref().and_then(said_text))
        })
    };
    let machines = move || {
        let mut m: Vec<String> = h.checks.get().into_iter().map(|(_, c)| c.machine).collect();
        m.sort();
        m.dedup();
        m
    };
    let shown = move || {
        let machine = h.machine.get();
        h.checks
            .get()
            .into_iter()
            .filter(|(_, c)| c.machine == machine)
            .collect::<Vec<_>>()
    };
    view! {
        <section aria-label="History" class="card" id="history">
            <h2>"History"</h2>
            <label class="small"><input id="history-keep-audio" type="checkbox"
                prop:checked=move || h.keep_audio.get()
                on:change=move |ev| h.keep_audio.set(event_target_checked(&ev)) />
                " Also keep the audio of each check on this device"</label>
            {move || if h.checks.get().is_empty() {
                view! { <p class="small" id="history-empty">"No checks yet. Every check is kept here, on this device only."</p> }.into_any()
            } else {
                view! {
                    <div class="row">
                        <label>"Machine "
                            <select id="history-machine" prop:value=move || h.machine.get()
                                on:change=move |ev| h.machine.set(event_target_value(&ev))>
                                {machines().into_iter().map(|m| view! { <option value=m.clone()>{m.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                    </div>
                    {move || trend(&shown())}
                    <ol id="history-list" reversed>
                        {move || shown().into_iter().rev().map(|(key, c)| {
                            let (del, audio_key) = (key.clone(), key.clone());
                            view! {
                                <li class=if c.anomalous { "bad" } else { "ok" }>
                                    {format!("{} · {} · {} · {} · {} ",
                                        c.time.get(..19).unwrap_or(&c.time).replace('T', " "),
                                        match c.verdict_word() { "anomalous" => "sounds wrong", w => w },
                                        c.source, crate::widgets::distance_text(c.score, c.threshold, c.spread), c.backend)}
                                    {c.audio.then(|| view! {
                                        <button class="link history-audio" on:click=move |_| { chores.dispatch_local(Chore::SaveAudio(audio_key.clone())); }>"audio"</button>
                                    })}
                                    {confirm_button(None, "link history-delete", "delete", "delete? press again",
                                        move || { chores.dispatch_local(Chore::Delete(vec![del.clone()])); })}
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                    <div class="inputs">
                        <button id="history-csv" class="secondary"
                            on:click=move |_| store::download("mimimi-history.csv", "text/csv", csv(&h.checks.get_untracked()).as_bytes())>
                            "Export CSV"</button>
                        {confirm_button(Some("history-delete-machine"), "secondary", "Delete this machine's checks",
                            "Really delete this machine's checks? Press again",
                            move || { chores.dispatch_local(Chore::Delete(shown().into_iter().map(|(k, _)| k).collect())); })}
                    </div>
                }.into_any()
            }}
            {move || message().map(|m| view! { <p class="small" role="status" id="history-message">{m}</p> })}
            {move || (!h.damaged.get().is_empty()).then(|| view! {
                <p id="history-damaged" class="small" role="status">
                    {format!("{} stored check(s) could not be read and were skipped. ", h.damaged.get().len())}
                    {confirm_button(Some("history-delete-damaged"), "link", "delete them",
                        "delete the unreadable checks? press again",
                        move || { chores.dispatch_local(Chore::DeleteDamaged); })}
                </p>
            })}
            <h3>"Data on this device"</h3>
            <p class="small">"Enrolled machines, kept takes and the history stay in this browser until you delete them."</p>
            {confirm_button(Some("clear-data"), "stop", "Delete all data on this device",
                "Really delete everything? Press again", move || { chores.dispatch_local(Chore::ClearAll); })}
        </section>
    }
}

/// Deletes every stored profile, kept take, check and audio.
async fn clear_all(ui: Ui, h: History, enroll: Enroll) -> Result<String, PageError> {
    for s in store::ALL {
        store::clear(s).await?;
    }
    h.checks.set(Vec::new());
    h.damaged.set(Vec::new());
    ui.profiles.set(Vec::new());
    enroll.forget();
    let dir = ui.machine_type.get_untracked();
    ui.select(&dir, None);
    Ok("All data on this device was deleted.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let c = Check {
            time: "2026-11-30T01:00:00.000Z".into(),
            machine: "fan · Pump \"3\", hall B (enrolled)".into(),
            source: "a.wav".into(),
            score: 0.5,
            threshold: 1.0,
            anomalous: false,
            call: None,
            spread: None,
            backend: "CPU".into(),
            audio: false,
        };
        let text = csv(&[("k".into(), c)]);
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "2026-11-30T01:00:00.000Z,\"fan · Pump \"\"3\"\", hall B (enrolled)\",a.wav,0.5,1,normal,CPU"
        );
    }

    #[test]
    fn csv_fields_never_become_formulas() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for s in ["+1", "-2", "@SUM(A1)", "\tx"] {
            assert_eq!(csv_field(s), format!("'{s}"));
        }
        assert_eq!(csv_field("a\rb"), "\"a\rb\"");
        assert_eq!(csv_field("take 1.wav"), "take 1.wav");
    }
}
