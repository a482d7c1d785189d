#!/usr/bin/env python3
"""Independent reference for Mimimi's signal path (numpy only).

Writes, under tests/fixtures/stft/:
  <case>.wav        the input file the Rust test decodes with mimimi-dsp
  <case>.re.f32     expected STFT real part, float32 little-endian, [513, frames] row-major
  <case>.im.f32     expected STFT imaginary part
  index.json        per case: file, channel, sample rate, frames, pad mode, and the expected
                    per-clip normalisation statistics

The STFT here is written from its definition (a direct DFT of each Hann-windowed frame,
float64), not with the FFT the Rust code uses:
  X[f, t] = sum_n w[n] * x_pad[t*hop + n] * exp(-2j*pi*f*n/n_fft),  w periodic Hann.

The 48 kHz case holds tones below 2 kHz; its expected spectrogram is that of the same tones
synthesised directly at 16 kHz, so the test also checks the resampler (with the looser
tolerance that a band-limited resampler allows, see the Rust test).

Run: python3 tests/make_stft_fixtures.py   (deterministic: the same files every time)
"""
import json
import os
import struct

import numpy as np

N_FFT, HOP, SR = 1024, 512, 16000
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "stft")


def stft(x, pad_mode):
    x = np.asarray(x, dtype=np.float64)
    xp = np.pad(x, N_FFT // 2, mode="reflect" if pad_mode == "reflect" else "constant")
    frames = 1 + len(x) // HOP
    n = np.arange(N_FFT)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)
    f = np.arange(N_FFT // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(f, n) / N_FFT)  # [513, 1024]
    idx = np.arange(frames)[:, None] * HOP + n[None, :]
    segs = xp[idx] * w[None, :]  # [frames, 1024]
    return dft @ segs.T  # [513, frames]


def write_wav(path, channels, rate, kind):
    """channels: list of float arrays. kind: 'pcm16', 'pcm24' or 'float32'."""
    data = np.stack(channels, axis=1)  # [samples, channels]
    nch = data.shape[1]
    if kind == "float32":
        tag, bits, payload = 3, 32, data.astype("<f4").tobytes()
    elif kind == "pcm16":
        tag, bits = 1, 16
        payload = np.round(np.clip(data, -1, 1) * 32767).astype("<i2").tobytes()
    elif kind == "pcm24":
        tag, bits = 1, 24
        v = np.round(np.clip(data, -1, 1) * 8388607).astype("<i4")
        payload = b"".join(int(s).to_bytes(4, "little", signed=True)[:3] for s in v.ravel())
    align = nch * bits // 8
    header = b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, tag, nch, rate, rate * align, align, bits)
    header += b"data" + struct.pack("<I", len(payload))
    with open(path, "wb") as fh:
        fh.write(header + payload)


def decoded(x, kind):
    """What a decoder reads back from the file: the float the STFT must be computed on."""
    x = np.asarray(x, dtype=np.float64)
    if kind == "pcm16":
        return np.round(np.clip(x, -1, 1) * 32767) / 32768.0
    if kind == "pcm24":
        return np.round(np.clip(x, -1, 1) * 8388607) / 8388608.0
    return x.astype(np.float32).astype(np.float64)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261128)
    t16 = np.arange(int(2.5 * SR)) / SR
    cases = []

    def add(name, channels, rate, kind, channel, expected_signal, pad="reflect", wav=None):
        wav = wav or name + ".wav"
        write_wav(os.path.join(OUT, wav), channels, rate, kind)
        x = expected_signal if expected_signal is not None else decoded(channels[channel], kind)
        X = stft(x, pad)
        X.real.astype("<f4").tofile(os.path.join(OUT, name + ".re.f32"))
        X.imag.astype("<f4").tofile(os.path.join(OUT, name + ".im.f32"))
        stats = [X.real.mean(), X.real.std() + 1e-8, X.imag.mean(), X.imag.std() + 1e-8]
        cases.append({"name": name, "wav": wav, "channel": channel,
                      "sample_rate": rate, "bins": X.shape[0], "frames": X.shape[1],
                      "pad": pad, "resampled": expected_signal is not None,
                      "norm_stats": [float(s) for s in stats]})

    tones = 0.4 * np.sin(2 * np.pi * 440 * t16) + 0.2 * np.sin(2 * np.pi * 1234.5 * t16 + 0.3)
    add("tones_pcm16", [tones], SR, "pcm16", 0, None)
    chirp = 0.5 * np.sin(2 * np.pi * (50 * t16 + 0.5 * (7000 - 50) / t16[-1] * t16**2))
    add("chirp_float32", [chirp], SR, "float32", 0, None)
    add("chirp_zero_pad", [chirp], SR, "float32", 0, None, pad="zero", wav="chirp_float32.wav")
    noise = 0.3 * rng.standard_normal(len(t16))
    add("noise_pcm24", [noise], SR, "pcm24", 0, None)
    # Eight channels like MIMII's array: different content per channel, the test picks 0 and 5.
    eight = [0.3 * np.sin(2 * np.pi * (200 + 150 * c) * t16) + 0.05 * rng.standard_normal(len(t16))
             for c in range(8)]
    add("eight_channels_ch0", eight, SR, "pcm16", 0, None, wav="eight_channels.wav")
    add("eight_channels_ch5", eight, SR, "pcm16", 5, None, wav="eight_channels.wav")
    # 48 kHz: tones whose expected spectrogram is computed from the 16 kHz synthesis.
    t48 = np.arange(int(2.5 * 48000)) / 48000

    def tones_at(t):
        return 0.3 * np.sin(2 * np.pi * 300 * t) + 0.25 * np.sin(2 * np.pi * 1875 * t + 1.0)

    add("tones_48k", [tones_at(t48)], 48000, "float32", 0, tones_at(t16))
    with open(os.path.join(OUT, "index.json"), "w") as fh:
        json.dump({"n_fft": N_FFT, "hop": HOP, "cases": cases}, fh, indent=1)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
