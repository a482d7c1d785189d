//! Enrollment from the command line: `trainer enroll` writes a profile that `trainer score
//! --profile` uses and that a profile of another model cannot be used with; `trainer
//! enroll-eval` trains a model without the held-out ID, enrolls it and reports the network
//! against the baseline for each K.

mod common;

use common::{ok, s, trainer};

#[test]
fn enroll_scores_with_the_profile_and_enroll_eval_reports_each_k() {
    let dir = std::env::temp_dir().join(format!("mimimi-enroll-{}", std::process::id()));
    let data = dir.join("data");
    ok(trainer(&[
        "synth",
        "--out",
        &s(&data),
        "--types",
        "slider",
        "--ids",
        "00,02,04",
        "--train-per-id",
        "6",
        "--test-normal-per-id",
        "2",
        "--test-anomaly-per-id",
        "2",
        "--seconds",
        "3",
        "--seed",
        "4",
    ]));
    let work = dir.join("work");
    let json = dir.join("enroll.json");
    let out = ok(trainer(&[
        "enroll-eval",
        "--data",
        &s(&data),
        "--types",
        "slider",
        "--holdout",
        "04",
        "--k",
        "3,5",
        "--work",
        &s(&work),
        "--epochs",
        "1",
        "--batch",
        "4",
        "--backend",
        "ndarray",
        "--json",
        &s(&json),
    ]));
    // The held-out model never saw ID 04.
    let model = work.join("slider-without-04");
    let files = mimimi_model::ModelFiles::load(&model).unwrap();
    assert_eq!(files.manifest.classes, ["00", "02"]);
    assert!(out.contains("| slider | 04 | 3 |"), "{out}");
    assert!(out.contains("| slider | 04 | 5 |"), "{out}");
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // Per K: 3 layer choices × 2 detectors + the baseline.
    assert_eq!(rows.len(), 2 * 7);
    for row in &rows {
        let auc = row["auc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc), "{row}");
    }
    // A second run reuses the trained model instead of training again.
    let again = ok(trainer(&[
        "enroll-eval",
        "--data",
        &s(&data),
        "--types",
        "slider",
        "--holdout",
        "04",
        "--k",
        "3",
        "--work",
        &s(&work),
        "--epochs",
        "1",
        "--backend",
        "ndarray",
    ]));
    assert!(!again.contains("training slider"), "{again}");

    // enroll → score --profile; the profile refuses a model it was not made with.
    let takes: Vec<String> = (0..5)
        .map(|i| s(&data.join(format!("slider/train/normal_id_04_{i:08}.wav"))))
        .collect();
    let profile = dir.join("profile.json");
    let mut args = vec![
        "enroll".to_string(),
        "--model".into(),
        s(&model),
        "--name".into(),
        "slider 4".into(),
        "--out".into(),
        s(&profile),
    ];
    args.extend(takes.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(ok(trainer(&args)).contains("threshold"));
    let clip = s(&data.join("slider/test/anomaly_id_04_00000000.wav"));
    let out = ok(trainer(&[
        "score",
        "--json",
        "--model",
        &s(&model),
        "--profile",
        &s(&profile),
        &clip,
    ]));
    let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    assert_eq!(line["threshold"], stored["threshold"]);
    assert!(line["score"].as_f64().unwrap() > 0.0);
    assert!(!line["window_scores"].as_array().unwrap().is_empty());

    let other = trainer(&[
        "score",
        "--model",
        "../web/assets/models/slider",
        "--profile",
        &s(&profile),
        &clip,
    ]);
    assert!(!other.status.success());
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("was made with another slider model"),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}
