//! Structure of the network and the model file format.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use burn::tensor::{Device, Distribution, Tensor};
use mimimi_dsp::ConfigError;
use mimimi_dsp::{FrontEndConfig, Normalization};
use mimimi_model::file::{
    IdError, Manifest, ManifestError, ModelError, ModelFiles, Provenance, WeightsInfo,
};
use mimimi_model::rule::RuleError;
use mimimi_model::{Network, NetworkConfig, ScoreHeads, ScoreRule};

#[test]
fn parameter_count_is_859_666_plus_15_per_class() {
    let device = Device::flex();
    for n in [2, 4, 7] {
        let config = NetworkConfig::new(n);
        let net = Network::new(&config, &device);
        assert_eq!(
            net.num_trainable_params(),
            config.expected_param_count(),
            "N = {n}"
        );
    }
    assert_eq!(NetworkConfig::new(4).expected_param_count(), 859_726);
}

#[test]
fn output_shapes_for_a_64_frame_example() {
    let device = Device::flex();
    let net = Network::new(&NetworkConfig::new(4), &device);
    let x = || Tensor::<4>::random([2, 1, 513, 64], Distribution::Normal(0.0, 1.0), &device);
    let trace = net.forward_trace(x(), x());
    let sizes: Vec<[usize; 4]> = trace.blocks.iter().map(|b| b.re.dims()).collect();
    assert_eq!(
        sizes,
        vec![
            [2, 45, 257, 32],
            [2, 90, 129, 16],
            [2, 90, 65, 8],
            [2, 90, 33, 4],
            [2, 45, 17, 3]
        ]
    );
    assert_eq!(trace.fm.dims(), [2, 4, 8, 3]);
    assert_eq!(trace.fc.dims(), [2, 4, 8, 3]);
    assert_eq!(trace.t.dims(), [2, 4, 8, 3]);
    assert_eq!(trace.outputs.total.dims(), [2, 4]);
    assert_eq!(NetworkConfig::output_frames(64), Some(3));
    assert_eq!(NetworkConfig::output_frames(313), Some(19));
}

#[test]
fn initialisation_follows_the_reference() {
    let device = Device::flex();
    let net = Network::new(&NetworkConfig::new(4), &device);
    // Kaiming normal, fan-out, ReLU gain: std = sqrt(2 / (90·5·3)) for block 3.
    let w = net.blocks[2].conv.real.weight.val();
    let n = w.dims().iter().product::<usize>() as f32;
    let std = (w.clone().square().sum().into_scalar::<f32>() / n).sqrt();
    let want = (2.0f32 / (90.0 * 15.0)).sqrt();
    assert!((std / want - 1.0).abs() < 0.05, "std {std} vs {want}");
    let lin = net.classifier_total.weight.val();
    let std = (lin.square().sum().into_scalar::<f32>() / 16.0).sqrt();
    assert!(std < 0.03 && std > 0.002, "linear std {std}");
    let bias = net.blocks[0].conv.imag.bias.as_ref().unwrap().val();
    assert_eq!(bias.abs().sum().into_scalar::<f32>(), 0.0);
}

fn manifest() -> Manifest {
    Manifest {
        format_version: 0,
        machine_type: "fan".into(),
        classes: vec!["00".into(), "02".into(), "04".into(), "06".into()],
        network: NetworkConfig::new(4),
        frontend: FrontEndConfig::default(),
        thresholds: [("00".to_string(), 1.5)].into(),
        threshold_rule: "test".into(),
        score_rule: ScoreRule::CrossEntropy {
            heads: Default::default(),
        },
        metrics: serde_json::json!({}),
        provenance: Provenance {
            source: "test".into(),
            ..Default::default()
        },
        weights: WeightsInfo::unwritten(),
    }
}

