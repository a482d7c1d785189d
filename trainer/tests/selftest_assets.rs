//! The page's self-test files (`web/assets/selftest`) are the reference network and clip, and
//! reproduce the reference's anomaly score natively.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use mimimi_dsp::{FrontEnd, decode_wav};
use mimimi_model::evidence::evidence_blocking;
use mimimi_model::state_dict::read_safetensors;
use mimimi_model::{ClipScore, Device, ModelFiles, Needs, ScoreRule};
use std::path::PathBuf;

#[test]
fn selftest_assets_reproduce_the_reference_score() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixtures = read_safetensors(
        &std::fs::read(root.join("tests/fixtures/reference/fixtures.safetensors")).unwrap(),
    )
    .unwrap();
    let dir = root.join("web/assets/selftest");
    let files = ModelFiles::load(&dir).unwrap();
    let audio = decode_wav(&std::fs::read(dir.join("clip.wav")).unwrap()).unwrap();
    assert_eq!(
        audio.channels[0], fixtures["b.signal"].data,
        "clip.wav is b.signal"
    );
    let mut config = files.manifest.frontend;
    config.examples.whole_clip = true;
    let prepared = FrontEnd::new(config).prepare(&audio, 0).unwrap();
    let device = Device::flex();
    // An old-form manifest (no score_rule): the reference's score, the total head.
    let ScoreRule::CrossEntropy { heads } = files.manifest.score_rule else {
        panic!("the self-test model scores by cross-entropy");
    };
    let needs = Needs {
        cross_entropy: Some(heads),
        ..Needs::default()
    };
    let network = files.network(&device).unwrap();
    let evidence =
        evidence_blocking(&network, &config, &needs, Some(1), &prepared, &device).unwrap();
    let score = ClipScore::from_windows(evidence.cross_entropy).score;
    let want = f64::from(fixtures["b.anomaly_score"].data[0]);
    assert!(
        (score - want).abs() <= 1e-4 * want.max(1.0),
        "{score} vs {want}"
    );
}
