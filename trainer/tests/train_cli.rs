//! An end-to-end tiny training run: a synthetic corpus, one epoch on the CPU, a model
//! directory with the default combined score that loads and scores, switches between score
//! rules, and a resumed run that keeps the finished epoch.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use mimimi_dsp::Normalization;
use mimimi_model::{Member, ModelFiles, Needs, ScoreHeads, ScoreRule};
use std::path::Path;

mod common;

use common::{ok, trainer};

fn history(model: &Path) -> Vec<serde_json::Value> {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("checkpoint/state.json")).unwrap())
            .unwrap();
    state["history"].as_array().unwrap().clone()
}

#[test]
fn tiny_training_run_exports_a_model_that_scores_and_resumes() {
    let dir = std::env::temp_dir().join(format!("mimimi-train-{}", std::process::id()));
    let data = dir.join("data");
    let model = dir.join("model");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ok(trainer(&[
        "synth",
        "--out",
        &s(&data),
        "--types",
        "pump",
        "--ids",
        "00,02",
        "--train-per-id",
        "24",
        "--test-normal-per-id",
        "1",
        "--test-anomaly-per-id",
        "1",
        "--seconds",
        "3",
        "--seed",
        "5",
    ]));
    let (data_arg, model_arg) = (s(&data), s(&model));
    let train_args = |out: &str, epochs: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "train",
            "--data",
            &data_arg,
            "--type",
            "pump",
            "--out",
            out,
            "--epochs",
            epochs,
            "--batch",
            "4",
            "--backend",
            "ndarray",
            "--seed",
            "3",
        ];
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };
    let run = |args: Vec<String>| trainer(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let train = |epochs: &str, resume: bool| {
        let extra: &[&str] = if resume { &["--resume"] } else { &[] };
        ok(run(train_args(&model_arg, epochs, extra)))
    };
    // Built without its GPU backend (as CI's tests build it), the trainer says how to train.
    #[cfg(not(feature = "gpu"))]
    {
        let mut args = train_args(&s(&dir.join("gpu")), "1", &[]);
        let backend = args.iter().position(|a| a == "ndarray").unwrap();
        args[backend] = "wgpu".into();
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("built without GPU support"),
            "{err}"
        );
        assert!(err.contains("--backend ndarray"), "{err}");
    }
    train("1", false);
    let first = history(&model);
    assert_eq!(first.len(), 1);

    let files = ModelFiles::load(&model).unwrap();
    assert_eq!(files.manifest.classes, ["00", "02"]);
    assert_eq!(
        files.manifest.thresholds.len(),
        2,
        "thresholds from the validation normals"
    );
    // The finished model is scored by the default combined score, one detector per ID.
    let ScoreRule::Combined { ids } = &files.manifest.score_rule else {
        panic!(
            "not the combined rule: {:?}",
            files.manifest.score_rule.describe()
        );
    };
    assert_eq!(ids.len(), 2);
    assert_eq!(
        ids["02"].needs(),
        Member::parse_list(mimimi_model::combined::DEFAULT_MEMBERS).unwrap()
    );
    let recalibrated = dir.join("recalibrated");
    files.save(&recalibrated).unwrap();
    let calibrate = |heads: &[&str]| {
        let mut args = vec!["calibrate", "--model"];
        let dir = s(&recalibrated);
        args.extend([dir.as_str(), "--data", &data_arg, "--seed", "3"]);
        args.extend(heads);
        ok(trainer(&args));
        ModelFiles::load(&recalibrated).unwrap().manifest
    };
    // The thresholds belong to the model's score rule: `calibrate` with the run's seed fits
    // and sets the same ones.
    let same = calibrate(&[]);
    for (id, t) in &files.manifest.thresholds {
        let again = same.thresholds[id];
        assert!(
            (again - t).abs() <= 1e-6 * t.abs().max(1.0),
            "ID {id}: train {t}, calibrate {again}"
        );
    }
    // Switched to cross-entropy: the sum of the heads scores higher than the total head alone.
    let sum = calibrate(&["--score-heads", "sum"]);
    let total = calibrate(&["--score-heads", "total"]);
    assert_eq!(
        total.score_rule,
        ScoreRule::CrossEntropy {
            heads: ScoreHeads::Total
        }
    );
    for (id, t) in &sum.thresholds {
        assert!(
            total.thresholds[id] < 0.9 * t,
            "ID {id}: total head {}, sum {t}",
            total.thresholds[id]
        );
    }
    let clip = data.join("pump/test/anomaly_id_02_00000000_cavitation.wav");
    let score_json = |model: &Path| -> serde_json::Value {
        let out = ok(trainer(&[
            "score",
            "--json",
            "--id",
            "02",
            "--model",
            &s(model),
            &s(&clip),
        ]));
        serde_json::from_str(out.lines().next().unwrap()).unwrap()
    };
    let line = score_json(&model);
    assert!(line["score"].as_f64().unwrap().is_finite());
    assert!(line["anomalous"].is_boolean());
    // The combined score says how sure it is.
    assert!(line["margin"].as_f64().is_some(), "{line}");
    assert!(
        ["normal", "anomalous", "cannot_tell"].contains(&line["call"].as_str().unwrap()),
        "{line}"
    );

    // Switched to clip Gaussians of the fused features: each ID's Gaussian is fitted to its
    // training normals only (12 clips per ID less those the validation split holds out for
    // the thresholds), and `score` then gives the distance the library computes.
    let gaussian = calibrate(&["--clip-gaussians", "fused"]);
    let ScoreRule::ClipGaussians(g) = &gaussian.score_rule else {
        panic!("not clip Gaussians");
    };
    for id in ["00", "02"] {
        let held_out = gaussian.metrics["calibration"]["ids"][id]["validation_clips"]
            .as_u64()
            .unwrap() as usize;
        assert!(held_out >= 3, "ID {id}: {held_out} validation clips");
        assert_eq!(g.ids[id].samples + held_out, 24, "ID {id}");
        assert_eq!(g.ids[id].dim(), 64, "fused: 8 channels × 8 rows");
    }
    let line = score_json(&recalibrated);
    let switched = ModelFiles::load(&recalibrated).unwrap();
    let device = mimimi_model::Device::flex();
    let network = switched.network(&device).unwrap();
    let decoded = mimimi_dsp::decode_wav(&std::fs::read(&clip).unwrap()).unwrap();
    let prepared = mimimi_dsp::FrontEnd::new(switched.manifest.frontend)
        .prepare(&decoded, 0)
        .unwrap();
    let needs = Needs::of_members(&Member::parse_list("network:fused").unwrap());
    let evidence = mimimi_model::evidence::evidence_blocking(
        &network,
        &switched.manifest.frontend,
        &needs,
        None,
        &prepared,
        &device,
    )
    .unwrap();
    let rows = &evidence.rows[&Member::parse("network:fused").unwrap()];
    let mean: Vec<f32> = mimimi_model::combined::clip_mean(rows)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let want = g.ids["02"].mahalanobis2(&mean) / 64.0;
    let got = line["score"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= 1e-4 * want,
        "score {got}, library {want}"
    );
    assert_eq!(line["threshold"].as_f64(), Some(gaussian.thresholds["02"]));
    // `eval` scores the same clip the same way (its own single forward pass).
    let gaussian_json = dir.join("gaussian-eval.json");
    ok(trainer(&[
        "eval",
        "--data",
        &data_arg,
        "--model",
        &s(&recalibrated),
        "--seed",
        "3",
        "--json",
        &s(&gaussian_json),
    ]));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&gaussian_json).unwrap()).unwrap();
    let id02 = report["ids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "02")
        .unwrap();
    let evaluated = id02["anomalous_scores"][0].as_f64().unwrap();
    assert!(
        (evaluated - got).abs() <= 1e-4 * got,
        "eval {evaluated}, score {got}"
    );
    // Its accuracy is the share of normal clips whose total head picks their own ID.
    let normal = data.join("pump/test/normal_id_02_00000000.wav");
    let decoded = mimimi_dsp::decode_wav(&std::fs::read(&normal).unwrap()).unwrap();
    let prepared = mimimi_dsp::FrontEnd::new(switched.manifest.frontend)
        .prepare(&decoded, 0)
        .unwrap();
    let classify = Needs {
        classify: true,
        ..Needs::default()
    };
    let picked = mimimi_model::evidence::evidence_blocking(
        &network,
        &switched.manifest.frontend,
        &classify,
        None,
        &prepared,
        &device,
    )
    .unwrap()
    .picked();
    let own = if picked == Some(1) { 1.0 } else { 0.0 };
    assert_eq!(id02["accuracy"].as_f64(), Some(own), "{id02}");
    assert!(
        (gaussian.thresholds["02"] - sum.thresholds["02"]).abs() > 1e-3 * sum.thresholds["02"],
        "the Gaussian rule's own thresholds"
    );
    // Back to cross-entropy: the Gaussians go, the thresholds return to the sum's.
    let back = calibrate(&["--score-heads", "sum"]);
    assert_eq!(
        back.score_rule,
        ScoreRule::CrossEntropy {
            heads: ScoreHeads::Sum
        }
    );
    for (id, t) in &sum.thresholds {
        assert!((back.thresholds[id] - t).abs() <= 1e-4 * t, "ID {id}");
    }
    // And to the combined score of other members, with the network among them.
    let combined = calibrate(&["--combined", "modulation+network:block5"]);
    let ScoreRule::Combined { ids } = &combined.score_rule else {
        panic!("not combined");
    };
    assert_eq!(
        ids["00"].needs(),
        Member::parse_list("network:block5+modulation").unwrap()
    );

    // Evaluation on the test clips: the JSON report and the SVG/Markdown report.
    let json = dir.join("eval.json");
    let report = dir.join("report");
    let out = ok(trainer(&[
        "eval",
        "--data",
        &data_arg,
        "--model",
        &model_arg,
        "--seed",
        "3",
        "--json",
        &s(&json),
        "--report",
        &s(&report),
    ]));
    assert!(out.contains("| 02 | 1 | 1 |"), "{out}");
    let eval: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(eval["ids"].as_array().unwrap().len(), 2);
    for key in [
        "auc",
        "pauc",
        "kinds",
        "accuracy",
        "threshold",
        "precision",
        "recall",
        "f1",
        "cannot_tell",
    ] {
        assert!(eval["ids"][0].get(key).is_some(), "{key}");
    }
    let auc = eval["ids"][1]["auc"].as_f64().unwrap();
    assert!(
        auc == 0.0 || auc == 0.5 || auc == 1.0,
        "one normal, one anomaly: AUC {auc}"
    );
    assert!(
        std::fs::read_to_string(report.join("pump_network_id_00.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    assert!(
        std::fs::read_to_string(report.join("report.md"))
            .unwrap()
            .contains("| **mean** |")
    );

    // A test set without one of the model's IDs: that ID is left out, the means stand.
    let partial = dir.join("partial");
    std::fs::create_dir_all(partial.join("pump/test")).unwrap();
    for entry in std::fs::read_dir(data.join("pump/test")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.contains("_id_02_") {
            std::fs::copy(&path, partial.join("pump/test").join(name)).unwrap();
        }
    }
    let partial_json = dir.join("partial.json");
    let out = ok(trainer(&[
        "eval",
        "--data",
        &s(&partial),
        "--model",
        &model_arg,
        "--json",
        &s(&partial_json),
    ]));
    assert!(!out.contains("| 00 |"), "{out}");
    let eval: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&partial_json).unwrap()).unwrap();
    assert_eq!(eval["ids"].as_array().unwrap().len(), 1);
    assert_eq!(eval["ids"][0]["id"], "02");
    assert!(eval["mean_auc"].as_f64().is_some(), "{eval}");

    // Each anomalous clip's kind is in its name: the report has it per ID and per type.
    assert_eq!(eval["ids"][0]["kinds"][0]["kind"], "cavitation", "{eval}");
    assert_eq!(eval["kinds"][0]["kind"], "cavitation");

    // The f16 export: half the bytes, loads, and scores within f16 rounding of the f32 model
    // (by cross-entropy, which reads every weight).
    calibrate(&["--score-heads", "sum"]);
    let files = ModelFiles::load(&recalibrated).unwrap();
    let f16 = dir.join("f16");
    let out = ok(trainer(&[
        "export",
        "--model",
        &s(&recalibrated),
        "--out",
        &s(&f16),
        "--dtype",
        "f16",
    ]));
    assert!(out.contains("weights.f16.bpk"), "{out}");
    let half = ModelFiles::load(&f16).unwrap();
    assert_eq!(half.manifest.weights.dtype, "f16");
    assert_eq!(half.manifest.thresholds, files.manifest.thresholds);
    let ratio = half.weights.len() as f64 / files.weights.len() as f64;
    assert!((0.45..0.56).contains(&ratio), "f16/f32 size {ratio}");
    let score_with = |m: &Path| score_json(m)["score"].as_f64().unwrap();
    let (full, halved) = (score_with(&recalibrated), score_with(&f16));
    assert!(
        (full - halved).abs() <= 0.02 * full.abs().max(0.01),
        "f32 {full} vs f16 {halved}"
    );

    // The classical baseline on the same data: same report shape, method named.
    let json = dir.join("baseline.json");
    let out = ok(trainer(&[
        "eval",
        "--data",
        &data_arg,
        "--method",
        "baseline",
        "--type",
        "pump",
        "--seed",
        "3",
        "--json",
        &s(&json),
    ]));
    assert!(out.contains("# pump (baseline)"), "{out}");
    let base: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(base["method"], "baseline");
    assert_eq!(base["ids"].as_array().unwrap().len(), 2);
    assert!(base["ids"][0]["threshold"].as_f64().unwrap() > 0.0);
    assert!(
        trainer(&["eval", "--data", &data_arg, "--method", "baseline"])
            .status
            .code()
            == Some(2),
        "--type is required for the baseline"
    );

    // "Interrupted" after epoch 1: resuming runs epoch 2 only and keeps epoch 1 as it was.
    let out = train("2", true);
    assert!(out.contains("resuming after epoch 1"), "{out}");
    let second = history(&model);
    assert_eq!(second.len(), 2);
    assert_eq!(second[0], first[0]);
    // Resuming with another normalisation would mix two inputs in one model: refused.
    let out = run(train_args(
        &model_arg,
        "3",
        &["--resume", "--compress", "0.3"],
    ));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--compress"));
    assert_eq!(history(&model).len(), 2, "nothing trained");

    // A compressed spectrum: the manifest's front end carries it and scoring uses it (the
    // same weights read with the linear spectrum score the clip differently).
    let compressed = dir.join("compressed");
    ok(run(train_args(
        &s(&compressed),
        "1",
        &["--compress", "0.3", "--rule", "cross-entropy"],
    )));
    let files = ModelFiles::load(&compressed).unwrap();
    assert_eq!(
        files.manifest.frontend.normalization,
        Normalization::PowerLawPerClip {
            exponent: 0.3,
            eps: 1e-8
        }
    );
    let linear = dir.join("compressed-read-linear");
    let mut relabelled = files.clone();
    relabelled.manifest.frontend.normalization = Normalization::default();
    relabelled.save(&linear).unwrap();
    let (with, without) = (score_with(&compressed), score_with(&linear));
    assert!(
        (with - without).abs() > 1e-3 * with.abs().max(without.abs()),
        "compressed {with}, linear {without}"
    );
    let out = run(train_args(
        &s(&dir.join("bad")),
        "1",
        &["--compress", "1.5"],
    ));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exponent must be in (0, 1]"));
    std::fs::remove_dir_all(&dir).ok();
}