#[test]
fn model_files_round_trip_bit_for_bit() {
    let device = Device::flex();
    let net = Network::new(&NetworkConfig::new(4), &device);
    let x = Tensor::<4>::random([1, 1, 513, 64], Distribution::Normal(0.0, 1.0), &device);
    let before = net.forward(x.clone(), x.clone() * 0.5).total.into_data();
    let files = ModelFiles::from_network(net, manifest()).unwrap();
    let dir = std::env::temp_dir().join(format!("mimimi-roundtrip-{}", std::process::id()));
    files.save(&dir).unwrap();
    let loaded = ModelFiles::load(&dir).unwrap();
    assert_eq!(loaded.manifest, files.manifest);
    let after = loaded
        .network(&device)
        .unwrap()
        .forward(x.clone(), x * 0.5)
        .total
        .into_data();
    assert_eq!(
        before.as_bytes(),
        after.as_bytes(),
        "outputs must be identical bit for bit"
    );
    assert_eq!(loaded.manifest.threshold_of("00").unwrap(), 1.5);
    assert!(matches!(
        loaded.manifest.threshold_of("02"),
        Err(IdError::NoThreshold(_))
    ));
    assert!(matches!(
        loaded.manifest.class_of("99"),
        Err(IdError::Unknown { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn damaged_or_mismatched_models_are_refused_clearly() {
    let device = Device::flex();
    let files = ModelFiles::from_network(Network::new(&NetworkConfig::new(4), &device), manifest())
        .unwrap();
    let json = serde_json::to_vec(&files.manifest).unwrap();

    let mut damaged = files.weights.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x55;
    let err = ModelFiles::from_bytes(&json, damaged).unwrap_err();
    assert!(matches!(err, ModelError::Checksum { .. }), "{err}");

    let mut newer = files.manifest.clone();
    newer.format_version = 99;
    let err = ModelFiles::from_bytes(&serde_json::to_vec(&newer).unwrap(), files.weights.clone())
        .unwrap_err();
    assert!(
        matches!(err, ModelError::Version { found: 99, .. }),
        "{err}"
    );

    let err = ModelFiles::from_bytes(b"<html>not found</html>", files.weights.clone()).unwrap_err();
    assert!(matches!(err, ModelError::BadManifest(_)), "{err}");

    // A front end no spectrum can go through: a power-law exponent of 0 or beyond 1.
    for exponent in [0.0, 2.0] {
        let mut odd = files.manifest.clone();
        odd.frontend.normalization = Normalization::PowerLawPerClip {
            exponent,
            eps: 1e-8,
        };
        let err = ModelFiles::from_bytes(&serde_json::to_vec(&odd).unwrap(), files.weights.clone())
            .unwrap_err();
        assert!(
            matches!(
                &err,
                ModelError::BadManifest(ManifestError::FrontEnd(ConfigError::Normalization(_)))
            ),
            "{err}"
        );
    }

    // Clip Gaussians that miss a machine ID, or whose factor was cut short.
    let gaussian =
        mimimi_model::Gaussian::fit(&[vec![0.0f32, 1.0], vec![1.0, 0.5], vec![0.3, 0.2]]).unwrap();
    let gaussians = |ids: &[&str]| {
        ScoreRule::ClipGaussians(mimimi_model::ClipGaussians {
            embedding: mimimi_model::EmbeddingSpec::parse("block5").unwrap(),
            ids: ids
                .iter()
                .map(|id| (id.to_string(), gaussian.clone()))
                .collect(),
        })
    };
    let mut with = files.manifest.clone();
    with.score_rule = gaussians(&["00", "02", "04", "06"]);
    ModelFiles::from_bytes(&serde_json::to_vec(&with).unwrap(), files.weights.clone()).unwrap();
    with.score_rule = gaussians(&["00", "02", "04"]);
    let err = ModelFiles::from_bytes(&serde_json::to_vec(&with).unwrap(), files.weights.clone())
        .unwrap_err();
    assert!(
        matches!(&err, ModelError::BadManifest(ManifestError::Rule(RuleError::MissingId(id))) if id == "06"),
        "{err}"
    );
    // A factor cut short in the file, and one with a zero on its diagonal.
    with.score_rule = gaussians(&["00", "02", "04", "06"]);
    let mut json = serde_json::to_value(&with).unwrap();
    let factor = &mut json["score_rule"]["ids"]["04"]["chol_lower"];
    *factor = factor.as_str().unwrap()[..8].into();
    let err = ModelFiles::from_bytes(&serde_json::to_vec(&json).unwrap(), files.weights.clone())
        .unwrap_err();
    // (Read while parsing: the message names the ID.)
    assert!(
        matches!(&err, ModelError::BadManifest(ManifestError::Json(e)) if e.to_string().contains("machine ID 04")),
        "{err}"
    );
    // (A singular factor cannot be written at all, so it is zeroed in the file.)
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut json = serde_json::to_value(&with).unwrap();
    let factor = &mut json["score_rule"]["ids"]["04"]["chol_lower"];
    let mut bytes = b64.decode(factor.as_str().unwrap()).unwrap();
    bytes[..4].fill(0);
    *factor = b64.encode(bytes).into();
    let err = ModelFiles::from_bytes(&serde_json::to_vec(&json).unwrap(), files.weights.clone())
        .unwrap_err();
    assert!(
        matches!(&err, ModelError::BadManifest(ManifestError::Json(e)) if e.to_string().contains("machine ID 04")),
        "{err}"
    );

    // The older forms still load as the rules they meant: `score_heads` alone, and clip
    // Gaussians beside it (the bundled models before the combined score). Both forms at once
    // are refused rather than guessed at.
    let mut old = serde_json::to_value(&files.manifest).unwrap();
    old.as_object_mut().unwrap().remove("score_rule");
    let parse = |v: &serde_json::Value| {
        ModelFiles::from_bytes(&serde_json::to_vec(v).unwrap(), files.weights.clone())
            .map(|m| m.manifest.score_rule)
    };
    assert_eq!(
        parse(&old).unwrap(),
        ScoreRule::CrossEntropy {
            heads: ScoreHeads::Total
        }
    );
    old["score_heads"] = "sum".into();
    assert_eq!(
        parse(&old).unwrap(),
        ScoreRule::CrossEntropy {
            heads: ScoreHeads::Sum
        }
    );
    let with_gaussians = serde_json::to_value(&with).unwrap();
    old["clip_gaussians"] = with_gaussians["score_rule"].clone();
    old["clip_gaussians"]
        .as_object_mut()
        .unwrap()
        .remove("kind");
    assert!(matches!(parse(&old).unwrap(), ScoreRule::ClipGaussians(_)));
    let mut both = with_gaussians.clone();
    both["score_heads"] = "sum".into();
    assert!(matches!(
        parse(&both),
        Err(ModelError::BadManifest(ManifestError::Json(_)))
    ));

    // Weights of a 4-class network under a manifest that claims 3 classes.
    let mut three = files.manifest.clone();
    three.network = NetworkConfig::new(3);
    let wrong = ModelFiles::from_parts(three, files.weights.clone()).unwrap();
    let err = wrong.network(&device).unwrap_err();
    assert!(matches!(err, ModelError::Weights(_)), "{err}");
    println!("{err}");
}
