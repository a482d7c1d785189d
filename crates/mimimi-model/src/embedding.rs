//! What the network hears, as a vector per window: the features an enrolled machine's profile
//! is built from ([`crate::profile`]).
//!
//! The classifier heads only know the machine IDs the model was trained on; the layers below
//! them describe any machine's sound. Which layers make the best profile of a machine the
//! network never heard was measured with `trainer enroll-eval` (README, "Enrolling a new
//! machine"); the candidates are:
//! - [`Layer::Block5`]: the last complex block's log power per channel, averaged over
//!   frequency and time (45 values);
//! - [`Layer::Fused`]: the attention input `Ft = cat(Fc, Fm)`, averaged over time, per channel
//!   and frequency row (8 × 8 = 64 values).

use crate::input::batch_from_windows;
use crate::network::{Network, Trace};
use crate::score::ReadError;
use burn::tensor::{Device, Tensor, TensorData};
use mimimi_dsp::{Prepared, Spectrogram, Window};
use serde::{Deserialize, Serialize};

/// One layer of the network that an embedding takes values from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Log power of block 5's channels, mean over frequency and time.
    Block5,
    /// The fused map `Ft`, mean over time.
    Fused,
}

impl Layer {
    /// Every layer, in the order an embedding concatenates them.
    pub const ALL: [Layer; 2] = [Layer::Block5, Layer::Fused];

    /// Name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Block5 => "block5",
            Layer::Fused => "fused",
        }
    }
}

/// Which layers an embedding concatenates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingSpec {
    /// The layers, in [`Layer::ALL`] order.
    pub layers: Vec<Layer>,
}

impl Default for EmbeddingSpec {
    /// The layer chosen by measurement (README, "Enrolling a new machine"): on machines the
    /// network never heard, block 5 alone gave the best mean AUC over the four types for every
    /// K (0.844, 0.860, 0.871 for K = 5, 10, 30 with the Gaussian), ahead of block 5 + fused
    /// (0.661–0.702) and fused alone (0.646–0.668), whose attention-weighted maps are tuned to
    /// the training IDs.
    fn default() -> Self {
        Self {
            layers: vec![Layer::Block5],
        }
    }
}

impl EmbeddingSpec {
    /// A short name such as `block5+fused`.
    pub fn name(&self) -> String {
        self.layers
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join("+")
    }

    /// Parses a name as [`EmbeddingSpec::name`] writes it.
    pub fn parse(name: &str) -> Result<Self, String> {
        let mut layers = Vec::new();
        for part in name.split('+') {
            let layer = Layer::ALL
                .into_iter()
                .find(|l| l.name() == part)
                .ok_or_else(|| format!("unknown layer {part:?} (known: block5, fused)"))?;
            layers.push(layer);
        }
        layers.sort_by_key(|l| Layer::ALL.iter().position(|x| x == l));
        layers.dedup();
        Ok(Self { layers })
    }

    /// The embedding `[b, d]` of some windows of a spectrogram, queued on the device.
    pub fn embed_windows(
        &self,
        network: &Network,
        spectrogram: &Spectrogram,
        windows: &[Window],
        device: &Device,
    ) -> Tensor<2> {
        let (re, im) = batch_from_windows(spectrogram, windows, device);
        self.embed_trace(&network.forward_trace(re, im))
    }

    /// The embedding `[b, d]` of a batch from its forward pass (so that a caller that also
    /// needs the heads runs the network once).
    pub fn embed_trace(&self, trace: &Trace) -> Tensor<2> {
        let [b, _] = trace.outputs.total.dims();
        let parts = self
            .layers
            .iter()
            .map(|layer| match layer {
                Layer::Block5 => {
                    let last = trace.blocks.last().expect("the network has blocks");
                    let power = last.re.clone().square() + last.im.clone().square();
                    let [_, c, _, _] = power.dims();
                    power
                        .add_scalar(1e-6)
                        .log()
                        .mean_dims(&[2, 3])
                        .reshape([b, c])
                }
                Layer::Fused => {
                    let [_, c, f, _] = trace.ft.dims();
                    trace.ft.clone().mean_dim(3).reshape([b, c * f])
                }
            })
            .collect();
        Tensor::cat(parts, 1)
    }
}

/// Reads a `[b, d]` embedding back from the device as rows (asynchronously, as WebGPU needs).
pub async fn read_rows(embedding: Tensor<2>) -> Result<Vec<Vec<f32>>, ReadError> {
    let [_, d] = embedding.dims();
    to_rows(embedding.into_data_async().await, d)
}

/// Reads a `[b, d]` embedding back from the device as rows, blocking (native use).
pub fn read_rows_blocking(embedding: Tensor<2>) -> Result<Vec<Vec<f32>>, ReadError> {
    let [_, d] = embedding.dims();
    to_rows(embedding.try_into_data(), d)
}

fn to_rows<E: std::fmt::Display>(
    data: Result<TensorData, E>,
    d: usize,
) -> Result<Vec<Vec<f32>>, ReadError> {
    let data = data.map_err(|e| ReadError(e.to_string()))?;
    let values = data
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| ReadError(format!("{e:?}")))?;
    Ok(values.chunks(d.max(1)).map(<[f32]>::to_vec).collect())
}

/// The embedding of every window of a prepared clip (blocking read-back; native use).
pub fn embed_clip(
    spec: &EmbeddingSpec,
    network: &Network,
    prepared: &Prepared,
    device: &Device,
) -> Result<Vec<Vec<f32>>, ReadError> {
    let mut rows = Vec::with_capacity(prepared.windows.len());
    for batch in prepared.windows.chunks(crate::score::WINDOWS_PER_BATCH) {
        rows.extend(read_rows_blocking(spec.embed_windows(
            network,
            &prepared.spectrogram,
            batch,
            device,
        ))?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NetworkConfig;
    use mimimi_dsp::{FrontEnd, FrontEndConfig};

    #[test]
    fn names_round_trip_and_order_is_canonical() {
        let spec = EmbeddingSpec::parse("fused+block5").unwrap();
        assert_eq!(spec.layers, Layer::ALL);
        assert_eq!(spec.name(), "block5+fused");
        assert_eq!(EmbeddingSpec::default().name(), "block5");
        assert!(EmbeddingSpec::parse("logits").is_err());
    }

    #[test]
    fn one_row_per_window_of_the_layers_width() {
        let device = Device::flex();
        let network = Network::new(&NetworkConfig::new(3), &device);
        let samples: Vec<f32> = (0..16000 * 3)
            .map(|i| (i as f32 * 0.05).sin() * 0.1 + ((i * 7919) % 97) as f32 * 1e-4)
            .collect();
        let prepared = FrontEnd::new(FrontEndConfig::default())
            .prepare_samples(&samples)
            .unwrap();
        for (name, width) in [("block5", 45), ("fused", 64), ("block5+fused", 109)] {
            let spec = EmbeddingSpec::parse(name).unwrap();
            let rows = embed_clip(&spec, &network, &prepared, &device).unwrap();
            assert_eq!(rows.len(), prepared.windows.len(), "{name}");
            assert!(rows.iter().all(|r| r.len() == width), "{name}");
            assert!(rows.iter().flatten().all(|v| v.is_finite()), "{name}");
        }
    }
}
