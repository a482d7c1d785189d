//! The self-supervised complex network of Kim, Ho & Kang (EUSIPCO 2021), its anomaly score, and
//! the model file format. The trainer and the web page both use this crate unchanged.
//!
//! Data flow: a normalised complex spectrogram ([`mimimi_dsp`]) → [`input`] tensors
//! `[B, 1, 513, T]` (real, imaginary) → [`network::Network`] (five complex conv blocks, a
//! magnitude and a complex branch fused by channel attention, three classifier heads) →
//! [`score`] (cross-entropy of the clip against its own machine ID, or, where the manifest has
//! them, the distance of the clip's averaged features from its ID's [`clip_gaussian`]) → a
//! verdict against the threshold stored in the model's [`file::Manifest`]. For a machine the model never heard,
//! [`embedding`] takes the network's features and [`profile`] learns that machine's normal
//! sound from a few clips (enrollment).
//!
//! Tensors carry their backend in their `Device` (burn 0.22): the same code runs on the
//! pure-Rust CPU backend (`Device::flex()`) and on wgpu/WebGPU.

pub mod clip_gaussian;
pub mod complex;
pub mod config;
pub mod embedding;
pub mod file;
pub mod gaussian;
pub mod input;
pub mod network;
pub mod profile;
pub mod reference;
pub mod score;
pub mod threshold;

pub use clip_gaussian::ClipGaussians;
pub use config::{AttentionGate, BnVariance, NetworkConfig};
pub use embedding::EmbeddingSpec;
pub use file::{Manifest, ModelError, ModelFiles};
pub use gaussian::Gaussian;
pub use network::{Network, Outputs, Trace};
pub use profile::{Enrollment, Profile};
pub use score::{ClipScore, ScoreHeads, Verdict};

/// burn's tensor and device types, re-exported so that users of this crate need no direct burn
/// dependency for the common path.
pub use burn::tensor::{Device, Tensor};
