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
//! it is renamed and extracted; a mismatch deletes it and fails. A record without an MD5 is
//! refused unless `--no-checksum` says otherwise, and an archive already on disk is checked
//! again before it is trusted.
//!
//! Extraction checks every entry before it writes any: each path must stay inside the target
//! folder, and the entries together may not inflate to more than [`MAX_INFLATION`] times the
//! archive (a zip bomb); the bytes written are counted too, so an entry that lies about its
//! size is stopped at its word.

use anyhow::Context;
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
fn record_files(base: &str, record: &str) -> anyhow::Result<Vec<(String, u64, Option<String>)>> {
    let url = format!("{base}/api/records/{record}");
    let body = ureq::get(&url)
        .call()
        .with_context(|| url.to_string())?
        .into_body()
        .read_to_string();
    let json: serde_json::Value = serde_json::from_str(&body.with_context(|| url.to_string())?)
        .with_context(|| format!("{url}: not the record metadata"))?;
    let files = json["files"]
        .as_array()
        .with_context(|| format!("{url}: no file list"))?;
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

fn md5_of(path: &Path) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
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

/// Whether an archive already on disk has the record's size and MD5.
fn still_good(path: &Path, size: u64, md5: Option<&str>) -> anyhow::Result<bool> {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    Ok(len == size && md5.map_or(Ok(true), |want| md5_of(path).map(|found| found == want))?)
}

/// Downloads `url` to `dest`, resuming a `.part` file, then verifies size and MD5.
pub fn fetch(url: &str, dest: &Path, size: u64, md5: Option<&str>) -> anyhow::Result<()> {
    let part = dest.with_extension("zip.part");
    let have = std::fs::metadata(&part).map_or(0, |m| m.len());
    let mut request = ureq::get(url);
    if have > 0 && have < size {
        request = request.header("Range", &format!("bytes={have}-"));
    }
    let response = request.call().with_context(|| url.to_string())?;
    let resumed = response.status().as_u16() == 206;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&part)
        .with_context(|| part.display().to_string())?;
    let start = if resumed { have } else { 0 };
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
        )
        .expect("a valid progress template"),
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
            .with_context(|| format!("{url}: download interrupted"))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
        bar.inc(n as u64);
    }
    file.flush()?;
    bar.finish();
    let got = std::fs::metadata(&part)?.len();
    if got < size {
        return Err(anyhow::anyhow!(
            "{url}: download interrupted at {got} of {size} bytes: run the command again to resume"
        ));
    }
    if got > size {
        std::fs::remove_file(&part).ok();
        return Err(anyhow::anyhow!(
            "{url}: {got} bytes where the record lists {size}: deleted, run again"
        ));
    }
    if let Some(want) = md5 {
        let found = md5_of(&part)?;
        if found != want {
            std::fs::remove_file(&part).ok();
            return Err(anyhow::anyhow!(
                "{url}: MD5 {found} differs from the record's {want}: the file is corrupt and was deleted"
            ));
        }
    }
    Ok(std::fs::rename(&part, dest)?)
}

/// How many times its own size an archive may inflate to. The data sets' WAV files hardly
/// compress (under 2×); a zip bomb inflates a thousand times or more.
pub const MAX_INFLATION: u64 = 100;

/// Extracts a zip archive into `dir`. Every entry is checked first (its path stays inside
/// `dir`; the declared sizes add up to at most [`MAX_INFLATION`] × the archive), so a bad
/// archive writes nothing; while writing, each entry is held to its declared size.
pub fn extract(archive: &Path, dir: &Path) -> anyhow::Result<usize> {
    extract_entries(archive, dir).with_context(|| archive.display().to_string())
}

