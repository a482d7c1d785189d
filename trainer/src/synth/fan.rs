//! Fans. Six families, each a different physical model:
//!
//! - [`Family::Axial`]: a direct-driven axial fan: shaft rotation f_r ≈ 18.5–21.5 Hz with its
//!   first harmonics, the blade-pass tone at `blades · f_r` (6 or 7 blades) and its
//!   harmonics, broadband flow noise through the duct's resonance and the casing's.
//! - [`Family::Centrifugal`]: a squirrel-cage blower: 24–40 forward-curved blades at
//!   f_r ≈ 24–32 Hz put the blade pass at 600–1,300 Hz, mostly as tonal noise around it;
//!   strong broadband noise through a wide scroll resonance; the motor's 100 Hz hum.
//! - [`Family::Belt`]: a belt-driven fan: the motor (≈ 23–25 Hz) and the slower fan shaft
//!   (0.45–0.7 of it) each with harmonics, 4–6 blades, and a soft belt slap at the belt's
//!   pass rate (2–5 Hz).
//! - [`Family::Inline`]: an inline duct fan on an electronically commutated (brushless) motor:
//!   a faster shaft (f_r ≈ 33–47 Hz), 7–9 blades, the motor's torque ripple at
//!   `6 · pole pairs · f_r` (2–4 pole pairs) locked to the shaft, its drive's constant
//!   switching whine (2.5–4 kHz), and flow noise through a short, heavily damped duct.
//! - [`Family::Gearbox`]: a cooling-tower fan behind a right-angle gearbox: a 4-pole motor
//!   (≈ 24–25 Hz) turns a large, slow rotor (a 7–11:1 reduction: f_r ≈ 2.2–3.6 Hz) with 4–6
//!   wide blades, so the blade pass is a low throb (9–22 Hz) that swells the broadband noise
//!   of air and falling water; the gear mesh whines at `teeth · f_motor` (15–23 pinion
//!   teeth: 350–580 Hz) with harmonics and with sidebands of the slow shaft.
//! - [`Family::Universal`]: a radial blower on a universal (brushed) motor: a fast shaft
//!   (f_r ≈ 160–200 Hz) carrying an 8–10-blade impeller (blade pass 1.3–2 kHz), the brushes
//!   arcing on the commutator (a crackle of high noise gated at the segment rate, 12–24
//!   segments a turn) and the intake's bright hiss (3–5 kHz).
//!
//! Every harmonic is phase-locked to its shaft with an offset of the unit's own (one shaft
//! drives them all), so the waveform's shape is part of the unit.
//!
//! Anomalies ([`Kind`]): imbalance (a stronger 1× component and amplitude modulation at the
//! fan's rotation), bearing fault (bursts of a 3–5 kHz ringing at the outer-race defect rate
//! 3.6·f_r), blade rub (scraping noise in some revolutions), blade jitter (the blade-pass
//! harmonics' phase wanders against the shaft, ~12 Hz wide, ±0.7 rad: the magnitude spectrum
//! barely changes, **phase only**), and wobble (the whole machine's speed swings ±1 % at
//! 0.8–2.5 Hz, a hunting motor or a loose coupling: **timing only**, no energy added).

use super::signal::{RATE, add_ring, only, phase_track, resonant_noise, smooth_curve, t};
use super::{Operation, Strength};
use crate::rng::Rng;
use std::f64::consts::TAU;

/// A fan's physical model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Direct-driven axial fan.
    Axial,
    /// Centrifugal (squirrel-cage) blower.
    Centrifugal,
    /// Belt-driven fan.
    Belt,
    /// Inline duct fan, brushless motor.
    Inline,
    /// Cooling-tower fan behind a right-angle gearbox.
    Gearbox,
    /// Radial blower on a universal (brushed) motor.
    Universal,
}

