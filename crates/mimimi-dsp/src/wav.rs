//! WAV decoding: RIFF/WAVE with PCM integer (8, 16, 24, 32 bit) or IEEE float (32, 64 bit)
//! samples, plain or `WAVE_FORMAT_EXTENSIBLE`, any number of channels.
//!
//! Written here rather than taken from a crate so that every malformed file the page can be
//! handed (empty, truncated, a text file renamed `.wav`) gets a specific, readable error.

use thiserror::Error;

/// Decoded audio: one `Vec<f32>` per channel, samples scaled to [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples per second.
    pub sample_rate: u32,
    /// The samples, channel by channel (not interleaved).
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// A mono clip from samples at `sample_rate`.
    pub fn mono(sample_rate: u32, samples: Vec<f32>) -> Self {
        Self {
            sample_rate,
            channels: vec![samples],
        }
    }

    /// Number of samples per channel.
    pub fn len(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// True when the clip holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.len() as f64 / f64::from(self.sample_rate)
    }

    /// The samples of one channel, or an error naming how many channels there are.
    pub fn channel(&self, index: usize) -> Result<&[f32], WavError> {
        self.channels
            .get(index)
            .map(Vec::as_slice)
            .ok_or(WavError::NoSuchChannel {
                requested: index,
                available: self.channels.len(),
            })
    }
}

/// Why a file could not be read as WAV audio.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum WavError {
    /// Zero bytes.
    #[error("the file is empty")]
    Empty,
    /// No RIFF/WAVE header: some other kind of file.
    #[error("not a WAV file (no RIFF/WAVE header); it may be another format or a renamed file")]
    NotWav,
    /// A required chunk is missing.
    #[error("damaged WAV file: no `{0}` chunk")]
    MissingChunk(&'static str),
    /// A chunk is shorter than it must be.
    #[error("damaged WAV file: the `{0}` chunk is truncated")]
    Truncated(&'static str),
    /// An encoding this decoder does not read (e.g. ADPCM, mu-law).
    #[error("unsupported WAV encoding: format tag {format_tag:#06x} with {bits} bits per sample")]
    Unsupported {
        /// The `wFormatTag` (or the extensible sub-format).
        format_tag: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// Header values that contradict each other.
    #[error("damaged WAV file: {0}")]
    BadHeader(String),
    /// The data chunk holds no sample.
    #[error("the WAV file holds no audio samples")]
    NoSamples,
    /// Longer than the decode's limit, found from the header before any sample is decoded.
    #[error("the clip is {seconds:.0} s long; at most {max_seconds:.0} s are accepted: trim it")]
    TooLong {
        /// Length the header and the data chunk give.
        seconds: f64,
        /// Longest clip accepted.
        max_seconds: f64,
    },
    /// More channels than the decode's limit.
    #[error("the file has {channels} channels; at most {max} are accepted")]
    TooManyChannels {
        /// Channels in the file.
        channels: u16,
        /// Most channels accepted.
        max: u16,
    },
    /// A channel index beyond the file's channel count.
    #[error("channel {requested} requested, but the file has {available} channel(s)")]
    NoSuchChannel {
        /// Channel asked for (0-based).
        requested: usize,
        /// Channels in the file.
        available: usize,
    },
}

/// What a decode may cost, checked from the header before any sample is decoded: a header can
/// promise hours of audio, and 8-bit samples take four times their bytes as f32.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeLimits {
    /// Longest clip accepted (seconds); the front end's default limit.
    pub max_seconds: f64,
    /// Most channels accepted (MIMII's arrays have 8).
    pub max_channels: u16,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_seconds: 300.0,
            max_channels: 32,
        }
    }
}

const FORMAT_PCM: u16 = 0x0001;
const FORMAT_FLOAT: u16 = 0x0003;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

struct Format {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits: u16,
}

/// Decodes a whole WAV file held in memory, within [`DecodeLimits::default`].
///
/// A data chunk whose declared size runs past the end of the file (a recording that was cut
/// off) is read up to the last whole sample frame, as most players do.
pub fn decode_wav(bytes: &[u8]) -> Result<Audio, WavError> {
    decode_wav_within(bytes, &DecodeLimits::default())
}

