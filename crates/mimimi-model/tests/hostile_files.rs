//! Damaged and hostile manifests and profiles: every manifest is refused with a `BadManifest`
//! (or parse) error before anything divides by its numbers or indexes with them; a mutated
//! profile loads and judges on finite numbers or is an error; a mutated index of models is
//! read or refused; none panics.
//!
//! Run natively by `cargo test` and as wasm32 under Node by `tests/run.sh` (the page reads
//! manifests on wasm32, where a panic kills the module).
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use mimimi_dsp::Descriptor;
use mimimi_model::{
    Enrollment, Evidence, Member, ModelError, ModelFiles, ModelIndex, Profile, Target, judge,
};
use serde_json::{Value, json};

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::xorshift;

/// Mutated profiles per run.
const CASES: usize = 2000;

/// A shipped manifest: the default combined score, four IDs.
const FAN: &[u8] = include_bytes!("../../../web/assets/models/fan/manifest.json");

fn with(edit: impl Fn(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(FAN).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn the_shipped_manifest_is_valid() {
    ModelFiles::parse_manifest(FAN).unwrap();
}

#[test]
fn impossible_numbers_are_refused() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("hop 0", with(|v| v["frontend"]["stft"]["hop"] = json!(0))),
        (
            "hop above the FFT",
            with(|v| v["frontend"]["stft"]["hop"] = json!(4096)),
        ),
        (
            "FFT size 0",
            with(|v| v["frontend"]["stft"]["n_fft"] = json!(0)),
        ),
        ("rate 0", with(|v| v["frontend"]["sample_rate"] = json!(0))),
        (
            "windows of 0 frames",
            with(|v| v["frontend"]["examples"]["frames"] = json!(0)),
        ),
        (
            "stride 0",
            with(|v| v["frontend"]["examples"]["stride"] = json!(0)),
        ),
        (
            "hour-long clips",
            with(|v| v["frontend"]["max_seconds"] = json!(1e9)),
        ),
        (
            "more IDs than heads",
            with(|v| v["network"]["num_classes"] = json!(2)),
        ),
        (
            "an ID twice",
            with(|v| v["classes"][1] = v["classes"][0].clone()),
        ),
        ("no ID", with(|v| v["classes"] = json!([]))),
        (
            "threshold 1e308",
            with(|v| v["thresholds"]["00"] = json!(1e308)),
        ),
        (
            "threshold of an unknown ID",
            with(|v| v["thresholds"]["99"] = json!(1.0)),
        ),
    ];
    for (what, bytes) in cases {
        match ModelFiles::parse_manifest(&bytes) {
            Err(ModelError::BadManifest(reason)) => {
                assert!(!reason.to_string().is_empty(), "{what}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn mutated_manifests_parse_or_fail_cleanly() {
    let mut next = xorshift(0x00C0_FFEE);
    // The numbers of the front end and the network sit in the first 1 kB.
    let head = FAN.len().min(1_024);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..200 {
        let mut bytes = FAN.to_vec();
        for _ in 0..1 + next() % 3 {
            let i = (next() % head as u64) as usize;
            bytes[i] = b"0123456789-.e,:\"{}[] "[(next() % 21) as usize];
        }
        match ModelFiles::parse_manifest(&bytes) {
            Ok(m) => {
                m.validate().unwrap();
                ok += 1;
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        refused > 0 && ok + refused == 200,
        "{ok} parsed, {refused} refused"
    );
}

/// The page's list of the bundled models.
const INDEX: &[u8] = include_bytes!("../../../web/assets/models/index.json");

#[test]
fn mutated_indexes_parse_or_fail_cleanly() {
    assert_eq!(ModelIndex::parse(INDEX).unwrap().models.len(), 4);
    let mut next = xorshift(0x1DE5);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..500 {
        let mut bytes = INDEX.to_vec();
        for _ in 0..1 + next() % 3 {
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] = b"0123456789-.e,:\"{}[]/ "[(next() % 22) as usize];
        }
        match ModelIndex::parse(&bytes) {
            // What is read can be used to build a URL: one plain path segment per model.
            Ok(index) => {
                for listed in index.models {
                    assert!(
                        !listed.dir.is_empty() && !listed.dir.contains('/') && listed.dir != ".."
                    );
                }
                ok += 1;
            }
            Err(_) => refused += 1,
        }
    }
    assert!(refused > 0 && ok > 0, "{ok} parsed, {refused} refused");
}

/// One take's window rows of the log-mel and modulation descriptors, around `centre`.
fn take(centre: f32, seed: u64) -> mimimi_model::ClipRows {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    [Descriptor::LogMel, Descriptor::Modulation]
        .into_iter()
        .map(|d| {
            let rows = (0..9)
                .map(|_| {
                    (0..d.dim())
                        .map(|i| (i % 5) as f32 + centre + noise())
                        .collect()
                })
                .collect();
            (Member::Descriptor(d), rows)
        })
        .collect()
}

#[test]
fn mutated_profiles_load_and_judge_or_fail_cleanly() {
    let manifest = ModelFiles::parse_manifest(FAN).unwrap();
    let takes: Vec<_> = (0..5).map(|s| take(0.0, s)).collect();
    let profile = Enrollment {
        name: "hall b".into(),
        machine_type: "fan".into(),
        model_sha256: manifest.weights.sha256.clone(),
        members: vec![
            Member::Descriptor(Descriptor::LogMel),
            Member::Descriptor(Descriptor::Modulation),
        ],
        rule: Default::default(),
        created: "2026-12-01T00:00:00Z".into(),
    }
    .fit(&takes)
    .unwrap();
    let json = serde_json::to_vec(&profile).unwrap();
    let clip = Evidence {
        rows: take(0.3, 99),
        ..Default::default()
    };
    let mut next = xorshift(0x0BAD_F11E);
    let (mut judged, mut refused) = (0, 0);
    for _ in 0..CASES {
        let mut bytes = json.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % bytes.len() as u64) as usize;
            // JSON punctuation, digits, and base64 letters (the Gaussians' bytes).
            bytes[i] = b"0123456789-.e,:\"{}[] AZaz+/="[(next() % 28) as usize];
        }
        let Ok(p) = Profile::from_json(&bytes) else {
            refused += 1;
            continue;
        };
        // What loads gives a verdict on finite numbers, or an error: never NaN read as normal.
        match judge(&manifest, &Target::Enrolled(Box::new(p)), &clip) {
            Ok(j) => {
                assert!(j.score.score.is_finite() && j.verdict.threshold.is_finite());
                judged += 1;
            }
            Err(_) => refused += 1,
        }
    }
    println!("{CASES} mutated profiles: {judged} judged, {refused} refused");
    assert!(
        judged > 0 && refused > 0,
        "{judged} judged, {refused} refused"
    );
}
