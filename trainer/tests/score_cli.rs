//! `trainer score` on a model directory and a WAV file prints the score that the library
//! computes in-process, and bad files get their message without stopping the others.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use mimimi_dsp::wav::{SampleFormat, encode_wav};
use mimimi_dsp::{Audio, FrontEnd, FrontEndConfig};
use mimimi_model::evidence::evidence_blocking;
use mimimi_model::file::{Manifest, ModelFiles, Provenance, WeightsInfo};
use mimimi_model::score::ScoreHeads;
use mimimi_model::{ClipScore, Device, Needs, Network, NetworkConfig, ScoreRule};
use std::process::{Command, Stdio};

fn noise(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.2
        })
        .collect()
}

#[test]
fn score_prints_the_library_score() {
    let dir = std::env::temp_dir().join(format!("mimimi-trainer-score-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let device = Device::flex();
    let network = Network::new(&NetworkConfig::new(2), &device);
    let manifest = Manifest {
        format_version: 0,
        machine_type: "pump".into(),
        classes: vec!["00".into(), "02".into()],
        network: NetworkConfig::new(2),
        frontend: FrontEndConfig::default(),
        thresholds: [("02".to_string(), 0.5)].into(),
        threshold_rule: "test".into(),
        score_rule: ScoreRule::CrossEntropy {
            heads: ScoreHeads::Sum,
        },
        metrics: serde_json::Value::Null,
        provenance: Provenance::default(),
        weights: WeightsInfo::unwritten(),
    };
    let files = ModelFiles::from_network(network, manifest).unwrap();
    let model_dir = dir.join("model");
    files.save(&model_dir).unwrap();

    // 5 s at 44.1 kHz, stereo: exercises resampling and channel choice.
    let audio = Audio {
        sample_rate: 44_100,
        channels: vec![noise(220_500, 1), noise(220_500, 2)],
    };
    let wav = dir.join("clip.wav");
    std::fs::write(&wav, encode_wav(&audio, SampleFormat::Pcm16)).unwrap();
    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["score", "--json", "--id", "02", "--model"])
        .arg(&model_dir)
        .arg(&wav)
        .arg(&empty)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "one bad file: exit 1\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("empty.wav: the file is empty"), "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();

    // The same clip through the library.
    let decoded = mimimi_dsp::decode_wav(&std::fs::read(&wav).unwrap()).unwrap();
    let prepared = FrontEnd::default().prepare(&decoded, 0).unwrap();
    let net = ModelFiles::load(&model_dir)
        .unwrap()
        .network(&device)
        .unwrap();
    // The manifest's rule (the sum of the heads), not the total head alone.
    let score_with = |heads| {
        let needs = Needs {
            cross_entropy: Some(heads),
            ..Needs::default()
        };
        let e = evidence_blocking(
            &net,
            &FrontEndConfig::default(),
            &needs,
            Some(1),
            &prepared,
            &device,
        )
        .unwrap();
        ClipScore::from_windows(e.cross_entropy)
    };
    let (want, total) = (score_with(ScoreHeads::Sum), score_with(ScoreHeads::Total));
    assert!(
        want.score > total.score * 1.5,
        "{} vs {}",
        want.score,
        total.score
    );
    let got = line["score"].as_f64().unwrap();
    let want_first = want.score;
    assert!(
        (got - want.score).abs() <= 1e-9 * want.score.abs().max(1.0),
        "{got} vs {}",
        want.score
    );
    assert_eq!(
        line["window_scores"].as_array().unwrap().len(),
        prepared.windows.len()
    );
    assert_eq!(line["anomalous"].as_bool().unwrap(), want.score > 0.5);

    // `--channel 1` judges the second channel (the only one decoded); a channel the file lacks
    // is refused by name.
    let second = |channel: &str| {
        Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args([
                "score",
                "--json",
                "--id",
                "02",
                "--channel",
                channel,
                "--model",
            ])
            .arg(&model_dir)
            .arg(&wav)
            .output()
            .unwrap()
    };
    let out = second("1");
    assert!(out.status.success(), "{out:?}");
    let line: serde_json::Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let prepared = FrontEnd::default().prepare(&decoded, 1).unwrap();
    let e = evidence_blocking(
        &net,
        &FrontEndConfig::default(),
        &Needs {
            cross_entropy: Some(ScoreHeads::Sum),
            ..Needs::default()
        },
        Some(1),
        &prepared,
        &device,
    )
    .unwrap();
    let want = ClipScore::from_windows(e.cross_entropy).score;
    let got = line["score"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0) && (got - want_first).abs() > 1e-6,
        "channel 1: {got} vs {want} (channel 0: {want_first})"
    );
    let out = second("2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1) && stderr.contains("channel 2 requested"),
        "{:?}: {stderr}",
        out.status
    );

    // `trainer score ... | head`: the reader goes away before the first line; the trainer
    // stops quietly with success instead of panicking on the closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["score", "--id", "02", "--model"])
        .arg(&model_dir)
        .args([&wav, &wav, &wav])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "{:?}: {stderr}",
        out.status
    );
    std::fs::remove_dir_all(&dir).ok();
}
