//! One check: samples → STFT → windows → evidence → verdict, timed, with the pictures the
//! result view draws. The evidence is what the target's rule needs: descriptors of the
//! spectrogram, and the network only for rules that read it, a few windows at a time; both
//! hand control back to the browser in between so the page stays responsive and shows
//! progress.

use crate::backend::Backend;
use crate::error::PageError;
use crate::fetch::{now_ms, yield_now};
use crate::worker::{self, Compute};
use mimimi_dsp::{Audio, FrontEnd, Prepared, Spectrogram};
use mimimi_model::evidence;
use mimimi_model::{Evidence, Judgement, Manifest, Needs, Target, Verdict};

/// Where the time went, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timings {
    /// Decoding the file or collecting the recording.
    pub decode_ms: f64,
    /// Channel choice, resampling, STFT and normalisation.
    pub stft_ms: f64,
    /// The evidence: descriptors, and the network over all windows where the rule needs it.
    pub inference_ms: f64,
}

/// An RGBA image for a canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major RGBA bytes, top row first.
    pub rgba: Vec<u8>,
}

/// Everything the result view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Machine type and ID checked against.
    pub machine: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Score of each window, in time order.
    pub window_scores: Vec<f64>,
    /// Start and end of each window in seconds.
    pub window_spans: Vec<(f64, f64)>,
    /// Length of the clip in seconds.
    pub seconds: f64,
    /// Where the time went.
    pub timings: Timings,
    /// The backend the network ran on; None when the rule needed no network (the descriptors
    /// are computed on the CPU).
    pub backend: Option<Backend>,
    /// Notes about the input (channels used, resampling).
    pub notes: Vec<String>,
    /// Magnitude spectrogram (dB).
    pub magnitude: Picture,
    /// Phase as instantaneous-frequency deviation.
    pub phase: Picture,
}

/// The input as given, before the front end.
pub struct Clip {
    /// Decoded audio (of a file with several channels, the first only).
    pub audio: Audio,
    /// How many channels the source has.
    pub channels: usize,
    /// Where it came from (file name, "recording", example name).
    pub source: String,
    /// Time spent decoding it (ms).
    pub decode_ms: f64,
}

impl Clip {
    /// A clip of `audio` from `source`, decoded in `decode_ms`, with as many channels as the
    /// audio holds.
    pub fn new(audio: Audio, source: impl Into<String>, decode_ms: f64) -> Self {
        Self {
            channels: audio.channels.len(),
            audio,
            source: source.into(),
            decode_ms,
        }
    }
}

/// The front end on a clip.
pub fn prepare(clip: &Clip, manifest: &Manifest) -> Result<Prepared, PageError> {
    FrontEnd::new(manifest.frontend)
        .prepare(&clip.audio, 0)
        .map_err(|source| PageError::Clip {
            clip: clip.source.clone(),
            source,
        })
}

/// What `needs` asks of `clip`, prepared: the descriptors a window at a time, yielding to the
/// browser in between, the network's part (`compute`, required when `needs` reads it) from the
/// engine worker, which cuts the clip the same way (`class`: the machine ID a cross-entropy is
/// against).
pub async fn evidence(
    clip: &Clip,
    prepared: &Prepared,
    frontend: &mimimi_dsp::FrontEndConfig,
    needs: &Needs,
    class: Option<usize>,
    compute: Option<Compute<'_>>,
    progress: &dyn Fn(usize, usize),
) -> Result<Evidence, PageError> {
    let mut describing = evidence::Describing::new(frontend, needs, prepared);
    while describing.step() {
        yield_now().await;
    }
    let mut evidence = Evidence {
        rows: describing.finish(),
        ..Evidence::default()
    };
    if needs.network() {
        let compute = compute.ok_or(PageError::NoNetwork)?;
        progress(0, prepared.windows.len());
        let batches =
            worker::evidence(compute, needs, class, *frontend, &clip.audio, progress).await?;
        for batch in batches {
            evidence.push(needs, batch);
        }
    }
    Ok(evidence)
}