/// [`decode_wav`] within `limits`: a longer clip or more channels is refused before any
/// sample is decoded.
pub fn decode_wav_within(bytes: &[u8], limits: &DecodeLimits) -> Result<Audio, WavError> {
    let (format, data) = header(bytes, limits)?;
    decode_samples(&format, data, 0..usize::from(format.channels))
}

/// [`decode_wav_within`], keeping only channel `channel` (the others are read past, never
/// stored, so memory is one channel's whatever the file holds). Returns that channel as mono
/// audio and how many channels the file has.
pub fn decode_wav_channel(
    bytes: &[u8],
    channel: u16,
    limits: &DecodeLimits,
) -> Result<(Audio, u16), WavError> {
    let (format, data) = header(bytes, limits)?;
    if channel >= format.channels {
        return Err(WavError::NoSuchChannel {
            requested: usize::from(channel),
            available: usize::from(format.channels),
        });
    }
    let keep = usize::from(channel);
    Ok((
        decode_samples(&format, data, keep..keep + 1)?,
        format.channels,
    ))
}

/// The format and the sample bytes of a WAV file, checked against `limits`.
fn header<'a>(bytes: &'a [u8], limits: &DecodeLimits) -> Result<(Format, &'a [u8]), WavError> {
    if bytes.is_empty() {
        return Err(WavError::Empty);
    }
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    let mut format = None;
    let mut data: Option<&[u8]> = None;
    // Offsets in u64: a chunk size near 2³² must not wrap them where `usize` is 32 bits
    // (wasm32), and every step moves forward by at least 8 bytes, so the walk ends.
    let len = bytes.len() as u64;
    let mut pos: u64 = 12;
    while pos + 8 <= len {
        // In bounds: pos + 8 <= len, and len fits in usize.
        let at = pos as usize;
        let id = &bytes[at..at + 4];
        let size = u64::from(u32::from_le_bytes([
            bytes[at + 4],
            bytes[at + 5],
            bytes[at + 6],
            bytes[at + 7],
        ]));
        let body_start = pos + 8;
        let body_end = (body_start + size).min(len);
        let body = &bytes[body_start as usize..body_end as usize];
        match id {
            b"fmt " => format = Some(parse_format(body)?),
            b"data" => {
                data = Some(body);
                // Streams sometimes write 0 or 0xFFFFFFFF as the size: take the rest.
                if size == 0 || size == u64::from(u32::MAX) {
                    data = Some(&bytes[body_start as usize..]);
                }
            }
            _ => {}
        }
        if data.is_some() && format.is_some() {
            break;
        }
        // Chunks are padded to an even size.
        pos = body_start + size + (size & 1);
    }
    let format = format.ok_or(WavError::MissingChunk("fmt "))?;
    let data = data.ok_or(WavError::MissingChunk("data"))?;
    if format.channels > limits.max_channels {
        return Err(WavError::TooManyChannels {
            channels: format.channels,
            max: limits.max_channels,
        });
    }
    let seconds =
        (data.len() / usize::from(format.block_align)) as f64 / f64::from(format.sample_rate);
    if seconds > limits.max_seconds {
        return Err(WavError::TooLong {
            seconds,
            max_seconds: limits.max_seconds,
        });
    }
    Ok((format, data))
}

fn parse_format(body: &[u8]) -> Result<Format, WavError> {
    if body.len() < 16 {
        return Err(WavError::Truncated("fmt "));
    }
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let mut tag = u16_at(0);
    let channels = u16_at(2);
    let sample_rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let block_align = u16_at(12);
    let bits = u16_at(14);
    if tag == FORMAT_EXTENSIBLE {
        if body.len() < 26 {
            return Err(WavError::Truncated("fmt "));
        }
        // The first two bytes of the sub-format GUID hold the real format tag.
        tag = u16_at(24);
    }
    if channels == 0 {
        return Err(WavError::BadHeader("zero channels".into()));
    }
    if sample_rate == 0 {
        return Err(WavError::BadHeader("sample rate of 0 Hz".into()));
    }
    let supported = match tag {
        FORMAT_PCM => matches!(bits, 8 | 16 | 24 | 32),
        FORMAT_FLOAT => matches!(bits, 32 | 64),
        _ => false,
    };
    if !supported {
        return Err(WavError::Unsupported {
            format_tag: tag,
            bits,
        });
    }
    let min_align = usize::from(channels) * usize::from(bits / 8);
    if usize::from(block_align) < min_align {
        return Err(WavError::BadHeader(format!(
            "block align {block_align} is too small for {channels} channel(s) of {bits} bits"
        )));
    }
    Ok(Format {
        tag,
        channels,
        sample_rate,
        block_align,
        bits,
    })
}

