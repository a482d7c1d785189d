//! Finding the clips of a machine type in a data directory, in either layout:
//!
//! - DCASE 2020 Task 2 development data: `DIR/<type>/train/normal_id_XX_NNNNNNNN.wav` and
//!   `DIR/<type>/test/{normal,anomaly}_id_XX_NNNNNNNN.wav`.
//! - Original MIMII: `DIR/<snr>/<type>/id_XX/{normal,abnormal}/NNNNNNNN.wav` (or without the
//!   `<snr>` level). MIMII has no split: as its baseline does, the test set of an ID is all its
//!   abnormal files plus as many normal files (the last ones in name order), the rest train.
//!
//! Training files are further split into train and validation (normal files only, by file,
//! with a fixed seed) for checkpoint selection, early stopping and thresholds.

use crate::rng::Rng;
use anyhow::Context;
use mimimi_dsp::{DecodeLimits, FrontEnd, Prepared, decode_wav_channel};
use std::path::{Path, PathBuf};

/// Which part of the data a clip belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Training (normal sounds only).
    Train,
    /// Held out from training, normal only: decides checkpoints and thresholds.
    Validation,
    /// Evaluation only.
    Test,
}

/// One audio file with what is known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// The file.
    pub path: PathBuf,
    /// Machine ID (`00`, `02`, ...).
    pub id: String,
    /// Its split.
    pub split: Split,
    /// True for an anomalous sound (test clips only).
    pub anomalous: bool,
    /// The kind of anomaly, where the file name says it (`anomaly_id_00_00000003_leak.wav`,
    /// as `trainer synth` writes them); None for normal clips and other corpora.
    pub kind: Option<String>,
}

/// Reads, decodes and prepares one audio file (channel `channel`, the only one decoded) for
/// the network; errors name the file.
pub fn prepare_file(path: &Path, frontend: &FrontEnd, channel: usize) -> anyhow::Result<Prepared> {
    let channel =
        u16::try_from(channel).map_err(|_| anyhow::anyhow!("channel {channel} does not exist"))?;
    let prepare = || -> anyhow::Result<Prepared> {
        let bytes = std::fs::read(path)?;
        let (audio, _) = decode_wav_channel(&bytes, channel, &DecodeLimits::default())?;
        Ok(frontend.prepare(&audio, 0)?)
    };
    prepare().with_context(|| path.display().to_string())
}

/// Share of each ID's training files held out for validation.
pub const VALIDATION_SHARE: f64 = 0.1;

fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")))
        .collect();
    files.sort();
    files
}

/// `normal_id_02_00000012.wav` → (`normal`, `02`, None);
/// `anomaly_id_02_00000003_blade_jitter.wav` → (`anomaly`, `02`, `blade_jitter`).
fn dcase_name(path: &Path) -> Option<(String, String, Option<String>)> {
    let stem = path.file_stem()?.to_str()?;
    let mut parts = stem.splitn(5, '_');
    let label = parts.next()?.to_string();
    (parts.next()? == "id").then_some(())?;
    let id = parts.next()?.to_string();
    let _number = parts.next();
    let kind = parts.next().map(str::to_string);
    Some((label, id, kind))
}

/// Moves a share of each ID's training clips to validation: a fixed-seed choice among the
/// files (sorted by name first, so the directory order does not matter). At least one file
/// per ID goes to validation when the ID has two or more.
pub fn split_validation(clips: &mut [Clip], seed: u64) {
    let mut ids: Vec<String> = clips.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let mut train: Vec<usize> = (0..clips.len())
            .filter(|&i| clips[i].id == id && clips[i].split == Split::Train)
            .collect();
        train.sort_by(|&a, &b| clips[a].path.cmp(&clips[b].path));
        if train.len() < 2 {
            continue;
        }
        let take = ((train.len() as f64 * VALIDATION_SHARE).ceil() as usize).max(1);
        for k in Rng::new(seed, &format!("validation/{id}"))
            .permutation(train.len())
            .into_iter()
            .take(take)
        {
            clips[train[k]].split = Split::Validation;
        }
    }
}

