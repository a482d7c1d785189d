//! Damaged and hostile PyTorch checkpoints through the reader the trainer imports with: every
//! input gives a checkpoint or a [`CheckpointError`], never a panic, a stack overflow or
//! unbounded memory (a counting allocator measures each read's peak).
//!
//! Run natively by `cargo test` and as wasm32 under Node by `tests/run.sh` (where `usize` is
//! 32 bits and the stack is 1 MB).
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use mimimi_model::pytorch::{CheckpointError, MAX_OPS, read_checkpoint, unpickle};
use std::io::{Cursor, Read, Write};

#[path = "../../mimimi-dsp/tests/support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// A bare state dict saved by `torch.save` (tests/make_bare_state_dict.py).
const BARE: &[u8] = include_bytes!("../../../tests/fixtures/reference/bare_state_dict.pth");

/// Mutated cases of each kind per run.
const CASES: usize = 300;

/// What one read may hold at once: the inflated entries (stored, so about the file), the
/// tensors as f32 (at most twice their storage, for 16-bit storages), and the object graph of
/// [`MAX_OPS`] operations.
fn memory_bound(inflated: usize) -> usize {
    4 * inflated + MAX_OPS * 160 + (1 << 20)
}

#[path = "support/xorshift.rs"]
mod xorshift;
use xorshift::xorshift;

/// The archive's entries, in order.
fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(archive)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (f.name().unwrap().into_owned(), v)
        })
        .collect()
}

/// A `torch.save`-style archive (entries stored) of `entries`, or deflated if `deflate`.
fn archive(entries: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    buf.into_inner()
}

/// Reads `bytes`, asserting the peak heap stays within the bound for `inflated` bytes; returns
/// the outcome and the peak.
fn read_within(bytes: &[u8], inflated: usize) -> (Result<(), CheckpointError>, usize) {
    let (outcome, peak) = counting::peak(|| read_checkpoint(bytes).map(drop));
    assert!(
        peak <= memory_bound(inflated),
        "reading {} bytes ({inflated} inflated) held {peak} bytes at once",
        bytes.len()
    );
    (outcome, peak)
}

#[test]
fn the_fixture_reads() {
    let ckpt = read_checkpoint(BARE).unwrap();
    assert!(ckpt.state_dict.len() > 10, "{}", ckpt.state_dict.len());
}

#[test]
fn deeply_nested_lists_drop_without_overflowing_the_stack() {
    // EMPTY_LIST × n, APPENDS each into the one below: nesting n deep, 2 bytes a level. Dropped
    // recursively, this overflows any thread's stack (1 MB on wasm32) long before n.
    let n = 100_000;
    let mut pickle = vec![b']'; n];
    pickle.extend(std::iter::repeat_n(b'a', n - 1));
    pickle.push(b'.');
    let root = unpickle(&pickle).unwrap();
    drop(root);
}

#[test]
fn a_pickle_of_endless_operations_is_refused_in_bounded_memory() {
    // A few kilobytes of deflated `None`s would be millions of objects.
    let pickle = vec![b'N'; 4 * MAX_OPS];
    let bytes = archive(&[("x/data.pkl".into(), pickle.clone())], true);
    assert!(bytes.len() < 64 << 10, "{} bytes", bytes.len());
    let err = read_within(&bytes, pickle.len()).0.unwrap_err();
    assert!(matches!(err, CheckpointError::TooManyOps), "{err}");
}

#[test]
fn mutated_checkpoints_read_or_fail_cleanly() {
    let entries = entries(BARE);
    let pkl = entries
        .iter()
        .position(|(name, _)| name.ends_with("data.pkl"))
        .unwrap();
    let inflated: usize = entries.iter().map(|(_, b)| b.len()).sum();
    let mut next = xorshift(0x0123_4567_89AB_CDEF);
    // Opcodes that build, memoise and mutate objects, and small and large numbers.
    const BYTES: &[u8] = b"(tld}])\x85\x86\x87qhjr\x94bsuaeRK\x00\x01\x7f\x80\xff.";
    let mutate = |bytes: &mut Vec<u8>, next: &mut dyn FnMut() -> u64| {
        for _ in 0..1 + next() % 4 {
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] = match next() % 2 {
                0 => BYTES[(next() % BYTES.len() as u64) as usize],
                _ => next() as u8,
            };
        }
    };
    let (mut read, mut refused, mut worst) = (0, 0, 0);
    // The pickle mutated inside a well-formed archive.
    for _ in 0..CASES {
        let mut case = entries.clone();
        mutate(&mut case[pkl].1, &mut next);
        let (outcome, peak) = read_within(&archive(&case, false), inflated);
        worst = worst.max(peak);
        match outcome {
            Ok(()) => read += 1,
            Err(_) => refused += 1,
        }
    }
    // The archive's own bytes mutated: headers, directory, CRCs.
    let stored = archive(&entries, false);
    for _ in 0..CASES {
        let mut case = stored.clone();
        mutate(&mut case, &mut next);
        let (outcome, peak) = read_within(&case, inflated);
        worst = worst.max(peak);
        match outcome {
            Ok(()) => read += 1,
            Err(_) => refused += 1,
        }
    }
    println!(
        "{} cases: {read} read, {refused} refused, peak heap at most {:.2} bytes per inflated byte",
        2 * CASES,
        worst as f64 / inflated as f64
    );
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
}
