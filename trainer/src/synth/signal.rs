//! Building blocks of the synthetic sounds: coloured noises, ringing transients, oscillators
//! that follow a changing speed, smooth random curves, biquad filters and convolution.

use crate::rng::Rng;
use rustfft::{FftPlanner, num_complex::Complex};
use std::f64::consts::{PI, TAU};

/// Sample rate of the corpus (Hz).
pub const RATE: f64 = 16_000.0;

/// Seconds of sample `i`.
pub fn t(i: usize) -> f64 {
    i as f64 / RATE
}

/// White noise through a two-pole resonator at `freq` with bandwidth `freq / q`: the colour
/// of flow through a duct, a pipe or a casing.
pub fn resonant_noise(n: usize, freq: f64, q: f64, rng: &mut Rng) -> Vec<f64> {
    let r = (-PI * freq / q / RATE).exp();
    let c = 2.0 * r * (TAU * freq / RATE).cos();
    let (mut y1, mut y2) = (0.0, 0.0);
    (0..n)
        .map(|_| {
            let y = rng.normal() + c * y1 - r * r * y2;
            y2 = y1;
            y1 = y;
            y * (1.0 - r)
        })
        .collect()
}

/// Pink-ish noise (Paul Kellet's economy filter).
pub fn pink_noise(n: usize, rng: &mut Rng) -> Vec<f64> {
    let (mut b0, mut b1, mut b2) = (0.0, 0.0, 0.0);
    (0..n)
        .map(|_| {
            let w = rng.normal();
            b0 = 0.99765 * b0 + w * 0.0990460;
            b1 = 0.96300 * b1 + w * 0.2965164;
            b2 = 0.57000 * b2 + w * 1.0526913;
            (b0 + b1 + b2 + w * 0.1848) * 0.2
        })
        .collect()
}

/// Brown (integrated, leaky) noise: the rumble of heavy things moving.
pub fn brown_noise(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut y = 0.0;
    (0..n)
        .map(|_| {
            y = 0.995 * y + 0.1 * rng.normal();
            y
        })
        .collect()
}

/// Adds a decaying ringing transient (a click, an impact) at sample `at`.
pub fn add_ring(x: &mut [f64], at: usize, freq: f64, decay_s: f64, amp: f64) {
    let len = ((decay_s * 5.0) * RATE) as usize;
    for k in 0..len.min(x.len().saturating_sub(at)) {
        let tk = k as f64 / RATE;
        x[at + k] += amp * (-tk / decay_s).exp() * (TAU * freq * tk).sin();
    }
}

/// Adds a burst of `noise` (read from the same positions) under an attack–decay envelope:
/// a puff of air, a scrape.
pub fn add_burst(x: &mut [f64], at: usize, noise: &[f64], attack_s: f64, decay_s: f64, amp: f64) {
    let len = ((attack_s + 5.0 * decay_s) * RATE) as usize;
    for k in 0..len.min(x.len().saturating_sub(at)) {
        let tk = k as f64 / RATE;
        let env = if tk < attack_s {
            tk / attack_s
        } else {
            (-(tk - attack_s) / decay_s).exp()
        };
        x[at + k] += amp * env * noise[(at + k) % noise.len()];
    }
}

/// Root mean square.
pub fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// A smooth random curve around 0: values at knots every `step_s` seconds (standard normal
/// times `depth`), joined by raised-cosine interpolation. Slow wander of speed, load or level.
pub fn smooth_curve(n: usize, step_s: f64, depth: f64, rng: &mut Rng) -> Vec<f64> {
    let step = (step_s * RATE).max(1.0);
    let knots: Vec<f64> = (0..(n as f64 / step) as usize + 2)
        .map(|_| depth * rng.normal().clamp(-2.5, 2.5))
        .collect();
    (0..n)
        .map(|i| {
            let pos = i as f64 / step;
            let k = pos as usize;
            let w = 0.5 - 0.5 * (PI * (pos - k as f64)).cos();
            knots[k] * (1.0 - w) + knots[k + 1] * w
        })
        .collect()
}

/// The running phase (radians) of a rotation whose rate in Hz is `base · speed[i]`.
pub fn phase_track(base: f64, speed: &[f64], start: f64) -> Vec<f64> {
    let mut phase = start;
    speed
        .iter()
        .map(|s| {
            let p = phase;
            phase += TAU * base * s / RATE;
            p
        })
        .collect()
}

/// A second-order IIR filter (RBJ audio-EQ cookbook), direct form I.
#[derive(Debug, Clone, Copy)]
pub struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

impl Biquad {
    fn normalised(b: [f64; 3], a: [f64; 3]) -> Self {
        Self {
            b: [b[0] / a[0], b[1] / a[0], b[2] / a[0]],
            a: [a[1] / a[0], a[2] / a[0]],
        }
    }

    /// High-pass at `freq` Hz (Q = 0.707).
    pub fn high_pass(freq: f64) -> Self {
        let w = TAU * freq / RATE;
        let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w.cos();
        Self::normalised(
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        )
    }

