//! Lines on standard output that a closed pipe ends quietly: `trainer score ... | head`
//! stops when `head` has read enough, instead of panicking as `println!` does.

use anyhow::Context;
use std::io::{ErrorKind, Write};

/// Writes `text` and a newline to standard output; exits with success when the reader has
/// gone.
pub fn line(text: &str) -> anyhow::Result<()> {
    match writeln!(std::io::stdout().lock(), "{text}") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(e).context("standard output"),
    }
}
