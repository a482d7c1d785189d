//! `trainer`: the native side of Mimimi. Data (`synth`, `download`) → `train` → `eval` /
//! `calibrate` → `export` (and `index`, the list of a folder of models) → `score` (the reference the web page must agree with); `import`
//! brings a checkpoint of the PyTorch reference; `enroll` and `enroll-eval` learn and measure
//! profiles of machines the network never heard.
//!
//! This file only parses the command line and dispatches: each command lives in its own
//! module with its own `Args`; argument types several commands share are in `args`.

mod args;
mod baseline;
mod calibrate;
mod data;
mod download;
mod enroll;
mod eval;
mod export;
mod import;
mod index;
mod metrics;
mod model;
mod out;
mod protocol;
mod report;
mod rng;
mod score;
mod synth;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Command line of the trainer.
#[derive(Parser)]
#[command(
    name = "trainer",
    version,
    about = "Train, evaluate and run Mimimi models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The commands; each one's help is its `Args` doc comment.
#[derive(Subcommand)]
enum Command {
    Synth(synth::Args),
    Download(download::Args),
    Train(train::Args),
    Eval(eval::Args),
    Score(score::Args),
    Enroll(enroll::Args),
    EnrollEval(enroll::EvalArgs),
    Import(import::Args),
    Calibrate(calibrate::Args),
    Protocol(protocol::Args),
    Export(export::Args),
    Index(index::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Synth(a) => a.run(),
        Command::Download(a) => a.run(),
        Command::Train(a) => a.run(),
        Command::Eval(a) => a.run(),
        Command::Score(a) => a.run(),
        Command::Enroll(a) => a.run(),
        Command::EnrollEval(a) => a.run(),
        Command::Import(a) => a.run(),
        Command::Calibrate(a) => a.run(),
        Command::Protocol(a) => a.run(),
        Command::Export(a) => a.run(),
        Command::Index(a) => a.run(),
    };
    finish(result)
}

/// The exit code of a command's result (an error is printed): 0 done, 1 done but something
/// was not (a file that could not be scored), 2 failed.
fn finish(result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            // `{:#}`: the error with its context, outermost first ("file.wav: not a WAV file").
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
