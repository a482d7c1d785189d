//! The signal path against an independent numpy reference (`tests/make_stft_fixtures.py`):
//! each fixture WAV is decoded, its channel picked, resampled if needed, and transformed; the
//! spectrogram must match the reference's direct-DFT result within 1e-5 of its largest
//! magnitude (5e-3 for the 48 kHz file, where the reference is the tone synthesised at 16 kHz
//! and the difference measures the resampler).
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use mimimi_dsp::{FrontEnd, FrontEndConfig, Normalization, PadMode, StftConfig, decode_wav, stft};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Case {
    name: String,
    wav: String,
    channel: usize,
    sample_rate: u32,
    bins: usize,
    frames: usize,
    pad: String,
    resampled: bool,
    norm_stats: [f64; 4],
}

#[derive(Deserialize)]
struct Index {
    cases: Vec<Case>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/stft")
}

fn read_f32(path: PathBuf) -> Vec<f32> {
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
fn stft_matches_numpy_reference() {
    let index: Index =
        serde_json::from_slice(&std::fs::read(dir().join("index.json")).unwrap()).unwrap();
    assert_eq!(index.cases.len(), 7);
    for case in &index.cases {
        let audio = decode_wav(&std::fs::read(dir().join(&case.wav)).unwrap()).unwrap();
        assert_eq!(audio.sample_rate, case.sample_rate, "{}", case.name);
        let pad = if case.pad == "zero" {
            PadMode::Zero
        } else {
            PadMode::Reflect
        };
        let config = FrontEndConfig {
            stft: StftConfig {
                pad,
                ..Default::default()
            },
            normalization: Normalization::None,
            ..Default::default()
        };
        let fe = FrontEnd::new(config);
        let samples = fe.to_model_rate(&audio, case.channel).unwrap();
        let spec = stft::stft(&samples, &config.stft);
        assert_eq!(
            (spec.bins, spec.frames),
            (case.bins, case.frames),
            "{}",
            case.name
        );
        let want_re = read_f32(dir().join(format!("{}.re.f32", case.name)));
        let want_im = read_f32(dir().join(format!("{}.im.f32", case.name)));
        let max = want_re
            .iter()
            .zip(&want_im)
            .map(|(r, i)| r.hypot(*i))
            .fold(0.0f32, f32::max);
        let err = spec
            .re
            .iter()
            .zip(&spec.im)
            .zip(want_re.iter().zip(&want_im))
            .map(|((r, i), (wr, wi))| (r - wr).hypot(i - wi))
            .fold(0.0f32, f32::max);
        let tolerance = if case.resampled { 5e-3 } else { 1e-5 };
        let rel = err / max;
        println!(
            "{}: max |ΔX| / max |X| = {rel:.2e} (tolerance {tolerance:.0e})",
            case.name
        );
        assert!(
            rel <= tolerance,
            "{}: relative error {rel:.3e} > {tolerance:.0e}",
            case.name
        );

        // The per-clip statistics the normalisation uses match the reference's.
        if !case.resampled {
            let mut normed = spec.clone();
            let stats = Normalization::default().apply(&mut normed);
            for (got, want) in stats.iter().zip(case.norm_stats) {
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "{}: {stats:?}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn picking_another_channel_changes_the_result() {
    let audio = decode_wav(&std::fs::read(dir().join("eight_channels.wav")).unwrap()).unwrap();
    assert_eq!(audio.channels.len(), 8);
    let fe = FrontEnd::default();
    let a = fe.prepare(&audio, 0).unwrap();
    let b = fe.prepare(&audio, 5).unwrap();
    assert_ne!(a.spectrogram.re, b.spectrogram.re);
}