/// Decodes the channels `keep` of every sample frame.
fn decode_samples(
    format: &Format,
    data: &[u8],
    keep: std::ops::Range<usize>,
) -> Result<Audio, WavError> {
    let align = usize::from(format.block_align);
    let width = usize::from(format.bits / 8);
    let frames = data.len() / align;
    if frames == 0 {
        return Err(WavError::NoSamples);
    }
    let mut out = vec![Vec::with_capacity(frames); keep.len()];
    for frame in data.chunks_exact(align) {
        for (c, channel) in keep.clone().zip(out.iter_mut()) {
            let s = &frame[c * width..(c + 1) * width];
            channel.push(sample_to_f32(format.tag, format.bits, s));
        }
    }
    Ok(Audio {
        sample_rate: format.sample_rate,
        channels: out,
    })
}

fn sample_to_f32(tag: u16, bits: u16, s: &[u8]) -> f32 {
    match (tag, bits) {
        // 8-bit PCM is unsigned with its zero at 128.
        (FORMAT_PCM, 8) => (f32::from(s[0]) - 128.0) / 128.0,
        (FORMAT_PCM, 16) => f32::from(i16::from_le_bytes([s[0], s[1]])) / 32_768.0,
        (FORMAT_PCM, 24) => {
            let v = i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8;
            v as f32 / 8_388_608.0
        }
        (FORMAT_PCM, 32) => {
            (f64::from(i32::from_le_bytes([s[0], s[1], s[2], s[3]])) / 2_147_483_648.0) as f32
        }
        (FORMAT_FLOAT, 32) => f32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        (FORMAT_FLOAT, 64) => f64::from_le_bytes(std::array::from_fn(|i| s[i])) as f32,
        _ => unreachable!("checked in parse_format"),
    }
}

/// Sample encodings [`encode_wav`] can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 16-bit signed PCM (what the DCASE and MIMII files use).
    Pcm16,
    /// 32-bit IEEE float (lossless for our f32 samples).
    Float32,
}

