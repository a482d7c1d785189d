//! Enrolling a machine the bundled models never heard: the technician records (or uploads) a
//! few clips of it running normally, each take is checked for length, level and clipping, and
//! the default members of a combined score are fitted to every window of the takes: the
//! machine's profile ([`mimimi_model::profile`]), kept on the device. Profiles can be saved to
//! a file and loaded on another phone; a profile made with another model or by an older
//! version of Mimimi is refused, or rebuilt from its kept clips.

use crate::Ui;
use crate::analyze::{Clip, evidence, prepare};
use crate::engine::{open_entry, with_compute};
use crate::error::{PageError, Said, said_text};
use crate::record::record;
use crate::selection::Selection;
use crate::store;
use leptos::prelude::*;
use mimimi_dsp::quality::QualityConfig;
use mimimi_dsp::wav::{SampleFormat, encode_wav};
use mimimi_dsp::{Audio, decode_wav};
use mimimi_model::combined::default_members;
use mimimi_model::profile::MIN_CLIPS;
use mimimi_model::threshold::ThresholdRule;
use mimimi_model::{Enrollment, Listed, Needs, Profile};
use serde::{Deserialize, Serialize};

/// The enrollment's state: the machine being enrolled, its takes, and stored profiles this
/// version cannot use. The enrolled machines themselves are the page's ([`Ui::profiles`]):
/// the machine picker and the checks read them too.
#[derive(Clone, Copy)]
pub struct Enroll {
    /// Name of the machine being enrolled.
    pub name: RwSignal<String>,
    /// Model directory of the closest type.
    pub machine_type: RwSignal<String>,
    /// Accepted takes, as listed.
    pub takes: RwSignal<Vec<TakeInfo>>,
    /// The accepted takes' audio, in the same order.
    audio: StoredValue<Vec<Audio>>,
    /// Keep the takes on the device with the profile.
    pub keep: RwSignal<bool>,
    /// What start-up could not restore (shown until the first step says something else).
    pub restored: RwSignal<Option<String>>,
    /// Stored machines this version cannot use (an older format, damaged).
    pub outdated: RwSignal<Vec<Outdated>>,
}

impl Enroll {
    /// No enrollment in progress ([`load`] restores one).
    pub fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            machine_type: RwSignal::new(String::new()),
            takes: RwSignal::new(Vec::new()),
            audio: StoredValue::new(Vec::new()),
            keep: RwSignal::new(true),
            restored: RwSignal::new(None),
            outdated: RwSignal::new(Vec::new()),
        }
    }

    /// Drops the takes of the enrollment in progress (their stored copies are the caller's).
    pub fn forget(&self) {
        self.takes.set(Vec::new());
        self.audio.update_value(Vec::clear);
    }
}

/// What the user asks of the enrollment section.
#[derive(Clone)]
pub(crate) enum Step {
    /// Record a take from the microphone.
    Record,
    /// Add uploaded files as takes.
    AddFiles(Vec<web_sys::File>),
    /// Remove the take at this place in the list.
    RemoveTake(usize),
    /// Build the profile from the takes.
    Build,
    /// Enroll a machine again, with the current model, from its kept takes.
    Rebuild(String),
    /// Delete an enrolled machine and its kept takes.
    Delete(String),
    /// Load enrolled machines from an exported file.
    Import(web_sys::File),
}

/// The enrollment's steps, one Leptos action (the root provides it as context): `pending`
/// while a step runs (the section's buttons wait), `value` what the last step said, which
/// the section shows, and `version` counts the steps done (`main[data-finished]`).
pub(crate) type Steps = Action<Step, Said>;

/// The enrollment's steps action.
pub(crate) fn steps(ui: Ui, en: Enroll) -> Steps {
    Action::new_local(move |step: &Step| {
        let step = step.clone();
        async move {
            let said = run(ui, en, step).await;
            ui.busy.set(None);
            said
        }
    })
}

