//! Audio in, normalised complex spectrogram out.
//!
//! The signal path of Mimimi, shared by the trainer and the web page so that both compute the
//! same numbers:
//!
//! 1. [`wav`]: decode a WAV file (PCM 8/16/24/32-bit, float 32/64, any channel count) and pick
//!    one channel.
//! 2. [`resample`](mod@resample): bring any sample rate to 16 kHz with a band-limited resampler.
//! 3. [`stft`]: complex short-time Fourier transform (phase kept).
//! 4. [`normalize`]: per-clip standardisation of the real and imaginary parts.
//! 5. [`examples`]: cut the spectrogram into the fixed-width examples the network sees.
//!
//!
//! [`quality`] checks that an enrollment take is long, loud and clean enough to learn from.
//!
//! [`mel`] gives the log-mel features of the classical baseline the trainer compares against;
//! [`descriptors`] describes each window by hand-made features (log-mel statistics, envelope
//! modulation) for the classical members of a combined score.
//!
//! [`FrontEnd`] chains steps 2 to 4 with one serialisable configuration, which each model's
//! manifest records.

pub mod descriptors;
pub mod examples;
pub mod mel;
pub mod normalize;
pub mod quality;
pub mod resample;
pub mod stft;
pub mod wav;

pub mod frontend;

pub use descriptors::{Describer, Descriptor};
pub use examples::{ExampleConfig, Window};
pub use frontend::{ConfigError, FrontEnd, FrontEndConfig, FrontEndError, Prepared};
pub use normalize::{BadExponent, NormStats, Normalization};
pub use resample::{ResampleError, resample};
pub use stft::{PadMode, Spectrogram, StftConfig};
pub use wav::{Audio, DecodeLimits, WavError, decode_wav, decode_wav_channel, decode_wav_within};

/// The sample rate every model works at (Hz). Anything else is resampled to it first.
pub const MODEL_SAMPLE_RATE: u32 = 16_000;
