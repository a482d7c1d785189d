//! What the network hears, as a vector per window: the network's members of a combined score
//! ([`crate::combined::Member::Network`]) and the older clip Gaussians.
//!
//! The classifier heads only know the machine IDs the model was trained on; the layers below
//! them describe any machine's sound. The layers:
//! - [`Layer::Block5`]: the last complex block's log power per channel, averaged over
//!   frequency and time (45 values);
//! - [`Layer::Fused`]: the attention input `Ft = cat(Fc, Fm)`, averaged over time, per channel
//!   and frequency row (8 × 8 = 64 values).

#[cfg(feature = "network")]
use crate::input::batch_from_windows;
#[cfg(feature = "network")]
use crate::network::{Network, Trace};
#[cfg(feature = "network")]
use burn::tensor::{Device, Tensor};
#[cfg(feature = "network")]
use mimimi_dsp::{Spectrogram, Window};
use serde::{Deserialize, Serialize};

/// One layer of the network that an embedding takes values from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

    /// Values per window.
    pub fn width(self) -> usize {
        match self {
            Layer::Block5 => crate::config::BLOCKS[4].channels,
            Layer::Fused => 64,
        }
    }

    /// Parses a name as [`Layer::name`] writes it.
    pub fn parse(name: &str) -> Result<Self, UnknownLayer> {
        Layer::ALL
            .into_iter()
            .find(|l| l.name() == name)
            .ok_or_else(|| UnknownLayer(name.to_string()))
    }
}

/// A layer name that [`Layer::parse`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network layer {0:?} (known: block5, fused)")]
pub struct UnknownLayer(pub String);

/// Which layers an embedding concatenates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingSpec {
    /// The layers, in [`Layer::ALL`] order.
    pub layers: Vec<Layer>,
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
    pub fn parse(name: &str) -> Result<Self, UnknownLayer> {
        let mut layers = name
            .split('+')
            .map(Layer::parse)
            .collect::<Result<Vec<_>, _>>()?;
        layers.sort_by_key(|l| Layer::ALL.iter().position(|x| x == l));
        layers.dedup();
        Ok(Self { layers })
    }

    #[cfg(feature = "network")]
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

    #[cfg(feature = "network")]
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

#[cfg(all(test, feature = "network"))]
mod tests {
    use super::*;
    use crate::NetworkConfig;
    use mimimi_dsp::{FrontEnd, FrontEndConfig};

    #[test]
    fn names_round_trip_and_order_is_canonical() {
        let spec = EmbeddingSpec::parse("fused+block5").unwrap();
        assert_eq!(spec.layers, Layer::ALL);
        assert_eq!(spec.name(), "block5+fused");
        assert!(EmbeddingSpec::parse("logits").is_err());
    }

    #[test]
    fn one_row_per_window_of_each_layers_width() {
        use crate::judge::Evidence;
        use crate::rule::Needs;
        let device = Device::flex();
        let network = Network::new(&NetworkConfig::new(3), &device);
        let samples: Vec<f32> = (0..16000 * 3)
            .map(|i| (i as f32 * 0.05).sin() * 0.1 + ((i * 7919) % 97) as f32 * 1e-4)
            .collect();
        let config = FrontEndConfig::default();
        let prepared = FrontEnd::new(config).prepare_samples(&samples).unwrap();
        let members =
            crate::combined::Member::parse_list("network:block5+network:fused+logmel").unwrap();
        let needs = Needs::of_members(&members);
        let evidence: Evidence =
            crate::evidence::evidence_blocking(&network, &config, &needs, None, &prepared, &device)
                .unwrap();
        for (member, width) in members.iter().zip([45, 64, 64]) {
            let rows = &evidence.rows[member];
            assert_eq!(rows.len(), prepared.windows.len(), "{member:?}");
            assert!(rows.iter().all(|r| r.len() == width), "{member:?}");
            assert!(rows.iter().flatten().all(|v| v.is_finite()), "{member:?}");
        }
        // One forward pass gives the block-5 part of a concatenated embedding.
        let (re, im) = batch_from_windows(&prepared.spectrogram, &prepared.windows[..1], &device);
        let both = EmbeddingSpec {
            layers: Layer::ALL.to_vec(),
        }
        .embed_trace(&network.forward_trace(re, im));
        let first: Vec<f32> = both.into_data().convert::<f32>().try_to_vec().unwrap();
        let block5 = &evidence.rows[&crate::combined::Member::Network(Layer::Block5)][0];
        assert!(
            first[..45]
                .iter()
                .zip(block5)
                .all(|(a, b)| (a - b).abs() < 1e-5)
        );
    }
}
