//! `trainer download` against a local HTTP server on 127.0.0.1 that serves a small archive the
//! test builds, laid out like the Zenodo record: a truncated download resumes where it stopped,
//! a corrupt archive is rejected by its checksum, a stale one on disk is fetched again, and a
//! record without a checksum needs `--no-checksum`.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

use md5::{Digest, Md5};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A fixture archive in the DCASE layout.
fn archive() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for name in [
        "fan/train/normal_id_00_00000000.wav",
        "fan/train/normal_id_02_00000000.wav",
        "fan/test/anomaly_id_00_00000000.wav",
    ] {
        zip.start_file(name, options).unwrap();
        // Varied content so that the archive is large enough to cut in the middle.
        let body: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        zip.write_all(&body).unwrap();
    }
    zip.finish().unwrap();
    buf.into_inner()
}

struct Server {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// Serves the record metadata and `served` as `dev_data_fan.zip` (listed with the size and MD5
/// of `listed`). The first archive response is cut after `cut_first` bytes when set.
fn serve(listed: Vec<u8>, served: Vec<u8>, cut_first: Option<usize>) -> Server {
    serve_with(listed, served, cut_first, true)
}

/// [`serve`], with the record's MD5 left out unless `with_md5`.
fn serve_with(
    listed: Vec<u8>,
    served: Vec<u8>,
    cut_first: Option<usize>,
    with_md5: bool,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let md5: String = Md5::digest(&listed)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut meta = serde_json::json!({ "files": [
        { "key": "dev_data_fan.zip", "size": listed.len(), "checksum": format!("md5:{md5}") },
        { "key": "dev_data_pump.zip", "size": 1, "checksum": "md5:00" },
    ]});
    if !with_md5 {
        meta["files"][0].as_object_mut().unwrap().remove("checksum");
    }
    let meta = meta.to_string();
    let server_log = log.clone();
    std::thread::spawn(move || {
        let mut cut = cut_first;
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut range = None;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = v.trim().trim_end_matches('-').parse::<usize>().ok();
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            server_log
                .lock()
                .unwrap()
                .push(format!("{path} range={range:?}"));
            if path == "/api/records/3678171" {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{meta}",
                    meta.len()
                );
            } else if path.starts_with("/records/3678171/files/dev_data_fan.zip") {
                let from = range.unwrap_or(0);
                let status = if from > 0 {
                    "206 Partial Content"
                } else {
                    "200 OK"
                };
                let body = &served[from..];
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let n = cut.take().map_or(body.len(), |c| c.min(body.len()));
                let _ = stream.write_all(&body[..n]);
            } else {
                let _ = write!(
                    stream,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        }
    });
    Server { url, log }
}

fn download(server: &Server, out: &Path) -> std::process::Output {
    download_with(server, out, &[])
}

/// `trainer download` of the fan archive into `out`, with `extra` arguments.
fn download_with(server: &Server, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args([
            "download",
            "--dataset",
            "dcase2020-dev",
            "--types",
            "fan",
            "--out",
        ])
        .arg(out)
        .args(["--base-url", &server.url])
        .args(extra)
        .output()
        .unwrap()
}

/// An empty output folder of this test process, tagged `tag`.
fn fresh(tag: &str) -> std::path::PathBuf {
    let out = std::env::temp_dir().join(format!("mimimi-download-{tag}-{}", std::process::id()));
    std::fs::remove_dir_all(&out).ok();
    out
}

fn assert_succeeded(result: &std::process::Output) {
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

#[test]
fn truncated_download_resumes_and_extracts() {
    let zip = archive();
    let out = std::env::temp_dir().join(format!("mimimi-download-{}", std::process::id()));
    std::fs::remove_dir_all(&out).ok();
    let server = serve(zip.clone(), zip.clone(), Some(zip.len() / 3));
    let first = download(&server, &out);
    assert!(!first.status.success(), "the cut download must fail");
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("interrupted"), "{err}");
    let part = out.join("downloads/dev_data_fan.zip.part");
    assert_eq!(
        std::fs::metadata(&part).unwrap().len() as usize,
        zip.len() / 3
    );

    let second = download(&server, &out);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("range=Some({})", zip.len() / 3))),
        "{log:?}"
    );
    assert_eq!(
        std::fs::read(out.join("downloads/dev_data_fan.zip")).unwrap(),
        zip
    );
    assert!(out.join("fan/train/normal_id_02_00000000.wav").exists());
    assert!(out.join("fan/test/anomaly_id_00_00000000.wav").exists());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn corrupt_archive_is_rejected() {
    let zip = archive();
    let mut corrupt = zip.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    let out = std::env::temp_dir().join(format!("mimimi-download-bad-{}", std::process::id()));
    std::fs::remove_dir_all(&out).ok();
    let server = serve(zip, corrupt, None);
    let result = download(&server, &out);
    assert!(!result.status.success());
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(err.contains("MD5") && err.contains("corrupt"), "{err}");
    assert!(!out.join("downloads/dev_data_fan.zip").exists());
    assert!(!out.join("downloads/dev_data_fan.zip.part").exists());
    assert!(!out.join("fan").exists(), "nothing extracted");
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn an_archive_on_disk_is_checked_again_before_it_is_trusted() {
    let zip = archive();
    let out = fresh("stale");
    std::fs::create_dir_all(out.join("downloads")).unwrap();
    // Same size as the real archive, other bytes: a size check alone would trust it.
    let mut stale = zip.clone();
    stale[zip.len() / 2] ^= 0xff;
    std::fs::write(out.join("downloads/dev_data_fan.zip"), &stale).unwrap();
    let server = serve(zip.clone(), zip.clone(), None);
    let result = download(&server, &out);
    assert_succeeded(&result);
    let said = String::from_utf8_lossy(&result.stdout);
    assert!(said.contains("does not match the record"), "{said}");
    assert_eq!(
        std::fs::read(out.join("downloads/dev_data_fan.zip")).unwrap(),
        zip
    );
    assert!(out.join("fan/train/normal_id_02_00000000.wav").exists());
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn a_record_without_a_checksum_needs_no_checksum_to_be_said() {
    let zip = archive();
    let out = fresh("nomd5");
    let server = serve_with(zip.clone(), zip.clone(), None, false);
    let refused = download(&server, &out);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("lists no MD5") && err.contains("--no-checksum"),
        "{err}"
    );
    assert!(!out.join("downloads/dev_data_fan.zip").exists());
    let accepted = download_with(&server, &out, &["--no-checksum"]);
    assert_succeeded(&accepted);
    assert!(out.join("fan/train/normal_id_02_00000000.wav").exists());
    std::fs::remove_dir_all(&out).ok();
}