    /// Low-pass at `freq` Hz (Q = 0.707).
    pub fn low_pass(freq: f64) -> Self {
        let w = TAU * freq / RATE;
        let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w.cos();
        Self::normalised(
            [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0],
            [1.0 + alpha, -2.0 * c, 1.0 - alpha],
        )
    }

    /// A peak (or dip, `gain_db < 0`) of `gain_db` at `freq` Hz, bandwidth `freq / q`.
    pub fn peaking(freq: f64, q: f64, gain_db: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let w = TAU * freq / RATE;
        let alpha = w.sin() / (2.0 * q);
        let c = w.cos();
        Self::normalised(
            [1.0 + alpha * a, -2.0 * c, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * c, 1.0 - alpha / a],
        )
    }

    /// A shelf of `gain_db` above `freq` Hz.
    pub fn high_shelf(freq: f64, gain_db: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let w = TAU * freq / RATE;
        let alpha = w.sin() / 2.0 * 2f64.sqrt();
        let c = w.cos();
        let s = 2.0 * a.sqrt() * alpha;
        Self::normalised(
            [
                a * ((a + 1.0) + (a - 1.0) * c + s),
                -2.0 * a * ((a - 1.0) + (a + 1.0) * c),
                a * ((a + 1.0) + (a - 1.0) * c - s),
            ],
            [
                (a + 1.0) - (a - 1.0) * c + s,
                2.0 * ((a - 1.0) - (a + 1.0) * c),
                (a + 1.0) - (a - 1.0) * c - s,
            ],
        )
    }

    /// Filters `x` in place.
    pub fn apply(&self, x: &mut [f64]) {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        for v in x.iter_mut() {
            let y =
                self.b[0] * *v + self.b[1] * x1 + self.b[2] * x2 - self.a[0] * y1 - self.a[1] * y2;
            x2 = x1;
            x1 = *v;
            y2 = y1;
            y1 = y;
            *v = y;
        }
    }
}

/// `x` convolved with `h`, cut to `x`'s length (FFT convolution).
pub fn convolve(x: &[f64], h: &[f64]) -> Vec<f64> {
    let len = (x.len() + h.len()).next_power_of_two();
    let mut planner = FftPlanner::<f64>::new();
    let (fwd, inv) = (planner.plan_fft_forward(len), planner.plan_fft_inverse(len));
    let padded = |v: &[f64]| {
        let mut c: Vec<Complex<f64>> = v.iter().map(|&r| Complex::new(r, 0.0)).collect();
        c.resize(len, Complex::new(0.0, 0.0));
        c
    };
    let (mut a, mut b) = (padded(x), padded(h));
    fwd.process(&mut a);
    fwd.process(&mut b);
    for (p, q) in a.iter_mut().zip(&b) {
        *p *= q;
    }
    inv.process(&mut a);
    a[..x.len()].iter().map(|c| c.re / len as f64).collect()
}

/// `draw()` when `wanted`, else 0 without drawing: a parameter that only a later family has
/// must not consume random numbers for the earlier families, whose units (and the rooms drawn
/// after them from the same stream) stay what they were.
pub fn only(wanted: bool, draw: impl FnOnce() -> f64) -> f64 {
    if wanted { draw() } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convolution_with_a_delayed_impulse_delays() {
        let x: Vec<f64> = (0..100).map(|i| (i as f64 * 0.3).sin()).collect();
        let mut h = vec![0.0; 10];
        h[3] = 0.5;
        let y = convolve(&x, &h);
        for i in 3..100 {
            assert!((y[i] - 0.5 * x[i - 3]).abs() < 1e-9);
        }
    }

    #[test]
    fn filters_pass_and_stop_what_they_should() {
        let tone = |f: f64| -> Vec<f64> { (0..16_000).map(|i| (TAU * f * t(i)).sin()).collect() };
        let gain = |filter: Biquad, f: f64| {
            let mut x = tone(f);
            filter.apply(&mut x);
            rms(&x[8_000..]) / rms(&tone(f)[8_000..])
        };
        assert!(gain(Biquad::high_pass(500.0), 50.0) < 0.02);
        assert!((gain(Biquad::high_pass(500.0), 4_000.0) - 1.0).abs() < 0.02);
        assert!(gain(Biquad::low_pass(500.0), 4_000.0) < 0.02);
        let peak = gain(Biquad::peaking(1_000.0, 1.0, 6.0), 1_000.0);
        assert!((peak - 2.0).abs() < 0.05, "{peak}");
        let shelf = gain(Biquad::high_shelf(2_000.0, -6.0), 6_000.0);
        assert!((shelf - 0.5).abs() < 0.05, "{shelf}");
    }

    #[test]
    fn a_phase_track_follows_the_speed() {
        let speed = vec![2.0; 16_000];
        let p = phase_track(10.0, &speed, 0.0);
        // 20 Hz for one second: 20 turns.
        assert!((p[15_999] + TAU * 20.0 / RATE - TAU * 20.0).abs() < 1e-6);
    }
}
