//! Hostile WAV files through the decoder and the front end: every input gives a value or an
//! error, never a panic or a hang, and memory stays proportional to the file (a counting
//! allocator measures each decode's peak).
//!
//! Run natively by `cargo test` and as wasm32 under Node by `tests/run.sh`: on wasm32 `usize`
//! is 32 bits, so offset arithmetic that cannot wrap natively can wrap there, and a panic kills
//! the page's module. CI runs 1,500 mutations per seed file; `MIMIMI_FUZZ_CASES=N` at build
//! time runs N (the front end then sees a constant share of them, the decoder all):
//!
//! ```sh
//! MIMIMI_FUZZ_CASES=500000 cargo test --release -p mimimi-dsp --test hostile_wav -- --nocapture
//! ```
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use mimimi_dsp::wav::{SampleFormat, encode_wav};
use mimimi_dsp::{Audio, FrontEnd, FrontEndConfig, WavError, decode_wav};

/// Mutated cases per seed file (1,500 unless `MIMIMI_FUZZ_CASES` was set at build time).
const CASES: usize = match option_env!("MIMIMI_FUZZ_CASES") {
    Some(n) => parse(n),
    None => 1500,
};

const fn parse(s: &str) -> usize {
    let (bytes, mut i, mut n) = (s.as_bytes(), 0, 0);
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii_digit(),
            "MIMIMI_FUZZ_CASES is not a number"
        );
        n = n * 10 + (bytes[i] - b'0') as usize;
        i += 1;
    }
    n
}

/// Counts this thread's live heap bytes and their peak (shared with the model crate's
/// hostile-checkpoint test).
#[path = "support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// What a decode may hold at its peak: four bytes (an f32) per byte of the file, the file's
/// worth of scratch, and a little fixed overhead.
fn memory_bound(file_bytes: usize) -> usize {
    5 * file_bytes + 64 * 1024
}

/// A deterministic generator (xorshift64*): the same cases on every run and target.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What the front end may hold at its peak for `audio`: per second, copies of the channel at
/// its own rate (f32, and f64 for the resampler) and, at the model rate, the resampled signal
/// and its normalised spectrogram (~330 kB), plus a fixed 2 MiB (FFT plans, resampler tables,
/// whatever the rates: awkward ones go through the sinc resampler). Measured by
/// `the_front_end_holds_memory_in_proportion_to_the_clip`; bounded by the duration the decoder
/// has capped.
fn front_end_bound(audio: &Audio) -> usize {
    let per_second = 12.0 * f64::from(audio.sample_rate) + 400e3;
    (per_second * audio.duration_s()) as usize + (2 << 20)
}

