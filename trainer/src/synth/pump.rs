//! Pumps. Six families, each a different physical model:
//!
//! - [`Family::Centrifugal`]: motor hum at 2·f_r (f_r ≈ 24.5–28.5 Hz) with harmonics, the
//!   impeller's vane-pass tone at `vanes · f_r` (5 or 6 vanes), fluid noise through the pipe's
//!   and the casing's resonances.
//! - [`Family::Piston`]: a reciprocating pump: a crank at 4–8 Hz drives 1–3 cylinders; each
//!   stroke is a low pressure thump (60–150 Hz) with a discharge-valve click at a fixed point
//!   of the stroke; flow noise pulses with the strokes; the motor's hum.
//! - [`Family::Gear`]: a whine-dominated gear pump: the mesh tone at `teeth · f_r` (9–15
//!   teeth, f_r ≈ 20–30 Hz) with six harmonics, sidebands from a once-per-revolution
//!   modulation, and little fluid noise.
//! - [`Family::Vane`]: a rotary vane pump: the motor's hum at 2·f_r (f_r ≈ 23–29 Hz) with
//!   harmonics, and a short click each time a vane's tip passes the cam ring's discharge port
//!   (6–10 vanes), every vane with its own strength, so the click train repeats once a turn.
//! - [`Family::Hose`]: a peristaltic (hose) pump: a gear motor (≈ 24–29 Hz, a 9–16:1
//!   reduction, its mesh whining at `13–21 teeth · f_motor`) turns a rotor at 1.6–3.2 Hz
//!   whose 2 or 3 rollers squeeze a rubber hose: a rubbery squeak (2–3.5 kHz) while each
//!   roller rolls on, and a soft pressure pulse (30–75 Hz) as it lets go. The fluid moves in
//!   sealed pockets of hose: next to no flow noise.
//! - [`Family::Diaphragm`]: an air-operated double-diaphragm pump: no motor, so no hum; two
//!   chambers take turns, 0.6–1.4 cycles a second. At each stroke's end the air valve shifts
//!   (a metallic clack) and the spent air leaves in a chuff (a burst of broad noise, 60–120
//!   ms) through a muffler that hisses softly all the while; the check balls seat a little
//!   later (a knock, 700–1,500 Hz); the liquid's flow noise dies at each shift and rises
//!   again through the stroke.
//!
//! Harmonics are phase-locked to their shaft with offsets of the unit's own.
//!
//! Anomalies ([`Kind`]): cavitation (random broadband crackle above 2 kHz), leak (a steady
//! hiss at 5–7 kHz), clogging (the pass tone 2 % lower and rougher: the motor slows under
//! load), harmonic phase (the harmonics' phase offsets against the shaft move, and the piston
//! pump's valve click and the hose pump's release move within the stroke: the magnitude
//! spectrum is unchanged, **phase and timing only**), and surge (the flow swells and ebbs at
//! 0.3–1 Hz: the long-term spectrum is about the same, **timing only**).

use super::signal::{RATE, add_burst, add_ring, only, phase_track, resonant_noise, t};
use super::{Operation, Strength};
use crate::rng::Rng;
use std::f64::consts::{PI, TAU};

/// A pump's physical model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Centrifugal pump.
    Centrifugal,
    /// Reciprocating piston pump.
    Piston,
    /// Gear pump.
    Gear,
    /// Rotary vane pump.
    Vane,
    /// Peristaltic (hose) pump.
    Hose,
    /// Air-operated double-diaphragm pump.
    Diaphragm,
}

impl Family {
    /// Every family, in `--family` order.
    pub const ALL: [Family; 6] = [
        Family::Centrifugal,
        Family::Piston,
        Family::Gear,
        Family::Vane,
        Family::Hose,
        Family::Diaphragm,
    ];
}

/// What can go wrong with a pump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Random broadband crackle.
    Cavitation,
    /// Steady high hiss.
    Leak,
    /// Slower, rougher pass tone.
    Clogging,
    /// Moved harmonic phases and valve timing (phase and timing only).
    HarmonicPhase,
    /// Slow swells of the flow (timing only).
    Surge,
}

impl Kind {
    /// Every kind, in the order anomalous clips take turns.
    pub const ALL: [Kind; 5] = [
        Kind::Cavitation,
        Kind::Leak,
        Kind::Clogging,
        Kind::HarmonicPhase,
        Kind::Surge,
    ];

    /// Name in file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cavitation => "cavitation",
            Kind::Leak => "leak",
            Kind::Clogging => "clogging",
            Kind::HarmonicPhase => "harmonic_phase",
            Kind::Surge => "surge",
        }
    }
}

