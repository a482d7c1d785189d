//! `trainer import` reads the reference implementation's checkpoints as they are, and an
//! imported model scores like the reference: the fixture signal, written as a float WAV and
//! scored in whole-clip mode, gives the fixture's anomaly score for class 1.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use mimimi_dsp::Audio;
use mimimi_dsp::wav::{SampleFormat, encode_wav};
use mimimi_model::ModelFiles;
use mimimi_model::state_dict::read_safetensors;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/reference")
        .join(name)
}

fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mimimi-import-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn import(checkpoint: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "import",
        "--pytorch",
        checkpoint.to_str().unwrap(),
        "--type",
        "fan",
    ];
    args.extend_from_slice(&["--ids", "00,01,02,03", "--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    trainer(&args)
}

#[test]
fn imported_reference_checkpoint_scores_the_fixture_signal() {
    let dir = tmp("ckpt");
    let model = dir.join("model");
    let out = import(
        &fixture("reference_checkpoint.pth"),
        &model,
        &["--pad", "reflect"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let files = ModelFiles::load(&model).unwrap();
    assert_eq!(files.manifest.classes, ["00", "01", "02", "03"]);
    assert_eq!(files.manifest.provenance.epochs, Some(7));
    assert!(files.manifest.metrics["reference_checkpoint"]["val_loss"].is_number());

    let fixtures =
        read_safetensors(&std::fs::read(fixture("fixtures.safetensors")).unwrap()).unwrap();
    let signal = fixtures["b.signal"].data.clone();
    let want = f64::from(fixtures["b.anomaly_score"].data[0]);
    let wav = dir.join("b_signal.wav");
    std::fs::write(
        &wav,
        encode_wav(&Audio::mono(16_000, signal), SampleFormat::Float32),
    )
    .unwrap();

    let out = trainer(&[
        "score",
        "--json",
        "--whole-clip",
        "--id",
        "01",
        "--model",
        model.to_str().unwrap(),
        wav.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = line["score"].as_f64().unwrap();
    println!("imported model, whole clip, class 1: {got} (reference {want})");
    assert!(
        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
        "{got} vs {want}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn checkpoint_safetensors_and_bare_state_dict_give_the_same_network() {
    let dir = tmp("same");
    assert!(
        import(&fixture("reference_checkpoint.pth"), &dir.join("a"), &[])
            .status
            .success()
    );
    assert!(
        import(&fixture("weights.safetensors"), &dir.join("b"), &[])
            .status
            .success()
    );
    let a = ModelFiles::load(&dir.join("a")).unwrap();
    let b = ModelFiles::load(&dir.join("b")).unwrap();
    // The records carry fresh parameter ids, so compare what the networks compute.
    let device = mimimi_model::Device::flex();
    let x = mimimi_model::Tensor::<4>::ones([1, 1, 513, 64], &device);
    let run = |m: &ModelFiles| {
        m.network(&device)
            .unwrap()
            .forward(x.clone(), x.clone() * 0.5)
            .total
            .into_data()
    };
    assert_eq!(
        run(&a).as_bytes(),
        run(&b).as_bytes(),
        "the same tensors from both formats"
    );
    // Imported models default to zero padding, as the reference's librosa pipeline does.
    assert_eq!(a.manifest.frontend.stft.pad, mimimi_dsp::PadMode::Zero);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_checkpoints_are_refused_naming_the_problem() {
    let dir = tmp("bad");
    let wrong_ids = trainer(&[
        "import",
        "--pytorch",
        fixture("weights.safetensors").to_str().unwrap(),
        "--type",
        "fan",
        "--ids",
        "00,02",
        "--out",
        dir.join("m").to_str().unwrap(),
    ]);
    assert_eq!(wrong_ids.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong_ids.stderr).contains("4 classes but --ids lists 2"));

    // A checkpoint with one tensor removed and one of the wrong shape.
    let bytes = std::fs::read(fixture("weights.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let write = |skip: &str, reshape: &str, path: &Path| {
        let mut views = Vec::new();
        for (name, view) in st.tensors() {
            if name == skip {
                continue;
            }
            let mut shape = view.shape().to_vec();
            if name == reshape {
                shape = vec![shape.iter().product()];
            }
            let v = safetensors::tensor::TensorView::new(view.dtype(), shape, view.data()).unwrap();
            views.push((name, v));
        }
        std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
    };
    let missing = dir.join("missing.safetensors");
    write("complex_layers.2.bn.running_var", "", &missing);
    let out = import(&missing, &dir.join("m1"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no tensor `complex_layers.2.bn.running_var`"),
        "{err}"
    );
    let misshaped = dir.join("misshaped.safetensors");
    write("", "attention.fc1.weight", &misshaped);
    let err =
        String::from_utf8_lossy(&import(&misshaped, &dir.join("m2"), &[]).stderr).into_owned();
    assert!(
        err.contains("`attention.fc1.weight` has shape [256], expected [32, 8]"),
        "{err}"
    );
    let garbage = dir.join("garbage.pth");
    std::fs::write(&garbage, b"definitely not a checkpoint").unwrap();
    let err = String::from_utf8_lossy(&import(&garbage, &dir.join("m3"), &[]).stderr).into_owned();
    assert!(err.contains("unrecognised checkpoint"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn calibrate_sets_thresholds_from_validation_normals_only() {
    let dir = tmp("calibrate");
    let model = dir.join("model");
    assert!(
        import(&fixture("weights.safetensors"), &model, &[])
            .status
            .success()
    );
    // A small DCASE-layout tree: 20 training normals per ID (two go to validation) and test
    // files whose labels calibration must not read: anomalies that are silent would make any
    // test-based rule fail loudly.
    let data = dir.join("data");
    let mut seed = 1u32;
    let mut noise = |n: usize, amp: f32| -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * amp
            })
            .collect()
    };
    for id in ["00", "01", "02", "03"] {
        let train = data.join("fan/train");
        std::fs::create_dir_all(&train).unwrap();
        for i in 0..20 {
            let clip = Audio::mono(16_000, noise(40_000, 0.2 + 0.01 * i as f32));
            let path = train.join(format!("normal_id_{id}_{i:08}.wav"));
            std::fs::write(path, encode_wav(&clip, SampleFormat::Pcm16)).unwrap();
        }
        let test = data.join("fan/test");
        std::fs::create_dir_all(&test).unwrap();
        std::fs::write(test.join(format!("anomaly_id_{id}_00000000.wav")), b"").unwrap();
    }
    let out = trainer(&[
        "calibrate",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = ModelFiles::load(&model).unwrap();
    for id in ["00", "01", "02", "03"] {
        let t = files.manifest.threshold_of(id).unwrap();
        assert!(t.is_finite() && t > 0.0, "{id}: {t}");
        assert_eq!(
            files.manifest.metrics["calibration"]["ids"][id]["validation_clips"],
            2
        );
    }
    assert!(files.manifest.threshold_rule.contains("gamma"));
    std::fs::remove_dir_all(&dir).ok();
}
