//! Computing a clip's [`Evidence`] for a judgement: the hand-made descriptors of each window
//! (on the CPU), and the network's layers and cross-entropy (one forward pass per batch of
//! windows, on any device). The page queues the same batches and reads them back
//! asynchronously between yields to the browser; natively, [`evidence_blocking`] does all.

use crate::combined::{ClipRows, Member};
#[cfg(feature = "network")]
use crate::input::batch_from_windows;
use crate::judge::Evidence;
#[cfg(feature = "network")]
use crate::network::Network;
use crate::rule::Needs;
#[cfg(feature = "network")]
use crate::score::ReadError;
#[cfg(feature = "network")]
use burn::tensor::{Device, Tensor, TensorData};
use mimimi_dsp::{Describer, FrontEndConfig, Prepared};
#[cfg(feature = "network")]
use mimimi_dsp::{Spectrogram, Window};
use serde::{Deserialize, Serialize};

/// Windows per batch natively: bounds memory for long clips (60 s = 57 windows).
pub const WINDOWS_PER_BATCH: usize = 16;

/// The descriptors `needs` names, of every window of a prepared clip.
pub fn descriptors(frontend: &FrontEndConfig, needs: &Needs, prepared: &Prepared) -> ClipRows {
    let mut describing = Describing::new(frontend, needs, prepared);
    while describing.step() {}
    describing.finish()
}

/// The descriptors of a prepared clip, one window at a time, so that a caller can pause in
/// between (the page hands control back to the browser after each window).
pub struct Describing<'a> {
    describer: Describer,
    needs: &'a Needs,
    prepared: &'a Prepared,
    /// The next window to describe.
    next: usize,
    rows: ClipRows,
}

impl<'a> Describing<'a> {
    /// Nothing described yet.
    pub fn new(frontend: &FrontEndConfig, needs: &'a Needs, prepared: &'a Prepared) -> Self {
        let describer = Describer::new(
            frontend.sample_rate,
            &frontend.stft,
            frontend.normalization.magnitude_exponent(),
        );
        let rows = needs
            .descriptors
            .iter()
            .map(|&d| (Member::Descriptor(d), Vec::new()))
            .collect();
        Self {
            describer,
            needs,
            prepared,
            next: 0,
            rows,
        }
    }

    /// Describes the next window; false once every window is described.
    pub fn step(&mut self) -> bool {
        let Some(window) = self.prepared.windows.get(self.next) else {
            return false;
        };
        let spec = &self.prepared.spectrogram;
        for &d in &self.needs.descriptors {
            let row = self.describer.describe(d, spec, window);
            self.rows
                .entry(Member::Descriptor(d))
                .or_default()
                .push(row);
        }
        self.next += 1;
        true
    }

    /// The rows described so far (all of them after `step` returned false).
    pub fn finish(self) -> ClipRows {
        self.rows
    }
}

#[cfg(feature = "network")]
/// One batch of windows through the network, queued on the device.
pub struct Queued {
    /// The needed layers, concatenated `[b, d]`.
    embedding: Option<Tensor<2>>,
    /// The cross-entropy of each window `[b]`.
    cross_entropy: Option<Tensor<1>>,
    /// The total head's logits summed over the batch `[N]`.
    logit_sums: Option<Tensor<1>>,
}

#[cfg(feature = "network")]
/// Queues `windows` of `spectrogram` through the network for what `needs` asks (`class`:
/// the machine ID the cross-entropy is against). Nothing is read back yet.
pub fn queue(
    network: &Network,
    needs: &Needs,
    class: Option<usize>,
    spectrogram: &Spectrogram,
    windows: &[Window],
    device: &Device,
) -> Queued {
    let (re, im) = batch_from_windows(spectrogram, windows, device);
    let trace = network.forward_trace(re, im);
    let logit_sums = needs.classify.then(|| {
        let [_, n] = trace.outputs.total.dims();
        trace.outputs.total.clone().sum_dim(0).reshape([n])
    });
    Queued {
        embedding: needs.embedding().map(|spec| spec.embed_trace(&trace)),
        cross_entropy: needs
            .cross_entropy
            .zip(class)
            .map(|(heads, class)| heads.score(trace.outputs, class)),
        logit_sums,
    }
}