/// Runs one step.
async fn run(ui: Ui, en: Enroll, step: Step) -> Said {
    match step {
        Step::Record => {
            let audio = record(ui).await?;
            let n = en.takes.get_untracked().len() + 1;
            add_take(en, audio, format!("Recorded take {n}")).await?;
            Ok(store::ask_persistence().await)
        }
        Step::AddFiles(files) => add_files(ui, en, files).await,
        Step::RemoveTake(index) => remove_take(en, index).await.map(|()| None),
        Step::Build => build(ui, en).await.map(Some),
        Step::Rebuild(name) => match rebuild(ui, en, &name).await {
            Ok(text) => Ok(Some(text)),
            Err(source) => Err(PageError::NotRebuilt {
                name,
                source: Box::new(source),
            }),
        },
        Step::Delete(name) => delete(ui, en, &name).await.map(Some),
        Step::Import(file) => import(ui, file).await.map(Some),
    }
}

/// Takes the guide asks for.
pub const SUGGESTED_TAKES: usize = 5;

/// A take accepted for enrollment, as listed on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeInfo {
    /// Where the take waits on the device until the profile is built.
    pub key: String,
    /// Where it came from.
    pub label: String,
    /// Length, seconds.
    pub seconds: f64,
    /// Level, dBFS.
    pub dbfs: f64,
}

/// The file format of exported profiles (each profile read and checked on its own).
#[derive(Debug, Serialize, Deserialize)]
struct ProfilesFile {
    /// Always `mimimi-profiles`.
    format: String,
    profiles: Vec<serde_json::Value>,
}

/// A stored profile this version cannot use (an older format, or damaged): listed with its
/// reason, to be rebuilt from its kept takes or deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Outdated {
    /// Its name (the store key).
    pub name: String,
    /// Its machine type, where it could be read.
    pub machine_type: Option<String>,
    /// Why it cannot be used.
    pub reason: String,
}

const FILE_FORMAT: &str = "mimimi-profiles";

/// Key prefix of takes waiting for their profile: kept on the device at once, so that a phone
/// browser that reloads the tab (or a crash) loses none of them.
const PENDING: &str = "pending/";

/// The store key of a kept take of machine `name`.
fn kept_key(name: &str, index: usize) -> String {
    format!("{name}/{index:02}")
}

