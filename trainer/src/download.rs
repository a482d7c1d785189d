//! `trainer download`: the real data sets from their Zenodo records, with resume, a progress
//! bar, size and MD5 verification against the record's metadata, and extraction into the
//! layout `trainer train` reads.
//!
//! - DCASE 2020 Task 2 development data: record 3678171, `dev_data_<type>.zip`, extracted into
//!   `OUT/` (giving `OUT/<type>/{train,test}/…`). CC BY-NC-SA 4.0.
//! - MIMII: record 3384388, `<snr>_dB_<type>.zip` (snr 6, 0, -6), extracted into `OUT/<snr>_dB/`
//!   (giving `OUT/<snr>_dB/<type>/id_XX/{normal,abnormal}/…`). CC BY-SA 4.0.
//!
//! A download goes to `FILE.part` first; an interrupted one continues from where it stopped
//! (HTTP Range). The finished file is checked against the size and MD5 the record lists before
//! it is renamed and extracted; a mismatch deletes it and fails.

use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where Zenodo's records live; `--base-url` replaces it (mirrors, tests).
pub const ZENODO: &str = "https://zenodo.org";

/// The data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// DCASE 2020 Task 2 development data.
    Dcase2020Dev,
    /// MIMII.
    Mimii,
}

impl Dataset {
    fn record(self) -> &'static str {
        match self {
            Dataset::Dcase2020Dev => "3678171",
            Dataset::Mimii => "3384388",
        }
    }
}

/// One archive to fetch: its name in the record and where it is extracted.
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    /// File name in the record.
    pub name: String,
    /// Folder it is extracted into.
    pub extract_to: PathBuf,
}

/// The archives of a request.
pub fn archives(dataset: Dataset, types: &[String], snrs: &[String], out: &Path) -> Vec<Archive> {
    match dataset {
        Dataset::Dcase2020Dev => types
            .iter()
            .map(|t| Archive {
                name: format!("dev_data_{t}.zip"),
                extract_to: out.to_path_buf(),
            })
            .collect(),
        Dataset::Mimii => snrs
            .iter()
            .flat_map(|snr| {
                let snr = snr
                    .trim_end_matches("_dB")
                    .trim_end_matches("dB")
                    .to_string();
                types.iter().map(move |t| Archive {
                    name: format!("{snr}_dB_{t}.zip"),
                    extract_to: out.join(format!("{snr}_dB")),
                })
            })
            .collect(),
    }
}

/// Size and MD5 of each file of a Zenodo record (its JSON metadata, `/api/records/<id>`).
fn record_files(base: &str, record: &str) -> Result<Vec<(String, u64, Option<String>)>, String> {
    let url = format!("{base}/api/records/{record}");
    let body = ureq::get(&url)
        .call()
        .map_err(|e| format!("{url}: {e}"))?
        .into_body()
        .read_to_string();
    let json: serde_json::Value = serde_json::from_str(&body.map_err(|e| format!("{url}: {e}"))?)
        .map_err(|e| format!("{url}: not the record metadata: {e}"))?;
    let files = json["files"]
        .as_array()
        .ok_or_else(|| format!("{url}: no file list"))?;
    Ok(files
        .iter()
        .filter_map(|f| {
            let name = f["key"]
                .as_str()
                .or_else(|| f["filename"].as_str())?
                .to_string();
            let size = f["size"].as_u64().or_else(|| f["filesize"].as_u64())?;
            let md5 = f["checksum"]
                .as_str()
                .map(|c| c.trim_start_matches("md5:").to_string());
            Some((name, size, md5))
        })
        .collect())
}

fn md5_of(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Downloads `url` to `dest`, resuming a `.part` file, then verifies size and MD5.
pub fn fetch(url: &str, dest: &Path, size: u64, md5: Option<&str>) -> Result<(), String> {
    let part = dest.with_extension("zip.part");
    let have = std::fs::metadata(&part).map_or(0, |m| m.len());
    let mut request = ureq::get(url);
    if have > 0 && have < size {
        request = request.header("Range", &format!("bytes={have}-"));
    }
    let response = request.call().map_err(|e| format!("{url}: {e}"))?;
    let resumed = response.status().as_u16() == 206;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&part)
        .map_err(|e| format!("{}: {e}", part.display()))?;
    let start = if resumed { have } else { 0 };
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
        )
        .unwrap(),
    );
    bar.set_message(
        dest.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
    );
    bar.set_position(start);
    let mut reader = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("{url}: download interrupted: {e}"))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        bar.inc(n as u64);
    }
    file.flush().map_err(|e| e.to_string())?;
    bar.finish();
    let got = std::fs::metadata(&part).map_err(|e| e.to_string())?.len();
    if got < size {
        return Err(format!(
            "{url}: download interrupted at {got} of {size} bytes: run the command again to resume"
        ));
    }
    if got > size {
        std::fs::remove_file(&part).ok();
        return Err(format!(
            "{url}: {got} bytes where the record lists {size}: deleted, run again"
        ));
    }
    if let Some(want) = md5 {
        let found = md5_of(&part)?;
        if found != want {
            std::fs::remove_file(&part).ok();
            return Err(format!(
                "{url}: MD5 {found} differs from the record's {want}: the file is corrupt and was deleted"
            ));
        }
    }
    std::fs::rename(&part, dest).map_err(|e| e.to_string())
}

/// Extracts a zip archive into `dir`, refusing entries that would land outside it.
pub fn extract(archive: &Path, dir: &Path) -> Result<usize, String> {
    let file = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{}: not a valid zip archive: {e}", archive.display()))?;
    let mut count = 0;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("{}: {e}", archive.display()))?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(format!(
                "{}: entry {:?} points outside the target folder",
                archive.display(),
                entry.name()
            ));
        };
        let path = dir.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut out =
            std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| format!("{}: {e}", path.display()))?;
        count += 1;
    }
    Ok(count)
}

/// Downloads and extracts every archive of the request.
pub fn run(
    dataset: Dataset,
    types: &[String],
    snrs: &[String],
    out: &Path,
    base: &str,
) -> Result<(), String> {
    let base = base.trim_end_matches('/');
    let listed = record_files(base, dataset.record())?;
    let downloads = out.join("downloads");
    std::fs::create_dir_all(&downloads).map_err(|e| format!("{}: {e}", downloads.display()))?;
    for archive in archives(dataset, types, snrs, out) {
        let (_, size, md5) = listed
            .iter()
            .find(|(name, _, _)| *name == archive.name)
            .ok_or_else(|| {
                format!(
                    "{} is not in Zenodo record {}",
                    archive.name,
                    dataset.record()
                )
            })?;
        let dest = downloads.join(&archive.name);
        if dest.exists() && std::fs::metadata(&dest).map_or(0, |m| m.len()) == *size {
            println!("{}: already downloaded", archive.name);
        } else {
            let url = format!(
                "{base}/records/{}/files/{}?download=1",
                dataset.record(),
                archive.name
            );
            fetch(&url, &dest, *size, md5.as_deref())?;
        }
        let n = extract(&dest, &archive.extract_to)?;
        println!(
            "{}: {n} files into {}",
            archive.name,
            archive.extract_to.display()
        );
    }
    Ok(())
}
