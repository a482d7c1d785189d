//! The page's one error type: what went wrong, worded for the person using the page. Its
//! `Display` is the text shown. Each kind of failure is a variant (the libraries' typed errors
//! are kept as sources), so the page acts on a kind, never on the text: a GPU that failed
//! while a result was read back ([`EngineError::ReadBack`]) moves the work to the CPU.

use crate::fetch::FetchError;
use crate::input::{FileError, MicrophoneError};
use crate::store::StoreError;
use mimimi_dsp::quality::TakeProblem;
use mimimi_dsp::{FrontEndError, WavError};
use mimimi_engine::protocol::EngineError;
use mimimi_model::ModelError;
use mimimi_model::index::IndexError;
use mimimi_model::judge::JudgeError;
use mimimi_model::profile::ProfileError;

/// Why a check, an enrollment, a model load or a stored record did not work out.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The network engine could not answer (a lost GPU, a model that does not fit, a worker
    /// that stopped).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// One of the page's own files could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The data on the device could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The user's file could not be read or decoded.
    #[error(transparent)]
    File(#[from] FileError),
    /// The microphone could not be used.
    #[error(transparent)]
    Microphone(#[from] MicrophoneError),
    /// A file of a model (or of the self-test) is damaged or does not fit the network.
    #[error("{url}: {source}")]
    Model {
        /// The file.
        url: String,
        /// What is wrong with it.
        source: ModelError,
    },
    /// The list of bundled models is damaged.
    #[error("{url} is damaged: {source}")]
    DamagedIndex {
        /// The file.
        url: String,
        /// What is wrong with it.
        source: IndexError,
    },
    /// A model's manifest is not the one the list of models describes (a stale copy kept
    /// for offline use, or a deployment half updated).
    #[error("{url} is not the model the list of models names (reload the page while online)")]
    StaleManifest {
        /// The manifest.
        url: String,
    },
    /// A machine type's model could not be loaded.
    #[error("The {machine_type} model could not be loaded: {source}")]
    ModelLoad {
        /// The machine type.
        machine_type: String,
        /// Why.
        source: Box<PageError>,
    },
    /// The front end refused the clip (too short, not finite, …).
    #[error("{clip}: {}.", sentence(source))]
    Clip {
        /// Where the clip came from.
        clip: String,
        /// Why it was refused.
        source: FrontEndError,
    },
    /// The clip could not be judged against the selected machine.
    #[error(transparent)]
    Judge(#[from] JudgeError),
    /// An enrollment's profile could not be made or used.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The page's model files are missing.
    #[error("No model is loaded: the page's model files are missing.")]
    NoModel,
    /// A score that reads the network, with no network loaded.
    #[error("This score needs the network, which is not loaded.")]
    NoNetwork,
    /// The selected enrolled machine was deleted.
    #[error("The enrolled machine \"{0}\" is gone.")]
    MachineGone(String),
    /// Enrollment without a name.
    #[error("Give the machine a name first.")]
    NoName,
    /// A name the page keeps for itself.
    #[error("\"{0}\" is a name the page keeps for itself: choose another")]
    ReservedName(String),
    /// A name already enrolled.
    #[error("A machine named \"{0}\" is already enrolled: choose another name or delete it below.")]
    NameTaken(String),
    /// Too few accepted takes to enroll.
    #[error(
        "Enrollment needs at least {min} good takes ({suggested} are better); there are {got}."
    )]
    TooFewTakes {
        /// Takes accepted.
        got: usize,
        /// Takes needed.
        min: usize,
        /// Takes the guide asks for.
        suggested: usize,
    },
    /// A stored profile whose machine type cannot be read.
    #[error("its machine type is unknown: enroll it again")]
    UnknownType,
    /// No bundled model of a profile's machine type.
    #[error("the page has no {0} model any more")]
    NoModelOfType(String),
    /// A file that is not an export of enrolled machines.
    #[error("{name} is not a Mimimi machines file{}.", .reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    NotMachinesFile {
        /// The file's name.
        name: String,
        /// What the JSON reader found, where the JSON itself is damaged.
        reason: Option<serde_json::Error>,
    },
    /// A WAV file of the page's own (an example, a stored take) that cannot be read.
    #[error("{name}: {source}")]
    DamagedWav {
        /// Its URL or store key.
        name: String,
        /// What the decoder found.
        source: WavError,
    },
    /// A take refused by the quality checks (too short, silent, clipped).
    #[error("{label} was not kept: {source}.")]
    TakeRefused {
        /// Where the take came from.
        label: String,
        /// What the checks found.
        source: TakeProblem,
    },
    /// Stored takes of an enrollment in progress that could not be restored (they stay stored).
    #[error("{} waiting take(s) could not be restored and were skipped: {}.", .0.len(), list(.0))]
    TakesSkipped(Vec<PageError>),
    /// An imported profile of a machine type the page has no model of.
    #[error("\"{name}\" is a {machine_type} and this page has no {machine_type} model")]
    NoModelFor {
        /// The profile's name.
        name: String,
        /// Its machine type.
        machine_type: String,
    },
    /// An imported profile whose name is enrolled here.
    #[error("\"{0}\" is already enrolled here (delete it first to replace it)")]
    AlreadyEnrolled(String),
    /// The import's one write failed: nothing was stored.
    #[error("Nothing was imported: {0}")]
    NothingImported(StoreError),
    /// A stored record that is no longer there.
    #[error("{0}: it is gone")]
    Gone(String),
    /// An enrolled machine that could not be made again from its kept takes.
    #[error("\"{name}\" could not be rebuilt: {source}")]
    NotRebuilt {
        /// The machine.
        name: String,
        /// Why.
        source: Box<PageError>,
    },
    /// Several things of one request went wrong (files of one upload), each said.
    #[error("{}", join(.0, " "))]
    Several(Vec<PageError>),
}