/// Runs the check (`compute`: the network, for a rule that reads it). `progress(done, total)`
/// reports windows scored.
pub async fn analyze(
    clip: &Clip,
    manifest: &Manifest,
    compute: Option<Compute<'_>>,
    target: &Target,
    progress: &dyn Fn(usize, usize),
) -> Result<Analysis, PageError> {
    target.check(manifest)?;
    let mut notes = Vec::new();
    let channels = clip.channels;
    if channels > 1 {
        notes.push(format!(
            "{} has {channels} channels: the first one is checked (as in MIMII's channel 0).",
            clip.source
        ));
    }
    if clip.audio.sample_rate != manifest.frontend.sample_rate {
        notes.push(format!(
            "Resampled from {} Hz to {} Hz.",
            clip.audio.sample_rate, manifest.frontend.sample_rate
        ));
    }
    let start = now_ms();
    let prepared = prepare(clip, manifest)?;
    let stft_ms = now_ms() - start;
    yield_now().await;

    let start = now_ms();
    let class = match target {
        Target::Id(id) => manifest.class_of(id).ok(),
        Target::Enrolled(_) => None,
    };
    let needs = target.needs(manifest);
    let evidence = evidence(
        clip,
        &prepared,
        &manifest.frontend,
        &needs,
        class,
        compute,
        progress,
    )
    .await?;
    let Judgement { score, verdict } = mimimi_model::judge(manifest, target, &evidence)?;
    let inference_ms = now_ms() - start;
    let hop_s = manifest.frontend.stft.hop as f64 / f64::from(manifest.frontend.sample_rate);
    let levels = Levels::new(
        &prepared.spectrogram,
        manifest.frontend.normalization.magnitude_exponent(),
    );
    let window_spans = prepared
        .windows
        .iter()
        .map(|w| (w.start as f64 * hop_s, (w.start + w.width) as f64 * hop_s))
        .collect();
    Ok(Analysis {
        machine: target.describe(manifest),
        verdict,
        window_scores: score.window_scores,
        window_spans,
        seconds: prepared.seconds,
        timings: Timings {
            decode_ms: clip.decode_ms,
            stft_ms,
            inference_ms,
        },
        backend: compute.filter(|_| needs.network()).map(|c| c.backend),
        notes,
        magnitude: magnitude_picture(&levels),
        phase: phase_picture(
            &levels,
            manifest.frontend.stft.hop,
            manifest.frontend.stft.n_fft,
        ),
    })
}

/// Largest picture width: longer clips are decimated in time.
const MAX_WIDTH: usize = 1200;
/// Picture height: bins are decimated to this many rows.
const HEIGHT: usize = 256;

/// Frame and bin picked for picture column `x` and row `y` (row 0 is the top, the highest
/// frequency).
fn pick(spec: &Spectrogram, width: usize, x: usize, y: usize) -> (usize, usize) {
    let t = x * spec.frames / width;
    let f = (HEIGHT - 1 - y) * spec.bins / HEIGHT;
    (t, f)
}

fn picture_size(spec: &Spectrogram) -> usize {
    spec.frames.clamp(1, MAX_WIDTH)
}

/// Blue → purple → orange → yellow, from `v` in 0..1.
fn heat(v: f64) -> [u8; 3] {
    const STOPS: [[f64; 3]; 5] = [
        [13.0, 8.0, 135.0],
        [126.0, 3.0, 168.0],
        [204.0, 71.0, 120.0],
        [248.0, 149.0, 64.0],
        [240.0, 249.0, 33.0],
    ];
    let v = v.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let (i, frac) = ((v.floor() as usize).min(STOPS.len() - 2), v - v.floor());
    let mut out = [0u8; 3];
    for (c, o) in out.iter_mut().enumerate() {
        *o = (STOPS[i][c] + frac * (STOPS[i + 1][c] - STOPS[i][c])) as u8;
    }
    out
}

/// The levels of the sound itself, in dB (up to an offset), read from the normalised
/// spectrum: its levels divided by the exponent its magnitudes were raised to
/// ([`mimimi_dsp::Normalization::magnitude_exponent`]), so that a model that hears a
/// compressed spectrum still shows the clip's real 80 dB. Both pictures share it.
pub struct Levels<'a> {
    spec: &'a Spectrogram,
    exponent: f64,
    /// The loudest bin's level: the top of both pictures' scales.
    top: f64,
}

impl<'a> Levels<'a> {
    /// The levels of `spec`, whose magnitudes were raised to `exponent`.
    pub fn new(spec: &'a Spectrogram, exponent: f64) -> Self {
        let mut levels = Self {
            spec,
            exponent,
            top: f64::MIN,
        };
        levels.top = (0..spec.bins * spec.frames)
            .map(|i| levels.db(i % spec.frames, i / spec.frames))
            .fold(f64::MIN, f64::max);
        levels
    }

    /// Level of bin `f` of frame `t`.
    fn db(&self, t: usize, f: usize) -> f64 {
        let i = f * self.spec.frames + t;
        let p = f64::from(self.spec.re[i]).powi(2) + f64::from(self.spec.im[i]).powi(2);
        10.0 * (p + 1e-12).log10() / self.exponent
    }
}