/// One pump.
#[derive(Debug, Clone)]
pub struct Unit {
    family: Family,
    /// Shaft (centrifugal, gear, vane) or crank (piston) rate (Hz).
    shaft: f64,
    /// Vanes, teeth or cylinders.
    count: f64,
    pipe: f64,
    casing: (f64, f64),
    tone_gain: f64,
    noise_gain: f64,
    gains: [f64; 6],
    phases: [f64; 6],
    /// Piston: thump frequency, and where in the stroke the valve clicks (0..1).
    thump: f64,
    click_at: f64,
    /// Gear: depth of the once-per-revolution modulation.
    sideband: f64,
    /// Vane: each vane's click strength.
    vane_gains: [f64; 10],
    /// Hose: motor turns per rotor turn, the motor pinion's teeth, the squeak's pitch (Hz).
    reduction: f64,
    teeth: f64,
    squeak: f64,
    /// Diaphragm: the check balls' knock (Hz) and the exhaust chuff's length (s).
    ball: f64,
    chuff_s: f64,
}

impl Unit {
    /// Draws a unit of `family`.
    pub fn draw(family: Family, rng: &mut Rng) -> Self {
        let (shaft, count) = match family {
            Family::Centrifugal => (rng.range(24.5, 28.5), rng.range(4.5, 6.5).round()),
            Family::Piston => (rng.range(4.0, 8.0), rng.range(0.5, 3.5).round()),
            Family::Gear => (rng.range(20.0, 30.0), rng.range(8.5, 15.5).round()),
            Family::Vane => (rng.range(23.0, 29.0), rng.range(5.5, 10.5).round()),
            Family::Hose => (rng.range(1.6, 3.2), rng.range(1.5, 3.5).round()),
            // Two chambers: two strokes a cycle.
            Family::Diaphragm => (rng.range(0.6, 1.4), 2.0),
        };
        Self {
            family,
            shaft,
            count,
            pipe: rng.range(900.0, 1_800.0),
            casing: (rng.range(2_500.0, 7_000.0), rng.range(0.5, 1.0)),
            tone_gain: rng.range(0.6, 0.9),
            // Positive-displacement pumps move the fluid in closed pockets: little flow noise.
            noise_gain: match family {
                Family::Gear => rng.range(0.06, 0.12),
                Family::Vane => rng.range(0.03, 0.06),
                Family::Hose => rng.range(0.005, 0.01),
                Family::Diaphragm => rng.range(0.08, 0.15),
                _ => rng.range(0.25, 0.4),
            },
            gains: std::array::from_fn(|_| rng.range(0.6, 1.4)),
            phases: std::array::from_fn(|_| rng.range(0.0, TAU)),
            thump: rng.range(60.0, 150.0),
            click_at: rng.range(0.2, 0.6),
            sideband: rng.range(0.1, 0.3),
            // Drawn for the vane pump alone (see `only`).
            vane_gains: std::array::from_fn(|_| {
                only(family == Family::Vane, || rng.range(0.7, 1.3))
            }),
            reduction: only(family == Family::Hose, || rng.range(9.0, 16.0)),
            teeth: only(family == Family::Hose, || rng.range(12.5, 21.5).round()),
            squeak: only(family == Family::Hose, || rng.range(2_000.0, 3_500.0)),
            ball: only(family == Family::Diaphragm, || rng.range(700.0, 1_500.0)),
            chuff_s: only(family == Family::Diaphragm, || rng.range(0.06, 0.12)),
        }
    }
}

