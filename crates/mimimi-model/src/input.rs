//! From spectrograms to the network's input tensors.

use burn::tensor::{Device, Tensor, TensorData};
use mimimi_dsp::{Spectrogram, Window};

/// A batch `[B, 1, bins, width]` (real, imaginary) from windows of one spectrogram. All windows
/// must have the same width.
pub fn batch_from_windows(
    spec: &Spectrogram,
    windows: &[Window],
    device: &Device,
) -> (Tensor<4>, Tensor<4>) {
    let width = windows.first().map_or(0, |w| w.width);
    assert!(
        windows.iter().all(|w| w.width == width),
        "windows of one batch must have one width"
    );
    let mut re = Vec::with_capacity(windows.len() * spec.bins * width);
    let mut im = Vec::with_capacity(re.capacity());
    for w in windows {
        let part = spec.frames_slice(w.start, w.width);
        re.extend_from_slice(&part.re);
        im.extend_from_slice(&part.im);
    }
    let shape = [windows.len(), 1, spec.bins, width];
    (tensor4(re, shape, device), tensor4(im, shape, device))
}

/// A `[d0, d1, d2, d3]` tensor from row-major values.
pub fn tensor4(values: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), device)
}