/// Whether `key` is a kept take of machine `name` (and not of "Hall B/Pump 3" for "Hall B").
fn is_kept_take_of(key: &str, name: &str) -> bool {
    key.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `name` is kept by the page: a machine's kept takes would be read as the takes of
/// an enrollment in progress.
pub fn is_reserved(name: &str) -> bool {
    name == PENDING.trim_end_matches('/') || name.starts_with(PENDING)
}

/// Checks a take: its entry in the list, or why it was refused.
fn check_take(audio: &Audio, label: String, key: String) -> Result<TakeInfo, PageError> {
    let samples = audio.channel(0).map_err(|source| PageError::DamagedWav {
        name: label.clone(),
        source,
    })?;
    let q = QualityConfig::default()
        .check(samples, audio.sample_rate)
        .map_err(|source| PageError::TakeRefused {
            label: label.clone(),
            source,
        })?;
    Ok(TakeInfo {
        key,
        label,
        seconds: q.seconds,
        dbfs: q.dbfs,
    })
}

/// Lists a checked take.
fn list_take(en: Enroll, audio: Audio, info: TakeInfo) {
    en.audio.update_value(|t| t.push(audio));
    en.takes.update(|t| t.push(info));
}

/// Checks a new take, adds it to the enrollment and keeps it on the device, or says why it
/// was refused.
async fn add_take(en: Enroll, audio: Audio, label: String) -> Result<(), PageError> {
    let stamp: String = js_sys::Date::new_0().to_iso_string().into();
    let key = format!("{PENDING}{stamp}");
    // Label first, then the audio (lossless): the stored take is the take.
    let mut bytes = label.clone().into_bytes();
    bytes.push(0);
    bytes.extend(encode_wav(&audio, SampleFormat::Float32));
    // Listed only once it is stored: a take on the list is a take on the device.
    let info = check_take(&audio, label, key.clone())?;
    store::put_bytes(store::CLIPS, &key, &bytes).await?;
    list_take(en, audio, info);
    Ok(())
}

/// Restores the takes of an enrollment in progress. One that cannot be read (or no longer
/// passes the checks) is skipped, not allowed to hide the others, and stays stored.
async fn load_pending(en: Enroll) -> Result<(), PageError> {
    let mut skipped = Vec::new();
    for key in store::keys(store::CLIPS).await? {
        if !key.starts_with(PENDING) {
            continue;
        }
        let restored = async {
            let bytes = store::get_bytes(store::CLIPS, &key)
                .await?
                .ok_or_else(|| PageError::Gone(key.clone()))?;
            let split = bytes.iter().position(|&b| b == 0).unwrap_or(0);
            let label = String::from_utf8_lossy(&bytes[..split]).into_owned();
            let audio = decode_wav(&bytes[(split + 1).min(bytes.len())..]).map_err(|source| {
                PageError::DamagedWav {
                    name: key.clone(),
                    source,
                }
            })?;
            let info = check_take(&audio, label, key.clone())?;
            list_take(en, audio, info);
            Ok::<_, PageError>(())
        }
        .await;
        if let Err(e) = restored {
            skipped.push(e);
        }
    }
    match skipped.is_empty() {
        true => Ok(()),
        false => Err(PageError::TakesSkipped(skipped)),
    }
}

/// Removes take `index`.
async fn remove_take(en: Enroll, index: usize) -> Result<(), PageError> {
    let Some(take) = en.takes.get_untracked().get(index).cloned() else {
        return Ok(());
    };
    en.audio.update_value(|t| {
        if index < t.len() {
            t.remove(index);
        }
    });
    en.takes.update(|t| {
        t.remove(index);
    });
    Ok(store::delete(store::CLIPS, &take.key).await?)
}

/// Reads uploaded files as takes; each refused file is said (the others are added).
async fn add_files(ui: Ui, en: Enroll, files: Vec<web_sys::File>) -> Said {
    let mut refused = Vec::new();
    for file in files {
        let name = file.name();
        ui.busy.set(Some((format!("Reading {name}…"), 0.0)));
        let added = match crate::input::read_file(&file).await {
            Ok((audio, _)) => add_take(en, audio, name).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = added {
            refused.push(e);
        }
    }
    match refused.len() {
        0 => Ok(store::ask_persistence().await),
        1 => Err(refused.remove(0)),
        _ => Err(PageError::Several(refused)),
    }
}

/// Builds the profile from the takes, stores it (and the takes if asked) and selects it.
async fn build(ui: Ui, en: Enroll) -> Result<String, PageError> {
    let name = en.name.get_untracked().trim().to_string();
    if name.is_empty() {
        return Err(PageError::NoName);
    }
    if is_reserved(&name) {
        return Err(PageError::ReservedName(name));
    }
    if ui.profiles.get_untracked().iter().any(|p| p.name == name) {
        return Err(PageError::NameTaken(name));
    }
    let takes = en.audio.get_value();
    let dir = en.machine_type.get_untracked();
    let profile = enroll(ui, &dir, &name, &takes).await?;
    store::put_json(store::PROFILES, &name, &profile).await?;
    if en.keep.get_untracked() {
        for (i, audio) in takes.iter().enumerate() {
            let wav = encode_wav(audio, SampleFormat::Pcm16);
            store::put_bytes(store::CLIPS, &kept_key(&name, i), &wav).await?;
        }
    }
    for take in en.takes.get_untracked() {
        store::delete(store::CLIPS, &take.key).await?;
    }
    en.forget();
    let text = format!(
        "\"{}\" is enrolled from {} takes ({} windows). Its threshold ({:.3}) comes from its own takes. Checks against it are selected above.",
        profile.name, profile.takes, profile.windows, profile.threshold
    );
    ui.profiles.update(|p| p.push(profile));
    ui.select(&dir, Some(Selection::Enrolled(name)));
    Ok(text)
}

/// The profile of `takes` with the model in `dir`.
async fn enroll(ui: Ui, dir: &str, name: &str, takes: &[Audio]) -> Result<Profile, PageError> {
    if takes.len() < MIN_CLIPS {
        return Err(PageError::TooFewTakes {
            got: takes.len(),
            min: MIN_CLIPS,
            suggested: SUGGESTED_TAKES,
        });
    }
    let entry = open_entry(ui, dir).await?;
    let manifest = &entry.manifest;
    let members = default_members();
    let needs = Needs::of_members(&members);
    let mut rows = Vec::with_capacity(takes.len());
    let n = takes.len();
    for (i, audio) in takes.iter().enumerate() {
        let clip = Clip::new(audio.clone(), format!("Take {}", i + 1), 0.0);
        let take_rows = with_compute(ui, dir, &needs, async |compute| {
            let progress = move |done: usize, total: usize| {
                let f = (i as f64 + done as f64 / total.max(1) as f64) / n as f64;
                ui.busy
                    .set(Some((format!("Learning take {} of {n}…", i + 1), f)));
            };
            let prepared = prepare(&clip, manifest)?;
            evidence(
                &clip,
                &prepared,
                &manifest.frontend,
                &needs,
                None,
                compute,
                &progress,
            )
            .await
        })
        .await?;
        rows.push(take_rows.rows);
    }
    Enrollment {
        name: name.to_string(),
        machine_type: manifest.machine_type.clone(),
        model_sha256: manifest.weights.sha256.clone(),
        members,
        rule: ThresholdRule::default(),
        created: js_sys::Date::new_0().to_iso_string().into(),
    }
    .fit(&rows)
    .map_err(PageError::from)
}

/// Loads the stored profiles, and the takes of an unfinished enrollment, at start-up.
pub async fn load(ui: Ui, en: Enroll) {
    if let Err(e) = load_pending(en).await {
        en.restored.set(Some(e.to_string()));
    }
    match store::all_json::<serde_json::Value>(store::PROFILES).await {
        Ok((records, unreadable)) => {
            let (mut profiles, mut outdated) = (Vec::new(), Vec::new());
            for (name, value) in records {
                match Profile::from_json(value.to_string().as_bytes()) {
                    Ok(p) => profiles.push(p),
                    Err(reason) => outdated.push(Outdated {
                        machine_type: value
                            .get("machine_type")
                            .and_then(|t| t.as_str())
                            .map(str::to_string),
                        name,
                        reason: reason.to_string(),
                    }),
                }
            }
            outdated.extend(unreadable.into_iter().map(|name| Outdated {
                name,
                machine_type: None,
                reason: "it could not be read".into(),
            }));
            ui.profiles.set(profiles);
            en.outdated.set(outdated);
        }
        Err(e) => en.restored.set(Some(e.to_string())),
    }
}

/// The page's model of `machine_type`, whatever model made a profile of it.
fn model_of_type(ui: Ui, machine_type: &str) -> Option<Listed> {
    ui.entries
        .get_untracked()
        .into_iter()
        .find(|e| e.machine_type == machine_type)
}

/// Whether `profile` works with the model the page has for its type.
pub fn is_current(ui: Ui, profile: &Profile) -> bool {
    model_of_type(ui, &profile.machine_type)
        .is_some_and(|e| e.weights_sha256 == profile.model_sha256)
}

/// Deletes an enrolled machine, its kept clips and its selection.
async fn delete(ui: Ui, en: Enroll, name: &str) -> Result<String, PageError> {
    store::delete(store::PROFILES, name).await?;
    for key in store::keys(store::CLIPS).await? {
        if is_kept_take_of(&key, name) {
            store::delete(store::CLIPS, &key).await?;
        }
    }
    ui.profiles.update(|p| p.retain(|p| p.name != name));
    en.outdated.update(|p| p.retain(|p| p.name != name));
    if ui.id.get_untracked() == Selection::Enrolled(name.to_string()) {
        let dir = ui.machine_type.get_untracked();
        ui.select(&dir, None);
    }
    Ok(format!("\"{name}\" was deleted."))
}

/// Re-enrolls a profile made with another model from its kept clips.
async fn rebuild(ui: Ui, en: Enroll, name: &str) -> Result<String, PageError> {
    let machine_type = ui
        .profiles
        .get_untracked()
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.machine_type)
        .or_else(|| {
            en.outdated
                .get_untracked()
                .into_iter()
                .find(|o| o.name == name)
                .and_then(|o| o.machine_type)
        })
        .ok_or(PageError::UnknownType)?;
    let dir = model_of_type(ui, &machine_type)
        .ok_or(PageError::NoModelOfType(machine_type))?
        .dir;
    let mut takes = Vec::new();
    for key in store::keys(store::CLIPS).await? {
        if is_kept_take_of(&key, name)
            && let Some(bytes) = store::get_bytes(store::CLIPS, &key).await?
        {
            takes.push(
                decode_wav(&bytes).map_err(|source| PageError::DamagedWav { name: key, source })?,
            );
        }
    }
    let profile = enroll(ui, &dir, name, &takes).await?;
    store::put_json(store::PROFILES, name, &profile).await?;
    en.outdated.update(|o| o.retain(|o| o.name != name));
    ui.profiles.update(|ps| {
        ps.retain(|p| p.name != name);
        ps.push(profile);
    });
    Ok(format!("\"{name}\" was rebuilt with the current model."))
}

/// Saves every profile to a file.
pub fn export(ui: Ui) {
    let file = ProfilesFile {
        format: FILE_FORMAT.into(),
        profiles: ui
            .profiles
            .get_untracked()
            .iter()
            .filter_map(|p| serde_json::to_value(p).ok())
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&file).unwrap_or_default();
    let day: String = js_sys::Date::new_0().to_iso_string().into();
    store::download(
        &format!("mimimi-machines-{}.json", day.get(..10).unwrap_or("")),
        "application/json",
        &json,
    );
}

/// Largest machines file the page reads (a profile is tens of kB; this holds hundreds).
const MAX_MACHINES_FILE_BYTES: u64 = 64 << 20;

/// Loads profiles from an exported file; a profile of another model, or whose name is taken,
/// is refused with the reason, the others are stored together in one transaction (all of
/// them or, when the write fails, none).
async fn import(ui: Ui, file: web_sys::File) -> Result<String, PageError> {
    let bytes = crate::input::read_bytes(&file, MAX_MACHINES_FILE_BYTES).await?;
    let parsed: ProfilesFile =
        serde_json::from_slice(&bytes).map_err(|e| PageError::NotMachinesFile {
            name: file.name(),
            reason: Some(e),
        })?;
    if parsed.format != FILE_FORMAT {
        return Err(PageError::NotMachinesFile {
            name: file.name(),
            reason: None,
        });
    }
    let (mut added, mut refused) = (Vec::new(), Vec::new());
    for value in parsed.profiles {
        let profile = match Profile::from_json(value.to_string().as_bytes()) {
            Ok(p) => p,
            Err(e) => {
                refused.push(PageError::from(e));
                continue;
            }
        };
        let usable = match model_of_type(ui, &profile.machine_type) {
            None => Err(PageError::NoModelFor {
                name: profile.name.clone(),
                machine_type: profile.machine_type.clone(),
            }),
            Some(entry) => profile
                .usable_with(&entry.weights_sha256)
                .map_err(PageError::from),
        };
        // Taken here, or earlier in the same file: one machine per name.
        let taken = ui
            .profiles
            .get_untracked()
            .iter()
            .chain(&added)
            .any(|p| p.name == profile.name);
        let usable = usable.and_then(|()| match is_reserved(&profile.name) {
            true => Err(PageError::ReservedName(profile.name.clone())),
            false => Ok(()),
        });
        match (usable, taken) {
            (Err(e), _) => refused.push(e),
            (Ok(()), true) => refused.push(PageError::AlreadyEnrolled(profile.name.clone())),
            (Ok(()), false) => added.push(profile),
        }
    }
    // One transaction: a failed write leaves no half-imported file behind.
    let entries: Vec<_> = added.iter().map(|p| (p.name.clone(), p)).collect();
    store::put_all_json(store::PROFILES, &entries)
        .await
        .map_err(PageError::NothingImported)?;
    let mut text = format!("{} machine(s) imported.", added.len());
    if !refused.is_empty() {
        text += &format!(" Refused: {}.", crate::error::list(&refused));
    }
    ui.profiles.update(|p| p.extend(added));
    Ok(text)
}

/// The "New machine" section and the list of enrolled machines.
pub fn panel(ui: Ui) -> impl IntoView {
    let en = expect_context::<Enroll>();
    let steps = expect_context::<Steps>();
    // A check in progress shows in `busy` too.
    let idle =
        move || !steps.pending().get() && ui.busy.get().is_none() && ui.recording.get().is_none();
    // The last step's message (none while the next one runs), else what start-up said.
    let message = move || {
        if steps.pending().get() {
            return None;
        }
        steps
            .value()
            .with(|said| said.as_ref().map(said_text))
            .unwrap_or_else(|| en.restored.get())
    };
    view! {
        <section aria-label="Enroll a machine" class="card" id="enroll">
            <h2>"New machine"</h2>
            <p class="small">
                "The bundled models only know Mimimi's synthetic test machines. To check your own machine, enroll it: "
                {format!("record {SUGGESTED_TAKES} takes of about 10 s (at least {MIN_CLIPS}) while it runs normally, at different moments. ")}
                "Hold the phone 10–30 cm from the machine, always at the same spot, and keep still. From then on, every check is judged against this machine's own normal sound."
            </p>
            <div class="row">
                <label>"Name "
                    <input id="enroll-name" type="text" maxlength="60" placeholder="e.g. Pump 3, hall B"
                        prop:value=move || en.name.get()
                        on:input=move |ev| en.name.set(event_target_value(&ev)) />
                </label>
                <label>"Closest type "
                    <select id="enroll-type" prop:value=move || en.machine_type.get()
                        on:change=move |ev| en.machine_type.set(event_target_value(&ev))>
                        {move || ui.entries.get().into_iter().map(|e| {
                            view! { <option value=e.dir.clone()>{e.machine_type.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <div class="inputs">
                {move || match ui.recording.get() {
                    Some(state) => crate::widgets::recording_controls(state, "enroll-stop", "enroll-level").into_any(),
                    None => view! {
                        <button id="enroll-record" prop:disabled=move || !idle()
                            on:click=move |_| { steps.dispatch_local(Step::Record); }>"Record a take"</button>
                    }.into_any(),
                }}
                <label class="button secondary" for="enroll-files">"Add files"</label>
                <input id="enroll-files" type="file" multiple accept="audio/*,.wav" class="visually-hidden"
                    prop:disabled=move || !idle()
                    on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = event_target(&ev);
                        let files: Vec<web_sys::File> = input.files()
                            .map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect())
                            .unwrap_or_default();
                        steps.dispatch_local(Step::AddFiles(files));
                        input.set_value("");
                    } />
            </div>
            <ol id="enroll-takes">
                {move || en.takes.get().into_iter().enumerate().map(|(i, t)| view! {
                    <li>{format!("{} — {:.1} s, {:.0} dBFS ", t.label, t.seconds, t.dbfs)}
                        <button class="link" aria-label=format!("Remove take {}", i + 1)
                            prop:disabled=move || !idle()
                            on:click=move |_| { steps.dispatch_local(Step::RemoveTake(i)); }>"remove"</button>
                    </li>
                }).collect_view()}
            </ol>
            <label class="small"><input id="enroll-keep" type="checkbox"
                prop:checked=move || en.keep.get()
                on:change=move |ev| en.keep.set(event_target_checked(&ev)) />
                " Keep the takes on this device (lets Mimimi rebuild the profile when its model is updated)"</label>
            <p>
                <button id="enroll-build" prop:disabled=move || !idle() || en.takes.get().len() < MIN_CLIPS
                    on:click=move |_| { steps.dispatch_local(Step::Build); }>
                    {move || format!("Enroll from {} take(s)", en.takes.get().len())}
                </button>
            </p>
            {move || message().map(|m| view! { <p id="enroll-message" role="status">{m}</p> })}
            <h3>"Your machines"</h3>
            <ul id="profiles">
                {move || ui.profiles.get().into_iter().map(|p| {
                    let current = is_current(ui, &p);
                    let (del, reb) = (p.name.clone(), p.name.clone());
                    view! {
                        <li data-name=p.name.clone()>
                            {format!("{} ({}, {} takes, {}) ", p.name, p.machine_type, p.takes, p.created.get(..10).unwrap_or(""))}
                            {(!current).then(|| view! {
                                <span class="small">"made with another model: "
                                    <button class="link rebuild" prop:disabled=move || !idle()
                                        on:click=move |_| { steps.dispatch_local(Step::Rebuild(reb.clone())); }>"rebuild from kept takes"</button>
                                " "</span>
                            })}
                            {crate::widgets::confirm_button(None, "link profile-delete", "delete", "delete it and its takes? press again",
                                move || { steps.dispatch_local(Step::Delete(del.clone())); })}
                        </li>
                    }
                }).collect_view()}
                {move || en.outdated.get().into_iter().map(|o| {
                    let (del, reb) = (o.name.clone(), o.name.clone());
                    view! {
                        <li class="outdated" data-name=o.name.clone()>
                            {format!("{} — cannot be used: {} ", o.name, o.reason)}
                            {o.machine_type.is_some().then(|| view! {
                                <button class="link rebuild" prop:disabled=move || !idle()
                                        on:click=move |_| { steps.dispatch_local(Step::Rebuild(reb.clone())); }>"rebuild from kept takes"</button>
                                " "
                            })}
                            {crate::widgets::confirm_button(None, "link profile-delete", "delete", "delete it and its takes? press again",
                                move || { steps.dispatch_local(Step::Delete(del.clone())); })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <div class="inputs">
                <button id="profiles-export" class="secondary" prop:disabled=move || ui.profiles.get().is_empty()
                    on:click=move |_| export(ui)>"Save machines to a file"</button>
                <label class="button secondary" for="profiles-import">"Load machines from a file"</label>
                <input id="profiles-import" type="file" accept=".json,application/json" class="visually-hidden"
                    prop:disabled=move || !idle()
                    on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = event_target(&ev);
                        if let Some(file) = input.files().and_then(|f| f.get(0)) {
                            steps.dispatch_local(Step::Import(file));
                        }
                        input.set_value("");
                    } />
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_takes_belong_to_their_own_machine_only() {
        assert!(is_kept_take_of(&kept_key("Hall B", 3), "Hall B"));
        assert!(is_kept_take_of(&kept_key("Hall B", 120), "Hall B"));
        assert!(!is_kept_take_of(&kept_key("Hall B/Pump 3", 0), "Hall B"));
        assert!(!is_kept_take_of("Hall B/", "Hall B"));
        assert!(!is_kept_take_of("Hall BB/00", "Hall B"));
        assert!(!is_kept_take_of(
            "pending/2026-12-01T00:00:00.000Z",
            "pending"
        ));
    }

    #[test]
    fn names_the_page_keeps_are_refused() {
        assert!(is_reserved("pending"));
        assert!(is_reserved("pending/x"));
        assert!(!is_reserved("pending pump"));
        assert!(!is_reserved("Hall B"));
    }
}