/// The sound of one clip (no room, no background).
pub fn render(
    unit: &Unit,
    kind: Option<Kind>,
    strength: Strength,
    op: &Operation,
    rng: &mut Rng,
) -> Vec<f64> {
    let n = op.speed.len();
    let clog = if kind == Some(Kind::Clogging) {
        strength.lerp(1.0, 0.98)
    } else {
        1.0
    };
    let speed: Vec<f64> = op.speed.iter().map(|s| s * clog).collect();
    let shaft = phase_track(unit.shaft, &speed, rng.range(0.0, TAU));
    // Harmonic phase: each harmonic's offset moves (by up to ±π/2 at strength 1).
    let mut phases = unit.phases;
    if kind == Some(Kind::HarmonicPhase) {
        for (k, p) in phases.iter_mut().enumerate().skip(1) {
            let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
            *p += sign * strength.lerp(0.0, PI / 2.0) * rng.range(0.6, 1.0);
        }
    }
    let surge = if kind == Some(Kind::Surge) {
        let (rate, phase) = (rng.range(0.3, 1.0), rng.range(0.0, TAU));
        (0..n)
            .map(|i| 1.0 + strength.lerp(0.0, 0.35) * (TAU * rate * t(i) + phase).sin())
            .collect()
    } else {
        vec![1.0; n]
    };
    let mut x = resonant_noise(n, unit.pipe * op.speed[0], 4.0, rng);
    let casing = resonant_noise(n, unit.casing.0, 4.0, rng);
    for (i, (v, c)) in x.iter_mut().zip(&casing).enumerate() {
        *v = (*v + unit.casing.1 * c) * unit.noise_gain * 4.0 * op.load[i] * surge[i];
    }
    let rough = kind == Some(Kind::Clogging);
    match unit.family {
        Family::Diaphragm => {
            // The flow stops as the air valve shifts and builds up again through the stroke;
            // the muffler hisses with the air the valve lets by all the while.
            let exhaust = resonant_noise(n, 4_500.0, 0.7, rng);
            for (i, v) in x.iter_mut().enumerate() {
                let stroke = (shaft[i] / TAU * unit.count).fract();
                *v = *v * (PI * stroke).sin().sqrt() + 0.3 * unit.tone_gain * exhaust[i];
            }
            // Each stroke's end: the valve's clack and the exhaust's chuff, then the check
            // balls seat; a harmonic-phase fault moves the balls within the stroke.
            let seat_at = stroke_point(0.25 * unit.click_at, kind, strength, 0.15);
            for (i, _) in passes(&shaft, unit.count) {
                let period = RATE / (unit.shaft * speed[i] * unit.count);
                let gain = op.load[i] * surge[i] * roughness(rough, strength, rng);
                add_ring(&mut x, i, unit.casing.0, 0.002, 0.2 * gain * unit.gains[0]);
                add_burst(
                    &mut x,
                    i,
                    &exhaust,
                    0.005,
                    unit.chuff_s,
                    1.5 * unit.tone_gain,
                );
                let seat = i + (seat_at * period) as usize;
                if seat < n {
                    add_ring(&mut x, seat, unit.ball, 0.006, 0.5 * gain * unit.gains[1]);
                }
            }
        }
        Family::Centrifugal | Family::Gear => {
            // Centrifugal: hum at 2 f_r and vane pass; gear: mesh tone with sidebands.
            let (hum, pass) = match unit.family {
                Family::Centrifugal => (2.0, unit.count),
                _ => (1.0, unit.count),
            };
            for i in 0..n {
                let mut s = 0.0;
                for k in 0..3 {
                    let h = (k + 1) as f64;
                    s += unit.gains[k] * 0.25 / h * (h * hum * shaft[i] + phases[k]).sin();
                    s += unit.gains[3 + k] * 0.5 / h * (h * pass * shaft[i] + phases[3 + k]).sin();
                }
                if unit.family == Family::Gear {
                    // The mesh's higher harmonics: a gear whine reaches into kilohertz.
                    for k in 3..6 {
                        let h = (k + 1) as f64;
                        s += unit.gains[k] * 0.6 / h
                            * (h * pass * shaft[i] + phases[k] + phases[k - 3]).sin();
                    }
                    s *= 1.0 + unit.sideband * (shaft[i] + phases[0]).sin();
                }
                if rough {
                    s += strength.lerp(0.0, 0.05) * rng.normal() * (pass * shaft[i]).sin();
                }
                x[i] += unit.tone_gain * op.load[i] * surge[i] * s;
            }
        }
        Family::Vane => {
            // Motor hum, the pressure ripple at the vane pass, then each vane's tip click at
            // its point of the vane passage.
            for (i, v) in x.iter_mut().enumerate() {
                let mut s = 0.0;
                for k in 0..3 {
                    let h = (k + 1) as f64;
                    s += unit.gains[k] * 0.25 / h * (h * 2.0 * shaft[i] + phases[k]).sin();
                    let ripple = h * unit.count * shaft[i] + phases[3 + k];
                    s += unit.gains[3 + k] * 0.2 / h * ripple.sin();
                }
                *v += unit.tone_gain * op.load[i] * surge[i] * s;
            }
            let ring = 1_800.0 + 1_200.0 * unit.gains[4];
            for (i, pass) in passes(&shaft, unit.count) {
                let vane = pass % unit.count as usize;
                let period = RATE / (unit.shaft * speed[i] * unit.count);
                let rough = if rough {
                    rng.range(strength.lerp(1.0, 0.5), strength.lerp(1.0, 1.5))
                } else {
                    1.0
                };
                let at = i + (unit.click_at * period) as usize;
                if at < n {
                    let gain = op.load[i] * surge[i] * unit.vane_gains[vane] * rough;
                    add_ring(&mut x, at, ring, 0.003, 0.8 * unit.tone_gain * gain);
                }
            }
        }
        Family::Hose => {
            // The gear motor: its hum at 2·f_motor and its mesh whine with harmonics.
            for (i, v) in x.iter_mut().enumerate() {
                let motor = unit.reduction * shaft[i];
                let mesh = unit.teeth * motor;
                let mut s = 0.0;
                for k in 0..3 {
                    let h = (k + 1) as f64;
                    s += unit.gains[k] * 0.2 / h * (h * 2.0 * motor + phases[k]).sin();
                    s += unit.gains[3 + k] * 0.04 / (h * h) * (h * mesh + phases[3 + k]).sin();
                }
                *v += unit.tone_gain * op.load[i] * surge[i] * s;
            }
            // Each roller: a squeak while it rolls onto the hose (the first third of its
            // passage), then the pulse as it lets go; a harmonic-phase fault moves the
            // release within the passage.
            let squeak = resonant_noise(n, unit.squeak, 3.0, rng);
            let release_at = stroke_point(unit.click_at, kind, strength, 0.15);
            for (i, _) in passes(&shaft, unit.count) {
                let period = RATE / (unit.shaft * speed[i] * unit.count);
                let gain = op.load[i] * surge[i] * roughness(rough, strength, rng);
                let on = (period / 3.0) as usize;
                for k in 0..on.min(n - i) {
                    let envelope = (PI * k as f64 / on as f64).sin();
                    x[i + k] += 2.0 * unit.tone_gain * gain * envelope * squeak[i + k];
                }
                let release = i + (release_at * period) as usize;
                if release < n {
                    add_ring(
                        &mut x,
                        release,
                        0.5 * unit.thump,
                        0.05,
                        0.7 * gain * unit.gains[3],
                    );
                }
            }
        }
        Family::Piston => {
            // Motor hum, then one thump and one valve click per cylinder stroke.
            for (i, v) in x.iter_mut().enumerate() {
                let motor = 6.0 * shaft[i];
                *v += unit.tone_gain
                    * 0.15
                    * ((motor + phases[0]).sin() + 0.4 * (2.0 * motor + phases[1]).sin())
                    + 0.06 * (TAU * 100.0 * t(i) + phases[2]).sin();
            }
            let click_at = stroke_point(unit.click_at, kind, strength, 0.12);
            for (i, _) in passes(&shaft, unit.count) {
                let period = RATE / (unit.shaft * speed[i] * unit.count);
                let gain = op.load[i] * surge[i] * roughness(rough, strength, rng);
                add_ring(&mut x, i, unit.thump, 0.04, 0.8 * gain * unit.gains[3]);
                let click = i + (click_at * period) as usize;
                if click < n {
                    add_ring(
                        &mut x,
                        click,
                        2_500.0 + 1_000.0 * unit.gains[4],
                        0.003,
                        0.3 * gain,
                    );
                }
            }
        }
    }
    match kind {
        Some(Kind::Cavitation) => {
            for v in &mut x {
                if rng.uniform() < 0.004 {
                    *v += rng.normal() * strength.lerp(0.0, 0.3);
                }
            }
            let crackle = resonant_noise(n, 5_000.0, 4.0, rng);
            for (i, v) in x.iter_mut().enumerate() {
                if (i / 800) % 3 == 0 {
                    *v += strength.lerp(0.0, 0.12) * crackle[i];
                }
            }
        }
        Some(Kind::Leak) => {
            let hiss = resonant_noise(n, rng.range(5_000.0, 7_000.0), 4.0, rng);
            for (v, h) in x.iter_mut().zip(hiss) {
                *v += strength.lerp(0.0, 0.1) * h;
            }
        }
        _ => {}
    }
    x
}

/// Where in its stroke an event falls (0..1): `at`, moved later by up to `by` when a
/// harmonic-phase fault moves the stroke's timing.
fn stroke_point(at: f64, kind: Option<Kind>, strength: Strength, by: f64) -> f64 {
    if kind == Some(Kind::HarmonicPhase) {
        (at + strength.lerp(0.0, by)).min(0.95)
    } else {
        at
    }
}

/// A stroke's strength: 1, or drawn ±40 % at full strength when clogging makes it rough.
fn roughness(rough: bool, strength: Strength, rng: &mut Rng) -> f64 {
    if rough {
        rng.range(strength.lerp(1.0, 0.6), strength.lerp(1.0, 1.4))
    } else {
        1.0
    }
}

/// The samples at which the shaft starts each of its `per_turn` events a turn (strokes of a
/// piston pump, vane passes of a vane pump), with the event's running number.
fn passes(shaft: &[f64], per_turn: f64) -> Vec<(usize, usize)> {
    let mut next = 0.0;
    let mut out = Vec::new();
    for (i, &phase) in shaft.iter().enumerate() {
        let pass = phase / TAU * per_turn;
        if pass >= next {
            out.push((i, pass.floor() as usize));
            next = pass.floor() + 1.0;
        }
    }
    out
}
