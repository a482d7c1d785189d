//! The page's network engine. The page's own module holds no network: it computes the
//! spectrogram, the descriptors and the verdict, and sends a clip here only when its score
//! reads the network (an imported reference model, `network:` members, the self-test). This
//! crate is both sides of that exchange:
//!
//! - [`protocol`]: the messages, for the page and the worker alike (no burn);
//! - `worker` (feature `worker`): the Web Worker that keeps the models, builds their networks
//!   on the CPU (burn's flex) or on WebGPU, and answers; its binary is `src/main.rs`.
//!
//! The split keeps burn out of the first download (docs/speed.md) and the network's work off
//! the page's thread: a check never freezes the page, whichever backend runs it.

pub mod protocol;
#[cfg(feature = "worker")]
pub mod worker;
