//! Sample-rate conversion to the model's 16 kHz with a band-limited FFT resampler (rubato's
//! synchronous `FftFixedInOut`), delay-compensated so that sample n of the output lines up with
//! time n / 16 kHz of the input.
//!
//! The FFT resampler's block follows from the rates' greatest common divisor: every rate in
//! use (8, 11.025, 22.05, 44.1, 48, 96 kHz, ...) gives blocks under 2,048 samples, but a rate
//! such as 383,987 Hz (prime) would need a 768,000-sample FFT and ~130 MB. Rates whose block
//! exceeds `MAX_FFT_BLOCK` go through rubato's windowed-sinc resampler instead, whose memory
//! does not depend on the rates.

use rubato::{
    FftFixedInOut, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};
use thiserror::Error;

/// Why a clip could not be resampled.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ResampleError {
    /// A rate of 0 Hz or beyond what any audio file uses.
    #[error("unsupported sample rate {0} Hz (expected 1 kHz to 384 kHz)")]
    BadRate(u32),
    /// The resampler itself failed.
    #[error("resampling failed: {0}")]
    Internal(String),
}

/// Smallest input block handed to the resampler (its FFT size follows from it and the rates).
const CHUNK: usize = 1024;

/// An input block length of at least [`CHUNK`] made of an EVEN number of the smallest blocks
/// the rate pair allows. rubato centres its anti-aliasing sinc at sample ⌊n/2⌋ of an n-sample
/// FFT block: for odd n that is half an input sample off the delay `output_delay()` reports,
/// a constant misalignment of up to one output sample. Even blocks make the delay exact.
fn chunk_len(from_hz: u32, to_hz: u32) -> usize {
    let (mut a, mut b) = (from_hz as usize, to_hz as usize);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let min_block = from_hz as usize / a;
    let blocks = CHUNK.div_ceil(min_block);
    (blocks + blocks % 2) * min_block
}

/// Longest FFT block (input samples) used; longer ones go through the sinc resampler.
const MAX_FFT_BLOCK: usize = 4 * CHUNK;

/// Resamples one channel from `from_hz` to `to_hz`. Returns the input unchanged when the rates
/// are equal. The output has `round(len · to_hz / from_hz)` samples.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, ResampleError> {
    for rate in [from_hz, to_hz] {
        if !(1_000..=384_000).contains(&rate) {
            return Err(ResampleError::BadRate(rate));
        }
    }
    if from_hz == to_hz || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let block = chunk_len(from_hz, to_hz);
    if block <= MAX_FFT_BLOCK {
        let resampler = FftFixedInOut::<f64>::new(from_hz as usize, to_hz as usize, block, 1)
            .map_err(|e| internal(&e))?;
        let delay = resampler.output_delay();
        run(resampler, delay, samples, from_hz, to_hz)
    } else {
        let sinc = SincInterpolationParameters {
            sinc_len: 256,
            f_cutoff: 0.95,
            oversampling_factor: 256,
            interpolation: SincInterpolationType::Cubic,
            window: WindowFunction::BlackmanHarris2,
        };
        let ratio = f64::from(to_hz) / f64::from(from_hz);
        let resampler =
            SincFixedIn::<f64>::new(ratio, 1.0, sinc, CHUNK, 1).map_err(|e| internal(&e))?;
        // rubato 0.16's SincFixedIn starts reading half a filter before the first sample: its
        // output is aligned to within one output sample (1 − to/from of one, measured by
        // `awkward_rates_keep_tones_within_a_sample`) without cutting anything.
        run(resampler, 0, samples, from_hz, to_hz)
    }
}

fn internal(e: &dyn std::fmt::Display) -> ResampleError {
    ResampleError::Internal(e.to_string())
}

