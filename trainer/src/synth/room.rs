//! How a machine is heard: the room it stands in, the microphone that records it, and the
//! factory around it.
//!
//! - [`Setting`]: per machine ID (a unit stands in one place and is recorded from one spot):
//!   room reverberation (an exponentially decaying noise tail with a few early reflections,
//!   RT60 0.15–0.9 s, reverberant-to-direct energy −10 to +3 dB) and microphone colouring (a
//!   high-pass at 40–180 Hz, two peaks or dips of up to ±7 dB, a treble shelf of ±5 dB). Each
//!   clip adds a small change of its own (the phone held slightly differently): one more
//!   ±2 dB peak.
//! - [`background`]: pink noise, the mains hum of other machines, a cluster of distant tones,
//!   random impacts; in half the clips the background level steps by 2–6 dB somewhere in
//!   the clip (a door, a machine switching on), and in a third a forklift passes (a low
//!   rumble swelling and fading over a few seconds).

use super::signal::{Biquad, RATE, add_ring, brown_noise, convolve, pink_noise, rms, t};
use crate::rng::Rng;
use std::f64::consts::{PI, TAU};

/// The room and microphone of one unit.
#[derive(Debug, Clone)]
pub struct Setting {
    rt60: f64,
    wet: f64,
    early: Vec<(usize, f64)>,
    mic: Vec<Biquad>,
}

impl Setting {
    /// Draws a setting (from the unit's own random stream).
    pub fn draw(rng: &mut Rng) -> Self {
        let early = (0..rng.range(2.0, 6.0) as usize)
            .map(|_| {
                let delay = (rng.range(0.003, 0.03) * RATE) as usize;
                let gain = rng.range(0.2, 0.6) * if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                (delay, gain)
            })
            .collect();
        let mic = vec![
            Biquad::high_pass(rng.range(40.0, 180.0)),
            Biquad::peaking(
                rng.range(200.0, 1_500.0),
                rng.range(0.7, 2.5),
                rng.range(-7.0, 7.0),
            ),
            Biquad::peaking(
                rng.range(1_500.0, 6_500.0),
                rng.range(0.7, 2.5),
                rng.range(-7.0, 7.0),
            ),
            Biquad::high_shelf(rng.range(2_000.0, 5_000.0), rng.range(-5.0, 5.0)),
        ];
        Self {
            rt60: rng.range(0.15, 0.9),
            wet: 10f64.powf(rng.range(-10.0, 3.0) / 10.0),
            early,
            mic,
        }
    }

    /// The impulse response from the machine to the microphone position (before the
    /// microphone's own colouring).
    fn impulse_response(&self, rng: &mut Rng) -> Vec<f64> {
        let len = ((self.rt60 * 1.2).min(1.0) * RATE) as usize;
        let mut h = vec![0.0; len.max(2)];
        let mut tail = vec![0.0; h.len()];
        let onset = (0.005 * RATE) as usize;
        for (i, v) in tail.iter_mut().enumerate().skip(onset) {
            *v = rng.normal() * (-6.9 * t(i - onset) / self.rt60).exp();
        }
        for &(delay, gain) in &self.early {
            if delay < tail.len() {
                tail[delay] += gain;
            }
        }
        let energy: f64 = tail.iter().map(|v| v * v).sum();
        let scale = (self.wet / energy.max(1e-12)).sqrt();
        h[0] = 1.0;
        for (a, b) in h.iter_mut().zip(&tail) {
            *a += scale * b;
        }
        h
    }

    /// The machine's sound `x` as the microphone hears it in this setting.
    pub fn record(&self, x: &[f64], rng: &mut Rng) -> Vec<f64> {
        let mut y = convolve(x, &self.impulse_response(rng));
        for filter in &self.mic {
            filter.apply(&mut y);
        }
        Biquad::peaking(rng.range(300.0, 5_000.0), 1.5, rng.range(-2.0, 2.0)).apply(&mut y);
        y
    }
}

/// Factory background of `n` samples, changing within the clip.
pub fn background(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut x = pink_noise(n, rng);
    let hum = rng.range(49.0, 51.0);
    let (p1, p3) = (rng.range(0.0, TAU), rng.range(0.0, TAU));
    let hum_level = rng.range(0.1, 0.4);
    let distant: Vec<(f64, f64, f64)> = (0..rng.range(0.0, 4.0) as usize)
        .map(|_| {
            (
                rng.range(80.0, 400.0),
                rng.range(0.02, 0.12),
                rng.range(0.0, TAU),
            )
        })
        .collect();
    for (i, v) in x.iter_mut().enumerate() {
        let ti = t(i);
        *v += hum_level * ((TAU * hum * ti + p1).sin() + 0.5 * (TAU * 3.0 * hum * ti + p3).sin());
        for &(f, a, p) in &distant {
            *v += a * (TAU * f * ti + p).sin() * (1.0 + 0.3 * (TAU * 0.7 * ti + p).sin());
        }
    }
    let impacts = rng.range(0.0, 1.0) * n as f64 / RATE;
    for _ in 0..impacts as usize {
        let at = rng.range(0.0, n as f64) as usize;
        let (freq, amp) = (rng.range(200.0, 1_500.0), rng.range(0.5, 2.0));
        add_ring(&mut x, at, freq, 0.02, amp);
    }
    if rng.uniform() < 0.3 {
        // A forklift passes: low rumble under a bell-shaped envelope.
        let mut rumble = brown_noise(n, rng);
        Biquad::low_pass(300.0).apply(&mut rumble);
        let scale = rng.range(0.5, 1.5) * rms(&x) / rms(&rumble).max(1e-12);
        let (centre, width) = (rng.range(0.0, n as f64), rng.range(1.0, 2.5) * RATE);
        for (i, (v, r)) in x.iter_mut().zip(&rumble).enumerate() {
            let d = (i as f64 - centre) / width;
            *v += scale * r * (-d * d).exp();
        }
    }
    if rng.uniform() < 0.5 {
        // The background level steps somewhere in the clip.
        let step =
            10f64.powf(rng.range(2.0, 6.0) / 20.0 * if rng.uniform() < 0.5 { -1.0 } else { 1.0 });
        let (at, fade) = (rng.range(0.1, 0.9) * n as f64, rng.range(0.3, 1.0) * RATE);
        for (i, v) in x.iter_mut().enumerate() {
            let w = ((i as f64 - at) / fade).clamp(0.0, 1.0);
            *v *= 1.0 + (step - 1.0) * (0.5 - 0.5 * (PI * w).cos());
        }
    }
    x
}