/// The machine IDs that have training clips, sorted: the classes of a model of the type.
pub fn train_ids(clips: &[Clip]) -> Vec<String> {
    let mut ids: Vec<String> = clips
        .iter()
        .filter(|c| c.split == Split::Train)
        .map(|c| c.id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// All clips of `machine_type` under `root`, in either layout, with the validation split
/// applied. An error when neither layout has the type.
pub fn scan(root: &Path, machine_type: &str, seed: u64) -> anyhow::Result<Vec<Clip>> {
    let mut clips = Vec::new();
    let dcase = root.join(machine_type);
    for (sub, split) in [("train", Split::Train), ("test", Split::Test)] {
        for path in wav_files(&dcase.join(sub)) {
            let Some((label, id, kind)) = dcase_name(&path) else {
                continue;
            };
            let anomalous = label == "anomaly";
            if split == Split::Train && anomalous {
                continue; // never train on anomalies
            }
            clips.push(Clip {
                path,
                id,
                split,
                anomalous,
                kind: kind.filter(|_| anomalous),
            });
        }
    }
    if clips.is_empty() {
        clips = scan_mimii(root, machine_type);
    }
    if clips.is_empty() {
        return Err(anyhow::anyhow!(
            "no {machine_type} clips under {}: expected {0}/{machine_type}/train/normal_id_XX_*.wav \
             (DCASE 2020) or {0}/<snr>/{machine_type}/id_XX/normal/*.wav (MIMII)",
            root.display()
        ));
    }
    split_validation(&mut clips, seed);
    Ok(clips)
}

fn scan_mimii(root: &Path, machine_type: &str) -> Vec<Clip> {
    // `root/<snr>/<type>` for each SNR folder, or `root/<type>` directly.
    let mut type_dirs = vec![root.join(machine_type)];
    let mut snr_dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(machine_type))
        .filter(|p| p.is_dir())
        .collect();
    snr_dirs.sort();
    type_dirs.extend(snr_dirs);
    let mut clips = Vec::new();
    for type_dir in type_dirs {
        let mut id_dirs: Vec<PathBuf> = std::fs::read_dir(&type_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("id_"))
            })
            .collect();
        id_dirs.sort();
        for id_dir in id_dirs {
            let Some(name) = id_dir.file_name() else {
                continue;
            };
            let id = name.to_string_lossy()[3..].to_string();
            let abnormal = wav_files(&id_dir.join("abnormal"));
            let normal = wav_files(&id_dir.join("normal"));
            let n_test_normal = abnormal.len().min(normal.len());
            let (train, test_normal) = normal.split_at(normal.len() - n_test_normal);
            let clip = |path: &PathBuf, split, anomalous| Clip {
                path: path.clone(),
                id: id.clone(),
                split,
                anomalous,
                kind: None,
            };
            clips.extend(train.iter().map(|p| clip(p, Split::Train, false)));
            clips.extend(test_normal.iter().map(|p| clip(p, Split::Test, false)));
            clips.extend(abnormal.iter().map(|p| clip(p, Split::Test, true)));
        }
    }
    clips
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: PathBuf) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"RIFF").unwrap();
    }

    fn tree(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mimimi-data-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        dir
    }

    #[test]
    fn reads_the_dcase_layout() {
        let root = tree("dcase");
        for i in 0..20 {
            touch(root.join(format!("fan/train/normal_id_00_{i:08}.wav")));
            touch(root.join(format!("fan/train/normal_id_02_{i:08}.wav")));
        }
        touch(root.join("fan/test/normal_id_00_00000000.wav"));
        touch(root.join("fan/test/anomaly_id_00_00000000.wav"));
        touch(root.join("fan/test/anomaly_id_02_00000001_blade_jitter.wav"));
        touch(root.join("fan/train/readme.txt"));
        touch(root.join("pump/train/normal_id_00_00000000.wav"));
        let clips = scan(&root, "fan", 7).unwrap();
        assert_eq!(clips.len(), 43);
        let count = |id: &str, split| {
            clips
                .iter()
                .filter(|c| c.id == id && c.split == split)
                .count()
        };
        assert_eq!(
            (count("00", Split::Train), count("00", Split::Validation)),
            (18, 2)
        );
        assert_eq!(
            (count("02", Split::Train), count("02", Split::Validation)),
            (18, 2)
        );
        assert_eq!(clips.iter().filter(|c| c.anomalous).count(), 2);
        assert!(
            clips
                .iter()
                .filter(|c| c.anomalous)
                .all(|c| c.split == Split::Test)
        );
        let kinds: Vec<Option<&str>> = clips
            .iter()
            .filter(|c| c.anomalous)
            .map(|c| c.kind.as_deref())
            .collect();
        assert_eq!(kinds, [None, Some("blade_jitter")]);
        assert!(
            clips
                .iter()
                .filter(|c| !c.anomalous)
                .all(|c| c.kind.is_none())
        );
        // Same seed, same split; another seed, another one.
        assert_eq!(scan(&root, "fan", 7).unwrap(), clips);
        assert_ne!(scan(&root, "fan", 8).unwrap(), clips);
        assert!(
            scan(&root, "valve", 7)
                .unwrap_err()
                .to_string()
                .contains("no valve clips")
        );
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn reads_the_mimii_layout_with_its_baseline_split() {
        let root = tree("mimii");
        for i in 0..10 {
            touch(root.join(format!("6_dB/valve/id_04/normal/{i:08}.wav")));
        }
        for i in 0..3 {
            touch(root.join(format!("6_dB/valve/id_04/abnormal/{i:08}.wav")));
        }
        let clips = scan(&root, "valve", 1).unwrap();
        let of = |split, anomalous| {
            clips
                .iter()
                .filter(|c| c.split == split && c.anomalous == anomalous)
                .count()
        };
        assert_eq!(of(Split::Test, true), 3);
        assert_eq!(
            of(Split::Test, false),
            3,
            "as many normal test files as abnormal ones"
        );
        assert_eq!(of(Split::Train, false) + of(Split::Validation, false), 7);
        assert_eq!(of(Split::Validation, false), 1);
        assert!(clips.iter().all(|c| c.id == "04"));
        // The test normals are the last files by name.
        let test_normal: Vec<_> = clips
            .iter()
            .filter(|c| c.split == Split::Test && !c.anomalous)
            .collect();
        assert!(
            test_normal
                .iter()
                .all(|c| c.path.to_string_lossy().contains("/normal/0000000"))
        );
        assert!(test_normal.iter().any(|c| c.path.ends_with("00000009.wav")));
        std::fs::remove_dir_all(&root).ok();
    }
}