impl Family {
    /// Every family, in `--family` order.
    pub const ALL: [Family; 6] = [
        Family::Axial,
        Family::Centrifugal,
        Family::Belt,
        Family::Inline,
        Family::Gearbox,
        Family::Universal,
    ];
}

/// What can go wrong with a fan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Stronger once-per-revolution component, amplitude modulation.
    Imbalance,
    /// Periodic high-frequency ringing bursts.
    Bearing,
    /// Intermittent scraping noise.
    Rub,
    /// Blade-pass phase wander against the shaft (phase only).
    BladeJitter,
    /// Fast speed swings of the whole machine (timing only).
    Wobble,
}

impl Kind {
    /// Every kind, in the order anomalous clips take turns.
    pub const ALL: [Kind; 5] = [
        Kind::Imbalance,
        Kind::Bearing,
        Kind::Rub,
        Kind::BladeJitter,
        Kind::Wobble,
    ];

    /// Name in file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Imbalance => "imbalance",
            Kind::Bearing => "bearing",
            Kind::Rub => "rub",
            Kind::BladeJitter => "blade_jitter",
            Kind::Wobble => "wobble",
        }
    }
}

/// One fan: what makes it sound like itself.
#[derive(Debug, Clone)]
pub struct Unit {
    family: Family,
    /// Rotation of the shaft the blades sit on (Hz).
    fan_shaft: f64,
    /// Motor speed over fan speed (belt drive; 1 otherwise).
    motor_ratio: f64,
    /// Belt passes per motor revolution (belt drive).
    belt: f64,
    blades: f64,
    duct: (f64, f64),
    casing: (f64, f64),
    tone_gain: f64,
    noise_gain: f64,
    shaft_gains: [f64; 3],
    pass_gains: [f64; 3],
    shaft_phases: [f64; 3],
    pass_phases: [f64; 3],
    hum_phase: f64,
    /// Inline: the motor's pole pairs and the drive's switching whine (Hz).
    pole_pairs: f64,
    whine: f64,
    /// Gearbox: the pinion's teeth (the mesh tone is `teeth · f_motor`).
    teeth: f64,
    /// Universal: commutator segments (the brushes crackle `segments · f_r` times a second).
    segments: f64,
}

