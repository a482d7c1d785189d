//! Running the trainer binary from the command-line tests.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use std::path::Path;
use std::process::{Command, Output};

/// Runs `trainer` with `args`.
pub fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .unwrap()
}

/// The standard output of a run that must succeed (both outputs shown if it did not).
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path as a command-line argument.
#[allow(dead_code)]
pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}
