//! The page's one error type: what went wrong, worded for the person using the page. Its
//! `Display` is the text shown; the one case the page acts on (a GPU that failed while a
//! result was read back) is a variant of its own, never found by reading the text.

use mimimi_model::score::ReadError;

/// Why a check, an enrollment or a model load did not finish.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PageError {
    /// A result could not be read back from the device (a lost GPU): the work moves to the CPU.
    #[error(transparent)]
    ReadBack(#[from] ReadError),
    /// Anything else, already worded for the page.
    #[error("{0}")]
    Message(String),
}

impl From<String> for PageError {
    fn from(text: String) -> Self {
        PageError::Message(text)
    }
}

impl From<&str> for PageError {
    fn from(text: &str) -> Self {
        PageError::Message(text.to_string())
    }
}