impl Unit {
    /// Draws a unit of `family`.
    pub fn draw(family: Family, rng: &mut Rng) -> Self {
        let (fan_shaft, motor_ratio, blades, duct, tone_gain, noise_gain) = match family {
            Family::Axial => (
                rng.range(18.5, 21.5),
                1.0,
                rng.range(5.5, 7.5).round(),
                (rng.range(900.0, 1_800.0), 4.0),
                rng.range(0.6, 0.9),
                rng.range(0.25, 0.4),
            ),
            Family::Centrifugal => (
                rng.range(24.0, 32.0),
                1.0,
                rng.range(24.0, 40.0).round(),
                (rng.range(400.0, 900.0), 1.5),
                rng.range(0.3, 0.5),
                rng.range(0.5, 0.8),
            ),
            Family::Belt => {
                let motor = rng.range(23.0, 25.0);
                let ratio = rng.range(0.45, 0.7);
                (
                    motor * ratio,
                    1.0 / ratio,
                    rng.range(3.5, 6.5).round(),
                    (rng.range(700.0, 1_500.0), 3.0),
                    rng.range(0.6, 0.9),
                    rng.range(0.2, 0.35),
                )
            }
            Family::Inline => (
                rng.range(33.0, 47.0),
                1.0,
                rng.range(6.5, 9.5).round(),
                (rng.range(1_500.0, 3_000.0), 1.2),
                rng.range(0.4, 0.7),
                rng.range(0.3, 0.45),
            ),
            Family::Gearbox => {
                let motor = rng.range(24.0, 25.0);
                let reduction = rng.range(7.0, 11.0);
                (
                    motor / reduction,
                    reduction,
                    rng.range(3.5, 6.5).round(),
                    // Air and falling water: a broad hiss high in the spectrum.
                    (rng.range(2_500.0, 4_500.0), 0.8),
                    rng.range(0.5, 0.8),
                    rng.range(0.3, 0.45),
                )
            }
            Family::Universal => (
                rng.range(160.0, 200.0),
                1.0,
                rng.range(7.5, 10.5).round(),
                // The intake: a bright hiss.
                (rng.range(3_000.0, 5_000.0), 1.5),
                rng.range(0.4, 0.6),
                rng.range(0.3, 0.45),
            ),
        };
        Self {
            family,
            fan_shaft,
            motor_ratio,
            belt: rng.range(0.1, 0.2),
            blades,
            duct,
            casing: (rng.range(2_500.0, 7_000.0), rng.range(0.3, 1.0)),
            tone_gain,
            noise_gain,
            shaft_gains: std::array::from_fn(|_| rng.range(0.6, 1.4)),
            pass_gains: std::array::from_fn(|_| rng.range(0.6, 1.4)),
            shaft_phases: std::array::from_fn(|_| rng.range(0.0, TAU)),
            pass_phases: std::array::from_fn(|_| rng.range(0.0, TAU)),
            hum_phase: rng.range(0.0, TAU),
            // Drawn for the inline fan alone: the room is drawn from the same stream next, so
            // another family's draws would move every other family's rooms.
            pole_pairs: only(family == Family::Inline, || rng.range(1.5, 4.5).round()),
            whine: only(family == Family::Inline, || rng.range(2_500.0, 4_000.0)),
            teeth: only(family == Family::Gearbox, || rng.range(14.5, 23.5).round()),
            segments: only(family == Family::Universal, || {
                rng.range(11.5, 24.5).round()
            }),
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
    let mut speed = op.speed.clone();
    if kind == Some(Kind::Wobble) {
        let (rate, phase) = (rng.range(0.8, 2.5), rng.range(0.0, TAU));
        for (i, s) in speed.iter_mut().enumerate() {
            *s *= 1.0 + strength.lerp(0.0, 0.01) * (TAU * rate * t(i) + phase).sin();
        }
    }
    let fan = phase_track(unit.fan_shaft, &speed, rng.range(0.0, TAU));
    let jitter = if kind == Some(Kind::BladeJitter) {
        smooth_curve(n, 0.04, strength.lerp(0.0, 0.7), rng)
    } else {
        vec![0.0; n]
    };
    let (duct, q) = unit.duct;
    let mut x = resonant_noise(n, duct * op.speed[0], q, rng);
    let casing = resonant_noise(n, unit.casing.0, 5.0, rng);
    let arcing = if unit.family == Family::Universal {
        resonant_noise(n, 6_000.0, 1.0, rng)
    } else {
        vec![0.0; n]
    };
    let tonal = if unit.family == Family::Centrifugal {
        resonant_noise(n, unit.blades * unit.fan_shaft * op.speed[0], 40.0, rng)
    } else {
        vec![0.0; n]
    };
    let imbalance = kind == Some(Kind::Imbalance);
    // Added-energy anomalies scale with the unit's own flow noise: a loud blower's bearing
    // rings as loud against its noise as a quiet fan's does against its own.
    let loudness = unit.noise_gain / 0.3;
    // A slow rotor's shaft and blade-pass tones lie below 70 Hz: felt more than heard.
    let slow = if unit.family == Family::Gearbox {
        0.1
    } else {
        1.0
    };
    for i in 0..n {
        let load = op.load[i];
        let mut s = 0.0;
        for k in 0..3 {
            let h = (k + 1) as f64;
            let a = unit.shaft_gains[k] * 0.25 / h * slow;
            let a = if imbalance && k == 0 {
                strength.lerp(a, a + 0.2 * slow)
            } else {
                a
            };
            s += a * (h * fan[i] + unit.shaft_phases[k]).sin();
            let pass = h * unit.blades * fan[i] + unit.pass_phases[k] + h * jitter[i];
            let pass_gain = match unit.family {
                Family::Centrifugal => 0.2,
                _ => 0.5 * slow,
            };
            s += unit.pass_gains[k] * pass_gain / h * pass.sin();
        }
        let shake = if imbalance {
            // The whole machine shakes once per revolution: tones and flow noise alike.
            1.0 + strength.lerp(0.0, 0.12) * fan[i].sin()
        } else {
            1.0
        };
        match unit.family {
            Family::Axial => {}
            Family::Centrifugal => {
                s += 2.0 * tonal[i] + 0.08 * (TAU * 100.0 * t(i) + unit.hum_phase).sin();
            }
            Family::Belt => {
                let motor = unit.motor_ratio * fan[i];
                s += 0.12 * (motor + unit.hum_phase).sin() + 0.05 * (2.0 * motor).sin();
            }
            Family::Inline => {
                // Torque ripple follows the shaft; the drive's switching whine does not.
                let ripple = 6.0 * unit.pole_pairs * fan[i] + unit.hum_phase;
                s += 0.1 * ripple.sin() + 0.04 * (2.0 * ripple).sin();
                s += 0.03 * (TAU * unit.whine * t(i)).sin();
            }
            Family::Gearbox => {
                // The mesh whine, its sidebands at the slow shaft (a gear's runout), and the
                // motor's own hum.
                let motor = unit.motor_ratio * fan[i];
                let mesh = unit.teeth * motor + unit.hum_phase;
                let runout = 1.0 + 0.3 * (fan[i] + unit.shaft_phases[1]).sin();
                s += runout
                    * (0.12 * mesh.sin() + 0.06 * (2.0 * mesh).sin() + 0.03 * (3.0 * mesh).sin());
                s += 0.06 * (2.0 * motor).sin();
            }
            Family::Universal => {
                // Each segment passing under a brush breaks the current: a spark, so high
                // noise gated at the segment rate.
                let gate = (0.5 + 0.5 * (unit.segments * fan[i] + unit.hum_phase).cos()).powi(4);
                s += gate * arcing[i];
            }
        }
        let throb = if unit.family == Family::Gearbox {
            // Each wide blade sweeping past the fill pushes a pulse of air.
            1.0 + 0.35 * (unit.blades * fan[i] + unit.pass_phases[0] + jitter[i]).sin()
        } else {
            1.0
        };
        let noise = throb * unit.noise_gain * 4.0 * (x[i] + unit.casing.1 * casing[i]);
        x[i] = shake * load * (unit.tone_gain * s + noise);
    }
    if unit.family == Family::Belt {
        // Belt slap: a soft low thud each time the belt's joint passes a pulley.
        let motor_rate = unit.fan_shaft * unit.motor_ratio;
        let period = (RATE / (motor_rate * unit.belt)) as usize;
        let mut at = rng.below(period.max(1));
        while at < n {
            add_ring(&mut x, at, 180.0, 0.015, 0.15);
            at += period.max(1);
        }
    }
    match kind {
        Some(Kind::Bearing) => {
            let period = (RATE / (3.6 * unit.fan_shaft)) as usize;
            let ring = rng.range(3_000.0, 5_000.0);
            let mut at = rng.below(period.max(1));
            while at < n {
                add_ring(&mut x, at, ring, 0.002, strength.lerp(0.0, 0.2) * loudness);
                at += period.max(1);
            }
        }
        Some(Kind::Rub) => {
            let period = (RATE / unit.fan_shaft) as usize;
            let mut at = 0;
            while at < n {
                if rng.uniform() < 0.3 {
                    for v in &mut x[at..(at + period / 4).min(n)] {
                        *v += strength.lerp(0.0, 0.15) * loudness * rng.normal();
                    }
                }
                at += period.max(1);
            }
        }
        _ => {}
    }
    x
}