/// Feeds `samples` through `resampler` and cuts its first `delay` output samples.
fn run(
    mut resampler: impl Resampler<f64>,
    delay: usize,
    samples: &[f32],
    from_hz: u32,
    to_hz: u32,
) -> Result<Vec<f32>, ResampleError> {
    let wanted = ((samples.len() as u64 * u64::from(to_hz) + u64::from(from_hz) / 2)
        / u64::from(from_hz)) as usize;
    let input: Vec<f64> = samples.iter().map(|&x| f64::from(x)).collect();
    let mut out: Vec<f64> = Vec::with_capacity(wanted + delay + 2 * CHUNK);
    let mut pos = 0;
    while out.len() < wanted + delay {
        let need = resampler.input_frames_next();
        let chunk = if pos + need <= input.len() {
            let block = resampler
                .process(&[&input[pos..pos + need]], None)
                .map_err(|e| internal(&e))?;
            pos += need;
            block
        } else if pos < input.len() {
            let block = resampler
                .process_partial(Some(&[&input[pos..]]), None)
                .map_err(|e| internal(&e))?;
            pos = input.len();
            block
        } else {
            resampler
                .process_partial::<&[f64]>(None, None)
                .map_err(|e| internal(&e))?
        };
        out.extend_from_slice(&chunk[0]);
    }
    Ok(out[delay..delay + wanted]
        .iter()
        .map(|&x| x as f32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn tone(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        (0..n)
            .map(|i| (2.0 * PI * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    #[test]
    fn keeps_a_tone_in_band_and_aligned() {
        for rate in [
            8_000, 11_025, 22_050, 32_000, 44_100, 48_000, 96_000, 16_001,
        ] {
            let out = resample(&tone(440.0, rate, 1.0), rate, 16_000).unwrap();
            assert_eq!(out.len(), 16_000, "{rate}");
            let expect = tone(440.0, 16_000, 1.0);
            // Away from the edges the resampled tone equals the tone sampled at 16 kHz.
            let err = out[400..15_600]
                .iter()
                .zip(&expect[400..15_600])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-3, "rate {rate}: max error {err}");
        }
    }

    #[test]
    fn awkward_rates_keep_tones_within_a_sample() {
        // Rates whose FFT block would be huge: the sinc resampler, with memory independent of
        // the rates. A 1 ms Gaussian pulse at 0.5 s lands within one output sample of 8,000.
        for rate in [7_919, 16_001, 44_101, 96_001, 383_987] {
            assert!(chunk_len(rate, 16_000) > MAX_FFT_BLOCK, "{rate}");
            let pulse: Vec<f32> = (0..rate as usize)
                .map(|i| {
                    let t = i as f64 / f64::from(rate) - 0.5;
                    (-t * t / 2e-6).exp() as f32
                })
                .collect();
            let out = resample(&pulse, rate, 16_000).unwrap();
            assert_eq!(out.len(), 16_000, "{rate}");
            let (moment, mass) = out.iter().enumerate().fold((0.0, 0.0), |(m, w), (i, &x)| {
                (m + i as f64 * f64::from(x), w + f64::from(x))
            });
            let centre = moment / mass;
            assert!((centre - 8_000.0).abs() < 1.05, "{rate}: centre {centre}");
            // A tone in band keeps its level (RMS of a unit sine: 1/√2).
            let tone = resample(&tone(440.0, rate, 1.0), rate, 16_000).unwrap();
            let rms = (tone[400..15_600].iter().map(|x| x * x).sum::<f32>() / 15_200.0).sqrt();
            assert!((rms - 0.5f32.sqrt()).abs() < 1e-3, "{rate}: RMS {rms}");
        }
    }

    #[test]
    fn removes_content_above_the_new_nyquist() {
        // 12 kHz is above 8 kHz, the Nyquist frequency at 16 kHz: it must not fold back.
        let out = resample(&tone(12_000.0, 48_000, 1.0), 48_000, 16_000).unwrap();
        let rms = (out[400..15_600].iter().map(|x| x * x).sum::<f32>() / 15_200.0).sqrt();
        assert!(rms < 1e-2, "aliased energy, rms {rms}");
    }

    #[test]
    fn rejects_nonsense_rates() {
        assert_eq!(
            resample(&[0.0; 10], 0, 16_000),
            Err(ResampleError::BadRate(0))
        );
        assert_eq!(resample(&[0.0; 10], 16_000, 16_000).unwrap().len(), 10);
    }
}