fn extract_entries(archive: &Path, dir: &Path) -> anyhow::Result<usize> {
    let file = std::fs::File::open(archive)?;
    let packed = file.metadata()?.len();
    let mut zip = zip::ZipArchive::new(file).context("not a valid zip archive")?;
    let budget = packed.saturating_mul(MAX_INFLATION);
    let mut planned = Vec::with_capacity(zip.len());
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i)?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(anyhow::anyhow!(
                "entry {:?} points outside the target folder; nothing was extracted",
                entry.name()
            ));
        };
        total = total.saturating_add(entry.size());
        if total > budget {
            return Err(anyhow::anyhow!(
                "its entries inflate to more than {MAX_INFLATION} times its {packed} bytes \
                 (a zip bomb?); nothing was extracted"
            ));
        }
        planned.push((dir.join(rel), entry.is_dir(), entry.size()));
    }
    let mut count = 0;
    for (i, (path, is_dir, size)) in planned.into_iter().enumerate() {
        if is_dir {
            std::fs::create_dir_all(&path).with_context(|| path.display().to_string())?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        let entry = zip.by_index(i)?;
        let mut out = std::fs::File::create(&path).with_context(|| path.display().to_string())?;
        let written = std::io::copy(&mut entry.take(size.saturating_add(1)), &mut out)
            .with_context(|| path.display().to_string())?;
        if written > size {
            drop(out);
            std::fs::remove_file(&path).ok();
            return Err(anyhow::anyhow!(
                "entry {} holds more than the {size} bytes it declares",
                path.display()
            ));
        }
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
    no_checksum: bool,
) -> anyhow::Result<()> {
    let base = base.trim_end_matches('/');
    let listed = record_files(base, dataset.record())?;
    let downloads = out.join("downloads");
    std::fs::create_dir_all(&downloads).with_context(|| downloads.display().to_string())?;
    for archive in archives(dataset, types, snrs, out) {
        let (_, size, md5) = listed
            .iter()
            .find(|(name, _, _)| *name == archive.name)
            .with_context(|| {
                format!(
                    "{} is not in Zenodo record {}",
                    archive.name,
                    dataset.record()
                )
            })?;
        if md5.is_none() && !no_checksum {
            return Err(anyhow::anyhow!(
                "{}: Zenodo record {} lists no MD5 for it, so it cannot be verified; pass \
                 --no-checksum to accept it by its size alone",
                archive.name,
                dataset.record()
            ));
        }
        let dest = downloads.join(&archive.name);
        if dest.exists() && still_good(&dest, *size, md5.as_deref())? {
            println!("{}: already downloaded (verified)", archive.name);
        } else {
            if dest.exists() {
                println!(
                    "{}: the copy on disk does not match the record; downloading it again",
                    archive.name
                );
                std::fs::remove_file(&dest).with_context(|| dest.display().to_string())?;
            }
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

/// Download and extract the real data (DCASE 2020 Task 2 development data or MIMII) from
/// Zenodo, with resume and checksum verification.
#[derive(clap::Args)]
pub struct Args {
    /// Which data set.
    #[arg(long, value_enum)]
    pub dataset: DatasetArg,
    /// Machine types, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "fan,pump,slider,valve")]
    pub types: Vec<String>,
    /// MIMII signal-to-noise ratios, comma-separated (6, 0, -6).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "6",
        allow_hyphen_values = true
    )]
    pub snr: Vec<String>,
    /// Output directory.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Base URL of the records (a mirror; the tests use a local server).
    #[arg(long, default_value = crate::download::ZENODO)]
    pub base_url: String,
    /// Accept an archive whose record lists no MD5 (checked by its size only).
    #[arg(long)]
    pub no_checksum: bool,
}

impl Args {
    /// Downloads, verifies and extracts the chosen data.
    pub fn run(self) -> anyhow::Result<bool> {
        let dataset = match self.dataset {
            DatasetArg::Dcase2020Dev => Dataset::Dcase2020Dev,
            DatasetArg::Mimii => Dataset::Mimii,
        };
        run(
            dataset,
            &self.types,
            &self.snr,
            &self.out,
            &self.base_url,
            self.no_checksum,
        )
        .map(|()| true)
    }
}

/// Data set on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DatasetArg {
    /// DCASE 2020 Task 2 development data (Zenodo record 3678171).
    #[value(name = "dcase2020-dev")]
    Dcase2020Dev,
    /// MIMII (Zenodo record 3384388).
    Mimii,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes a zip of `(name, bytes)` entries to a fresh temporary folder; returns the
    /// archive and a target folder beside it.
    fn zip_of(tag: &str, entries: &[(&str, Vec<u8>)]) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("mimimi-extract-{tag}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(body).unwrap();
        }
        zip.finish().unwrap();
        (path, dir.join("out"))
    }

    fn noise(n: usize) -> Vec<u8> {
        (0..n as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect()
    }

    #[test]
    fn extracts_a_good_archive() {
        let (zip, out) = zip_of(
            "good",
            &[
                ("fan/train/a.wav", noise(5000)),
                ("fan/test/b.wav", noise(7000)),
            ],
        );
        assert_eq!(extract(&zip, &out).unwrap(), 2);
        assert_eq!(
            std::fs::read(out.join("fan/test/b.wav")).unwrap(),
            noise(7000)
        );
    }

    #[test]
    fn a_bad_path_anywhere_writes_nothing() {
        // The escaping entry comes last: the good one before it must not be written either.
        let (zip, out) = zip_of(
            "escape",
            &[
                ("fan/train/a.wav", noise(5000)),
                ("../../evil.wav", noise(10)),
            ],
        );
        let err = extract(&zip, &out).unwrap_err();
        assert!(
            format!("{err:#}").contains("outside the target folder"),
            "{err:#}"
        );
        assert!(!out.exists(), "something was extracted");
    }

    #[test]
    fn a_zip_bomb_writes_nothing() {
        // 64 MB of zeros deflate to about 64 kB: a thousandfold inflation.
        let (zip, out) = zip_of(
            "bomb",
            &[
                ("fan/train/a.wav", noise(1000)),
                ("fan/train/zeros.wav", vec![0; 64 << 20]),
            ],
        );
        let err = extract(&zip, &out).unwrap_err();
        assert!(format!("{err:#}").contains("zip bomb"), "{err:#}");
        assert!(!out.exists(), "something was extracted");
    }
}