/// Encodes audio as a WAV file. Used by the synthetic corpus, the tests and the page's
/// "save recording" button; samples outside [-1, 1] are clipped for PCM.
pub fn encode_wav(audio: &Audio, format: SampleFormat) -> Vec<u8> {
    let channels = audio.channels.len() as u16;
    let (tag, bits) = match format {
        SampleFormat::Pcm16 => (FORMAT_PCM, 16u16),
        SampleFormat::Float32 => (FORMAT_FLOAT, 32u16),
    };
    let block_align = channels * bits / 8;
    let data_len = audio.len() * usize::from(block_align);
    let mut out = Vec::with_capacity(44 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((36 + data_len) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&audio.sample_rate.to_le_bytes());
    out.extend_from_slice(&(audio.sample_rate * u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for i in 0..audio.len() {
        for channel in &audio.channels {
            let x = channel[i];
            match format {
                SampleFormat::Pcm16 => {
                    let v = (x.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
                    out.extend_from_slice(&v.to_le_bytes());
                }
                SampleFormat::Float32 => out.extend_from_slice(&x.to_le_bytes()),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut v = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        v.extend_from_slice(&align.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn decodes_each_integer_width() {
        let a = decode_wav(&header(1, 1, 8000, 8, &[0, 128, 255])).unwrap();
        assert_eq!(a.channels[0], vec![-1.0, 0.0, 127.0 / 128.0]);
        let a = decode_wav(&header(1, 1, 8000, 16, &[0x00, 0x80, 0xff, 0x7f])).unwrap();
        assert_eq!(a.channels[0], vec![-1.0, 32767.0 / 32768.0]);
        let a = decode_wav(&header(1, 1, 8000, 24, &[0, 0, 0x80, 0xff, 0xff, 0xff])).unwrap();
        assert_eq!(a.channels[0], vec![-1.0, -1.0 / 8_388_608.0]);
        let a = decode_wav(&header(1, 1, 8000, 32, &[0, 0, 0, 0x40])).unwrap();
        assert_eq!(a.channels[0], vec![0.5]);
    }

    #[test]
    fn decodes_float_and_keeps_channels_apart() {
        let mut data = Vec::new();
        for x in [0.25f32, -0.5, 0.75, 1.0] {
            data.extend_from_slice(&x.to_le_bytes());
        }
        let a = decode_wav(&header(3, 2, 48_000, 32, &data)).unwrap();
        assert_eq!(a.sample_rate, 48_000);
        assert_eq!(a.channels, vec![vec![0.25, 0.75], vec![-0.5, 1.0]]);
        assert_eq!(a.channel(1).unwrap(), &[-0.5, 1.0]);
        assert_eq!(
            a.channel(2).unwrap_err(),
            WavError::NoSuchChannel {
                requested: 2,
                available: 2
            }
        );
    }

    #[test]
    fn round_trips_through_encoder() {
        let audio = Audio {
            sample_rate: 22_050,
            channels: vec![vec![0.1, -0.2, 0.3]; 8],
        };
        let back = decode_wav(&encode_wav(&audio, SampleFormat::Float32)).unwrap();
        assert_eq!(back, audio);
        let back = decode_wav(&encode_wav(&audio, SampleFormat::Pcm16)).unwrap();
        assert!((back.channels[7][2] - 0.3).abs() < 1e-4);
    }

    #[test]
    fn rejects_bad_input_with_specific_errors() {
        assert_eq!(decode_wav(&[]), Err(WavError::Empty));
        assert_eq!(
            decode_wav(b"hello, this is a text file"),
            Err(WavError::NotWav)
        );
        assert_eq!(
            decode_wav(b"RIFF\0\0\0\0WAVE"),
            Err(WavError::MissingChunk("fmt "))
        );
        assert_eq!(
            decode_wav(&header(1, 1, 8000, 16, &[])),
            Err(WavError::NoSamples)
        );
        assert_eq!(
            decode_wav(&header(2, 1, 8000, 4, &[1, 2])),
            Err(WavError::Unsupported {
                format_tag: 2,
                bits: 4
            })
        );
        assert!(matches!(
            decode_wav(&header(1, 0, 8000, 16, &[1, 2])),
            Err(WavError::BadHeader(_))
        ));
        let mut cut = header(1, 1, 8000, 16, &[1, 0, 2, 0, 3, 0]);
        cut.truncate(cut.len() - 3); // a recording cut off mid-sample
        assert_eq!(decode_wav(&cut).unwrap().len(), 1);
    }

    #[test]
    fn one_channel_is_kept_of_many() {
        let audio = Audio {
            sample_rate: 8_000,
            channels: (0..8)
                .map(|c| (0..100).map(|i| (i * 8 + c) as f32 / 1024.0).collect())
                .collect(),
        };
        let bytes = encode_wav(&audio, SampleFormat::Float32);
        let limits = DecodeLimits::default();
        for keep in [0u16, 5, 7] {
            let (one, channels) = decode_wav_channel(&bytes, keep, &limits).unwrap();
            assert_eq!(channels, 8);
            assert_eq!(
                one.channels,
                vec![audio.channels[usize::from(keep)].clone()]
            );
            assert_eq!(one.sample_rate, 8_000);
        }
        assert!(matches!(
            decode_wav_channel(&bytes, 8, &limits),
            Err(WavError::NoSuchChannel {
                requested: 8,
                available: 8
            })
        ));
    }

    #[test]
    fn refuses_long_or_wide_files_from_the_header() {
        // 301 s of 8-bit mono at 1 kHz: refused by the default limit before decoding.
        let long = header(1, 1, 1_000, 8, &vec![128; 301_000]);
        assert!(matches!(
            decode_wav(&long),
            Err(WavError::TooLong { seconds, .. }) if (seconds - 301.0).abs() < 1e-9
        ));
        let tight = DecodeLimits {
            max_seconds: 1.0,
            max_channels: 2,
        };
        assert!(matches!(
            decode_wav_within(&header(1, 1, 1_000, 8, &[128; 1_001]), &tight),
            Err(WavError::TooLong { .. })
        ));
        assert!(decode_wav_within(&header(1, 1, 1_000, 8, &[128; 1_000]), &tight).is_ok());
        assert_eq!(
            decode_wav_within(&header(1, 3, 1_000, 8, &[128; 30]), &tight),
            Err(WavError::TooManyChannels {
                channels: 3,
                max: 2
            })
        );
    }
}
