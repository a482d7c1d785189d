//! A PyTorch-style state dict held on the host (named float tensors), read from a safetensors
//! file, and its class count. No burn: the PyTorch checkpoint reader ([`crate::pytorch`]) builds
//! one too, and its tests run as wasm32 without a network (tests/run.sh); the network is
//! built from one in [`crate::reference`].

use std::collections::BTreeMap;
use thiserror::Error;

/// A float tensor by value: shape and row-major data.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// Named tensors, as in a PyTorch `state_dict`.
pub type StateDict = BTreeMap<String, HostTensor>;

/// Why a checkpoint does not fit the network.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ImportError {
    /// A parameter the network needs is absent.
    #[error("the checkpoint has no tensor `{0}`")]
    Missing(String),
    /// A parameter has the wrong shape.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The tensor.
        name: String,
        /// Its shape in the checkpoint.
        found: Vec<usize>,
        /// The shape the network needs.
        expected: Vec<usize>,
    },
    /// The file could not be parsed.
    #[error("cannot read the checkpoint: {0}")]
    Format(String),
}

/// Reads every float tensor of a safetensors file (F32, F16, BF16, F64 are converted to f32;
/// integer tensors such as `num_batches_tracked` are skipped).
pub fn read_safetensors(bytes: &[u8]) -> Result<StateDict, ImportError> {
    use safetensors::{Dtype, SafeTensors};
    let st = SafeTensors::deserialize(bytes).map_err(|e| ImportError::Format(e.to_string()))?;
    let mut out = StateDict::new();
    for (name, view) in st.tensors() {
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(std::array::from_fn(|i| b[i])) as f32)
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            _ => continue,
        };
        out.insert(
            name,
            HostTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}

/// An IEEE half-precision value (as its bits) in f32.
pub fn f16_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

/// The number of classes of a reference state dict (rows of `classifier_total.weight`).
pub fn num_classes(dict: &StateDict) -> Result<usize, ImportError> {
    let name = "classifier_total.weight";
    let t = dict
        .get(name)
        .ok_or_else(|| ImportError::Missing(name.into()))?;
    match t.shape.as_slice() {
        [n, 4] if *n > 0 => Ok(*n),
        other => Err(ImportError::Shape {
            name: name.into(),
            found: other.to_vec(),
            expected: vec![0, 4],
        }),
    }
}