/// What a step the user asked for (an enrollment step, a history chore) says when it is
/// done: what was done (`None`: nothing to say), or why it was not.
pub(crate) type Said = Result<Option<String>, PageError>;

/// The text of a step's [`Said`], if it says anything.
pub(crate) fn said_text(said: &Said) -> Option<String> {
    match said {
        Ok(text) => text.clone(),
        Err(e) => Some(e.to_string()),
    }
}

/// A library's error as a sentence: its first letter capitalised.
fn sentence(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Errors as one line, separated by semicolons.
pub(crate) fn list(errors: &[PageError]) -> String {
    join(errors, "; ")
}

/// Errors' texts joined by `separator`.
fn join(errors: &[PageError], separator: &str) -> String {
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    texts.join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mimimi_dsp::quality::QualityConfig;

    #[test]
    fn a_library_error_reads_as_a_sentence_about_its_clip() {
        let config = mimimi_dsp::FrontEndConfig::default();
        let source = mimimi_dsp::FrontEnd::new(config)
            .prepare_samples(&[0.0; 100])
            .unwrap_err();
        let text = PageError::Clip {
            clip: "pump.wav".into(),
            source,
        }
        .to_string();
        let rest = text.strip_prefix("pump.wav: ").expect(&text);
        assert!(rest.starts_with(char::is_uppercase), "{text}");
        assert!(text.ends_with('.'), "{text}");
        assert_eq!(sentence(&""), "");
    }

    #[test]
    fn skipped_takes_are_counted_and_each_says_why() {
        let silent = QualityConfig::default()
            .check(&[0.0; 16_000], 16_000)
            .unwrap_err();
        let errors = vec![
            PageError::Gone("pending/1".into()),
            PageError::TakeRefused {
                label: "Take 2".into(),
                source: silent,
            },
        ];
        let text = PageError::TakesSkipped(errors).to_string();
        assert!(text.starts_with("2 waiting take(s)"), "{text}");
        assert!(
            text.contains("pending/1: it is gone; Take 2 was not kept: "),
            "{text}"
        );
    }

    #[test]
    fn a_too_big_recording_is_told_to_be_trimmed_and_a_machines_file_is_not() {
        let too_big = |recording| FileError::TooBig {
            name: "a.wav".into(),
            mb: 300.0,
            max_mb: 200,
            recording,
        };
        assert!(
            too_big(true)
                .to_string()
                .ends_with("Trim the recording to a minute or less.")
        );
        assert!(too_big(false).to_string().ends_with("up to 200 MB."));
    }
}