/// A RIFF header followed by one chunk whose size is `size`.
fn one_chunk(id: &[u8; 4], size: u32, body: &[u8]) -> Vec<u8> {
    let mut v = b"RIFF\0\0\0\0WAVE".to_vec();
    v.extend_from_slice(id);
    v.extend_from_slice(&size.to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// Decodes `bytes` within the memory bound and, if that succeeds and `front_end`, runs the
/// front end: each step must return. Returns the decode's peak heap bytes too.
fn survive_measured(bytes: &[u8], front_end: bool) -> (Result<Audio, WavError>, usize) {
    let (decoded, peak) = counting::peak(|| decode_wav(bytes));
    assert!(
        peak <= memory_bound(bytes.len()),
        "decoding {} bytes held {peak} bytes at once",
        bytes.len()
    );
    if let Ok(audio) = &decoded {
        assert!(!audio.channels.is_empty(), "decoded with no channel");
        let n = audio.len();
        assert!(n > 0, "decoded with no sample");
        assert!(
            audio.channels.iter().all(|c| c.len() == n),
            "channels of different lengths"
        );
        // Every sample takes at least one byte of the file: nothing is conjured from a header.
        assert!(
            n * audio.channels.len() <= bytes.len(),
            "{} samples from {} bytes",
            n * audio.channels.len(),
            bytes.len()
        );
        if front_end {
            let (_, peak) =
                counting::peak(|| FrontEnd::new(FrontEndConfig::default()).prepare(audio, 0));
            assert!(
                peak <= front_end_bound(audio),
                "the front end held {peak} bytes at once for {:.3} s of audio at {} Hz",
                audio.duration_s(),
                audio.sample_rate
            );
        }
    }
    (decoded, peak)
}

/// [`survive_measured`] with the front end, without the peak.
fn survive(bytes: &[u8]) -> Result<Audio, WavError> {
    survive_measured(bytes, true).0
}

#[test]
fn chunk_sizes_near_four_gigabytes_end_the_walk() {
    // A 20-byte file whose one chunk claims 4 GB (odd, so padded): its end lies past 2³²,
    // where a 32-bit offset would saturate and then wrap back into the file.
    for size in [
        u32::MAX,
        u32::MAX - 1,
        0xFFFF_FFF5,
        0xFFFF_FFF0,
        0x8000_0001,
    ] {
        let bytes = one_chunk(b"JUNK", size, &[]);
        assert!(
            matches!(survive(&bytes), Err(WavError::MissingChunk(_))),
            "size {size:#x}"
        );
        let with_body = one_chunk(b"LIST", size, &[7; 40]);
        assert!(survive(&with_body).is_err(), "size {size:#x} with a body");
    }
    // A `fmt ` chunk claiming 4 GB: truncated to what is there, then no data chunk.
    let bytes = one_chunk(
        b"fmt ",
        u32::MAX,
        &[1, 0, 1, 0, 64, 31, 0, 0, 128, 62, 0, 0, 2, 0, 16, 0],
    );
    assert!(matches!(
        survive(&bytes),
        Err(WavError::MissingChunk("data"))
    ));
}

#[test]
fn mutated_files_give_audio_or_an_error() {
    let rate = 16_000;
    let noise = |n: usize, seed: u64| {
        let mut rng = Rng(seed);
        (0..n)
            .map(|_| (rng.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect::<Vec<f32>>()
    };
    let seeds = [
        encode_wav(
            &Audio::mono(rate, noise(2_100 * 16, 1)),
            SampleFormat::Pcm16,
        ),
        encode_wav(
            &Audio {
                sample_rate: 8_000,
                channels: vec![noise(4_000, 2), noise(4_000, 3)],
            },
            SampleFormat::Float32,
        ),
    ];
    // Values a hostile header likes.
    const EXTREMES: [u32; 8] = [
        0,
        1,
        2,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFFFF_FFF0,
        0xFFFF_FFFE,
        u32::MAX,
    ];
    // The front end (resampling, STFT) runs on one case in this many: its work stays that of CI.
    let front_end_every = (CASES / 1500).max(1);
    let mut rng = Rng(0x5EED_F00D);
    let (mut ok, mut refused, mut worst) = (0, 0, 0.0f64);
    for seed in &seeds {
        for case in 0..CASES {
            let mut bytes = seed.clone();
            for _ in 0..1 + rng.below(4) {
                match rng.below(5) {
                    // Flip a byte of the header region.
                    0 if !bytes.is_empty() => {
                        let i = rng.below(bytes.len().min(64));
                        bytes[i] ^= 1 << rng.below(8);
                    }
                    // An extreme u32 (a chunk size, the rate, channels + bits) in the header.
                    1 if bytes.len() >= 48 => {
                        let i = 4 + rng.below(40);
                        let v = EXTREMES[rng.below(EXTREMES.len())].to_le_bytes();
                        bytes[i..i + 4].copy_from_slice(&v);
                    }
                    // Cut the file short.
                    2 => {
                        let keep = rng.below(bytes.len() + 1);
                        bytes.truncate(keep);
                    }
                    // Insert a chunk of random id and size after the RIFF header.
                    3 if bytes.len() >= 12 => {
                        let id = [b'a' + rng.below(26) as u8; 4];
                        let size = EXTREMES[rng.below(EXTREMES.len())];
                        let chunk = one_chunk(&id, size, &[0; 6]);
                        bytes.splice(12..12, chunk[12..].iter().copied());
                    }
                    // Random bytes anywhere.
                    _ => {
                        if !bytes.is_empty() {
                            let i = rng.below(bytes.len());
                            bytes[i] = rng.next() as u8;
                        }
                    }
                }
            }
            let (decoded, peak) = survive_measured(&bytes, case % front_end_every == 0);
            worst = worst.max(peak as f64 / bytes.len().max(1) as f64);
            match decoded {
                Ok(_) => ok += 1,
                Err(_) => refused += 1,
            }
        }
    }
    println!(
        "{} cases: {ok} decoded, {refused} refused, peak heap at most {worst:.2} bytes per byte of file",
        ok + refused
    );
    // The mutations reach both outcomes: the loop tests the decoder, not only its first check.
    assert!(ok > 100 && refused > 100, "{ok} decoded, {refused} refused");
}

#[test]
fn the_front_end_holds_memory_in_proportion_to_the_clip() {
    let config = FrontEndConfig::default();
    for (rate, seconds) in [
        (16_000, 3.0),
        (16_000, 10.0),
        (44_100, 10.0),
        (192_000, 10.0),
        (8_000, 60.0),
        // Rates with no small common block with 16 kHz (the sinc resampler).
        (16_001, 3.0),
        (383_987, 3.0),
    ] {
        let n = (f64::from(rate) * seconds) as usize;
        let audio = Audio::mono(
            rate,
            (0..n as u64)
                .map(|i| ((i * 7919) % 200) as f32 / 1e3)
                .collect(),
        );
        let (prepared, peak) = counting::peak(|| FrontEnd::new(config).prepare(&audio, 0));
        prepared.unwrap();
        println!(
            "{rate} Hz, {seconds} s: front-end peak {peak} bytes, bound {}",
            front_end_bound(&audio)
        );
        assert!(
            peak <= front_end_bound(&audio),
            "{rate} Hz, {seconds} s: {peak} bytes"
        );
    }
}
