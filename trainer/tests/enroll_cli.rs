//! Enrollment from the command line: `trainer enroll-eval` enrolls every unit of a corpus the
//! model never heard and reports the profile against the baseline for each K; `trainer
//! enroll` writes a profile that `trainer score --profile` uses, that a model it was not made
//! with refuses, and that is refused when damaged.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

mod common;

use common::{ok, s, trainer};

#[test]
fn enroll_eval_reports_each_k_and_profiles_score_and_are_checked() {
    let dir = std::env::temp_dir().join(format!("mimimi-enroll-{}", std::process::id()));
    let data = dir.join("data");
    ok(trainer(&[
        "synth",
        "--out",
        &s(&data),
        "--types",
        "slider",
        "--family",
        "1",
        "--ids",
        "00,02,04",
        "--train-per-id",
        "6",
        "--test-normal-per-id",
        "2",
        "--test-anomaly-per-id",
        "2",
        "--seconds",
        "4",
        "--seed",
        "4",
    ]));
    // A bundled slider model (trained on other units) enrolls these.
    let model = "../web/assets/models/slider";
    let json = dir.join("enroll.json");
    let out = ok(trainer(&[
        "enroll-eval",
        "--model",
        model,
        "--data",
        &s(&data),
        "--k",
        "3,5",
        "--json",
        &s(&json),
    ]));
    assert!(
        out.contains("| slider | 3 |") && out.contains("| slider | 5 |"),
        "{out}"
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // 3 IDs × 2 K × (profile, baseline).
    assert_eq!(rows.len(), 12);
    for row in &rows {
        let auc = row["auc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc), "{row}");
        assert_eq!(
            row["kinds"].as_array().unwrap().len(),
            2,
            "rail damage and dry rail: {row}"
        );
        let profile = row["method"] == "profile";
        assert_eq!(row["false_alarm_rate"].is_number(), profile, "{row}");
    }
    let too_many = trainer(&[
        "enroll-eval",
        "--model",
        model,
        "--data",
        &s(&data),
        "--k",
        "7",
    ]);
    assert!(
        String::from_utf8_lossy(&too_many.stderr).contains("K = 7 needs"),
        "{:?}",
        too_many
    );

    // enroll → score --profile.
    let takes: Vec<String> = (0..5)
        .map(|i| s(&data.join(format!("slider/train/normal_id_04_{i:08}.wav"))))
        .collect();
    let profile = dir.join("profile.json");
    let enroll = |members: &str, out: &std::path::Path| {
        let mut args = vec![
            "enroll",
            "--model",
            model,
            "--name",
            "slider 4",
            "--members",
            members,
        ];
        let out = s(out);
        args.extend(["--out", out.as_str()]);
        args.extend(takes.iter().map(String::as_str));
        ok(trainer(&args))
    };
    assert!(enroll("logmel+modulation", &profile).contains("threshold"));
    let clip = s(&data.join("slider/test/anomaly_id_04_00000000_rail_damage.wav"));
    let score = |profile: &std::path::Path, model: &str| {
        trainer(&[
            "score",
            "--json",
            "--model",
            model,
            "--profile",
            &s(profile),
            &clip,
        ])
    };
    let out = ok(score(&profile, model));
    let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    assert_eq!(line["threshold"], stored["threshold"]);
    assert_eq!(stored["format_version"], 2);
    assert!(line["score"].as_f64().unwrap().is_finite());
    assert!(line["margin"].as_f64().is_some(), "{line}");
    assert!(!line["window_scores"].as_array().unwrap().is_empty());
    // Rail damage (impacts of 2 kHz during travel) is far above the takes' normal sound.
    assert_eq!(line["call"], "anomalous", "{line}");

    // A profile with the network among its members works the same way.
    let with_network = dir.join("with-network.json");
    enroll("logmel+network:block5", &with_network);
    ok(score(&with_network, model));

    // Another slider model (the same weights stored as f32: other bytes) refuses the profile.
    let other = dir.join("other-slider");
    ok(trainer(&[
        "export",
        "--model",
        model,
        "--out",
        &s(&other),
        "--dtype",
        "f32",
    ]));
    let refused = score(&profile, &s(&other));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("was made with another slider model"),
        "{stderr}"
    );

    // A damaged profile is an error, never a verdict: a zero spread would turn every score
    // into infinity or NaN, a huge threshold would call everything normal.
    for (path, value) in [
        ("/detector/members/0/normal/std", serde_json::json!(0.0)),
        ("/threshold", serde_json::json!(1e300)),
        ("/detector/members/0/gaussian/dim", serde_json::json!(3)),
    ] {
        let mut damaged = stored.clone();
        *damaged.pointer_mut(path).unwrap() = value;
        let file = dir.join("damaged.json");
        std::fs::write(&file, damaged.to_string()).unwrap();
        let out = score(&file, model);
        assert_eq!(out.status.code(), Some(2), "{path}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("damaged"),
            "{path}: {:?}",
            out
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