/// Magnitude in dB over an 80 dB range below the clip's loudest bin.
pub fn magnitude_picture(levels: &Levels) -> Picture {
    let spec = levels.spec;
    let width = picture_size(spec);
    let (db, top) = (|t, f| levels.db(t, f), levels.top);
    let mut rgba = Vec::with_capacity(width * HEIGHT * 4);
    for y in 0..HEIGHT {
        for x in 0..width {
            let (t, f) = pick(spec, width, x, y);
            let [r, g, b] = heat((db(t, f) - (top - 80.0)) / 80.0);
            rgba.extend([r, g, b, 255]);
        }
    }
    Picture {
        width,
        height: HEIGHT,
        rgba,
    }
}

/// The phase as instantaneous-frequency deviation: how far each bin's phase advance from one
/// frame to the next differs from what a steady sinusoid at the bin's centre would give
/// (−π..π, blue below, red above), faded where the bin is quiet. Steady tones show as flat
/// bands; clicks, rattles and drifting pitch break them.
pub fn phase_picture(levels: &Levels, hop: usize, n_fft: usize) -> Picture {
    let spec = levels.spec;
    let width = picture_size(spec);
    let phase = |t: usize, f: usize| {
        let i = f * spec.frames + t;
        f64::from(spec.im[i]).atan2(f64::from(spec.re[i]))
    };
    let (db, top) = (|t, f| levels.db(t, f), levels.top);
    let tau = std::f64::consts::TAU;
    let mut rgba = Vec::with_capacity(width * HEIGHT * 4);
    for y in 0..HEIGHT {
        for x in 0..width {
            let (t, f) = pick(spec, width, x, y);
            let deviation = if t == 0 {
                0.0
            } else {
                let expected = tau * f as f64 * hop as f64 / n_fft as f64;
                let d = phase(t, f) - phase(t - 1, f) - expected;
                d - tau * (d / tau).round()
            };
            let v = deviation / std::f64::consts::PI; // −1..1
            let loud = ((db(t, f) - top + 60.0) / 60.0).clamp(0.0, 1.0);
            let (r, g, b) = if v >= 0.0 {
                (255.0, 255.0 * (1.0 - v), 255.0 * (1.0 - v))
            } else {
                (255.0 * (1.0 + v), 255.0 * (1.0 + v), 255.0)
            };
            let fade = |c: f64| (c * loud + 24.0 * (1.0 - loud)) as u8;
            rgba.extend([fade(r), fade(g), fade(b), 255]);
        }
    }
    Picture {
        width,
        height: HEIGHT,
        rgba,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mimimi_dsp::Normalization;

    /// 256 bins whose levels fall from 0 to −120 dB, over 8 frames; each bin's phase turns
    /// once around in them, so the mean the standardisation subtracts is zero.
    fn falling_levels() -> Spectrogram {
        let (bins, frames) = (256, 8);
        let mut spec = Spectrogram {
            bins,
            frames,
            re: vec![0.0; bins * frames],
            im: vec![0.0; bins * frames],
        };
        for f in 0..bins {
            let magnitude = 10f64.powf(-6.0 * f as f64 / bins as f64);
            for t in 0..frames {
                let angle = std::f64::consts::TAU * t as f64 / frames as f64 + 0.3 * f as f64;
                spec.re[f * frames + t] = (magnitude * angle.cos()) as f32;
                spec.im[f * frames + t] = (magnitude * angle.sin()) as f32;
            }
        }
        spec
    }

    fn largest_difference(a: &Picture, b: &Picture) -> u8 {
        a.rgba
            .iter()
            .zip(&b.rgba)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap()
    }

    #[test]
    fn pictures_show_the_sound_not_the_compressed_network_input() {
        let (mut linear, mut compressed) = (falling_levels(), falling_levels());
        let power_law = Normalization::power_law(0.3);
        Normalization::default().apply(&mut linear);
        power_law.apply(&mut compressed);
        let exponent = power_law.magnitude_exponent();
        assert_eq!(exponent, 0.3);
        assert_eq!(Normalization::default().magnitude_exponent(), 1.0);
        let (linear, undone) = (
            Levels::new(&linear, 1.0),
            Levels::new(&compressed, exponent),
        );
        let plain = magnitude_picture(&linear);
        // Undone, the compression leaves the picture as it was (up to rounding) ...
        assert!(largest_difference(&plain, &magnitude_picture(&undone)) <= 2);
        assert!(
            largest_difference(
                &phase_picture(&linear, 512, 1024),
                &phase_picture(&undone, 512, 1024)
            ) <= 2
        );
        // ... and left in, it would squeeze 80 dB into 24 (most of the picture too bright).
        let left_in = Levels::new(&compressed, 1.0);
        assert!(largest_difference(&plain, &magnitude_picture(&left_in)) > 50);
    }
}
