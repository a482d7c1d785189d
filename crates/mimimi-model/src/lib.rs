//! The self-supervised complex network of Kim, Ho & Kang (EUSIPCO 2021), its anomaly score, and
//! the model file format. The trainer and the web page both use this crate unchanged.
//!
//! Data flow: a normalised complex spectrogram ([`mimimi_dsp`]) → [`input`] tensors
//! `[B, 1, 513, T]` (real, imaginary) → [`network::Network`] (five complex conv blocks, a
//! magnitude and a complex branch fused by channel attention, three classifier heads) →
//! [`evidence`] (the network's features and cross-entropy, and hand-made descriptors of each
//! window) → [`judge`](mod@judge) (the manifest's [`rule::ScoreRule`] for a trained machine ID, or a
//! [`profile`] for an enrolled machine: a score, and a verdict that says how sure it is). The
//! default rule is a [`combined`] score of several detectors.
//!
//! Tensors carry their backend in their `Device` (burn 0.22): the same code runs on the
//! pure-Rust CPU backend (`Device::flex()`) and on wgpu/WebGPU.

pub mod clip_gaussian;
pub mod combined;
#[cfg(feature = "network")]
pub mod complex;
pub mod config;
#[cfg(feature = "flex")]
mod cpu_conv;
pub mod embedding;
pub mod evidence;
pub mod file;
pub mod gaussian;
pub mod index;
#[cfg(feature = "network")]
pub mod input;
pub mod judge;
#[cfg(feature = "network")]
pub mod network;
pub mod profile;
#[cfg(feature = "pytorch")]
pub mod pytorch;
#[cfg(feature = "network")]
pub mod reference;
pub mod rule;
pub mod score;
#[cfg(feature = "state-dict")]
pub mod state_dict;
pub mod threshold;

pub use clip_gaussian::ClipGaussians;
pub use combined::{ClipRows, Combined, Member};
pub use config::{AttentionGate, BnVariance, NetworkConfig};
pub use embedding::EmbeddingSpec;
pub use file::{Manifest, ModelError, ModelFiles};
pub use gaussian::Gaussian;
pub use index::{Listed, ModelIndex};
pub use judge::{Call, Evidence, Judgement, Target, Verdict, judge};
#[cfg(feature = "network")]
pub use network::{Network, Outputs, Trace};
pub use profile::{Enrollment, Profile};
pub use rule::{Needs, ScoreRule};
pub use score::{ClipScore, ScoreHeads};

/// burn's tensor and device types, re-exported so that users of this crate need no direct burn
/// dependency for the common path.
#[cfg(feature = "network")]
pub use burn::tensor::{Device, Tensor};