/// What the network gave for some windows, as read back from the device: plain numbers, so
/// they can also cross from the page's engine worker to the page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Per window, the needed layers concatenated.
    pub embedding: Vec<Vec<f32>>,
    /// Per window, the cross-entropy against the class asked for.
    pub cross_entropy: Vec<f64>,
    /// The total head's logits summed over the windows.
    pub logit_sums: Vec<f64>,
}

#[cfg(feature = "network")]
fn values<E: std::fmt::Display>(data: Result<TensorData, E>) -> Result<Vec<f32>, ReadError> {
    data.map_err(|e| ReadError(e.to_string()))?
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| ReadError(format!("{e:?}")))
}

#[cfg(feature = "network")]
fn rows(values: Vec<f32>, width: usize) -> Vec<Vec<f32>> {
    values.chunks(width.max(1)).map(<[f32]>::to_vec).collect()
}

#[cfg(feature = "network")]
impl Queued {
    /// Reads the batch back, blocking (native use).
    pub fn read_blocking(self) -> Result<Batch, ReadError> {
        let mut batch = Batch::default();
        if let Some(e) = self.embedding {
            let [_, d] = e.dims();
            batch.embedding = rows(values(e.try_into_data())?, d);
        }
        if let Some(c) = self.cross_entropy {
            batch.cross_entropy = values(c.try_into_data())?
                .into_iter()
                .map(f64::from)
                .collect();
        }
        if let Some(l) = self.logit_sums {
            batch.logit_sums = values(l.try_into_data())?
                .into_iter()
                .map(f64::from)
                .collect();
        }
        Ok(batch)
    }

    /// Reads the batch back asynchronously (as WebGPU requires).
    pub async fn read(self) -> Result<Batch, ReadError> {
        let mut batch = Batch::default();
        if let Some(e) = self.embedding {
            let [_, d] = e.dims();
            batch.embedding = rows(values(e.into_data_async().await)?, d);
        }
        if let Some(c) = self.cross_entropy {
            batch.cross_entropy = values(c.into_data_async().await)?
                .into_iter()
                .map(f64::from)
                .collect();
        }
        if let Some(l) = self.logit_sums {
            batch.logit_sums = values(l.into_data_async().await)?
                .into_iter()
                .map(f64::from)
                .collect();
        }
        Ok(batch)
    }
}

impl Evidence {
    /// Adds a batch read back from the network: the layers split per member.
    pub fn push(&mut self, needs: &Needs, batch: Batch) {
        for row in batch.embedding {
            let mut at = 0;
            for &layer in &needs.layers {
                let width = layer.width();
                self.rows
                    .entry(Member::Network(layer))
                    .or_default()
                    .push(row[at..at + width].to_vec());
                at += width;
            }
        }
        self.cross_entropy.extend(batch.cross_entropy);
        if self.logit_sums.is_empty() {
            self.logit_sums = batch.logit_sums;
        } else {
            self.logit_sums
                .iter_mut()
                .zip(batch.logit_sums)
                .for_each(|(a, b)| *a += b);
        }
    }
}

#[cfg(feature = "network")]
/// Everything `needs` asks of a prepared clip, read back blocking (native use).
pub fn evidence_blocking(
    network: &Network,
    frontend: &FrontEndConfig,
    needs: &Needs,
    class: Option<usize>,
    prepared: &Prepared,
    device: &Device,
) -> Result<Evidence, ReadError> {
    let mut evidence = Evidence {
        rows: descriptors(frontend, needs, prepared),
        ..Evidence::default()
    };
    if needs.network() {
        for windows in prepared.windows.chunks(WINDOWS_PER_BATCH) {
            let batch = queue(
                network,
                needs,
                class,
                &prepared.spectrogram,
                windows,
                device,
            )
            .read_blocking()?;
            evidence.push(needs, batch);
        }
    }
    Ok(evidence)
}
