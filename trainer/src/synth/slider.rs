//! Sliders (linear motion stages). Six families, each a different physical model:
//!
//! - [`Family::Belt`]: a belt-driven carriage: per cycle (0.5–1 Hz) a travel whose motor
//!   whine rises and falls with a sinusoidal speed profile, then a click at the end stop.
//! - [`Family::BallScrew`]: a servo-driven ball screw: a trapezoidal speed profile, the
//!   screw's ball-pass tone (300–700 Hz at full speed, with harmonics) following the speed,
//!   the servo drive's constant 4–6 kHz whine, a soft clunk at each end.
//! - [`Family::Pneumatic`]: a pneumatic cylinder: a burst of exhaust air as each stroke
//!   starts, the carriage's rumble while it moves, a hard slam at the end.
//! - [`Family::LinearMotor`]: a direct-drive linear motor stage: an S-curve speed profile, the
//!   drive's current whine (1–2 kHz) loudest while the carriage accelerates or brakes, the
//!   cable chain's links clicking as they roll over (30–60 links a second at full speed),
//!   and only a soft settling ring at the end: no end stop is hit.
//! - [`Family::Rack`]: a rack and pinion: a gear motor drives a pinion along a toothed rack
//!   with long ramps (a third of the travel each); the teeth strike with a buzz at the tooth
//!   rate (150–350 Hz at full speed, its harmonics reaching kilohertz) and the gearbox whines 3.5–6 times
//!   higher; the backlash knocks as each travel starts, and a spring-applied brake clacks
//!   shut (4–6 kHz) when it ends.
//! - [`Family::Stepper`]: a lead screw turned by an open-loop stepper motor: short ramps
//!   (15 % of the travel each), 400–900 full steps a second at full speed, each step a small
//!   impulse that rings the frame (600–1,400 Hz), so the travel sings at the step rate with
//!   its harmonics; the nut's whirr (2–4 kHz) grows with the speed; the carriage settles
//!   with a dull ring (200–500 Hz); the drive's current chopper sings faintly (4–6 kHz) all
//!   the while, moving or holding.
//!
//! Anomalies ([`Kind`]): rail damage (rattling impacts during travel), dry rail (a squeal
//! during travel), jerky drive (a strained, rougher drive sound and a second, bouncing end
//! impact), late stop (each travel takes up to 20 % longer, the cycle keeps its length: the
//! same sounds at other times, **timing only**), and cycle jitter (cycle lengths vary by
//! ±15 % instead of ±2 %: **timing only**).

use super::signal::{RATE, add_burst, add_ring, brown_noise, only, phase_track, resonant_noise, t};
use super::{Operation, Strength};
use crate::rng::Rng;
use std::f64::consts::{PI, TAU};

/// A slider's physical model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Belt-driven carriage.
    Belt,
    /// Servo ball screw.
    BallScrew,
    /// Pneumatic cylinder.
    Pneumatic,
    /// Direct-drive linear motor.
    LinearMotor,
    /// Rack and pinion.
    Rack,
    /// Stepper motor and lead screw.
    Stepper,
}

impl Family {
    /// Every family, in `--family` order.
    pub const ALL: [Family; 6] = [
        Family::Belt,
        Family::BallScrew,
        Family::Pneumatic,
        Family::LinearMotor,
        Family::Rack,
        Family::Stepper,
    ];
}

/// What can go wrong with a slider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Impacts during travel.
    RailDamage,
    /// Squeal during travel.
    DryRail,
    /// Strained drive and a bouncing end impact.
    Jerky,
    /// Longer travel within the same cycle (timing only).
    LateStop,
    /// Irregular cycle lengths (timing only).
    CycleJitter,
}

impl Kind {
    /// Every kind, in the order anomalous clips take turns.
    pub const ALL: [Kind; 5] = [
        Kind::RailDamage,
        Kind::DryRail,
        Kind::Jerky,
        Kind::LateStop,
        Kind::CycleJitter,
    ];

    /// Name in file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RailDamage => "rail_damage",
            Kind::DryRail => "dry_rail",
            Kind::Jerky => "jerky",
            Kind::LateStop => "late_stop",
            Kind::CycleJitter => "cycle_jitter",
        }
    }
}

/// One slider.
#[derive(Debug, Clone)]
pub struct Unit {
    family: Family,
    /// Cycles per second.
    rate: f64,
    /// Share of a cycle spent travelling.
    travel: f64,
    /// Pitch of the drive at full speed (Hz; the stepper: full steps a second).
    pitch: f64,
    /// Ring of the end stop (Hz).
    stop: f64,
    gain: f64,
    /// Ball screw: the servo drive's whine; stepper: its drive's current chopper (Hz).
    servo: f64,
    /// Linear motor: cable-chain links passing per second at full speed.
    links: f64,
    /// Rack: the gearbox's whine over the tooth rate.
    stage: f64,
    /// Stepper: the frame's ring that each step excites (Hz), and the nut's whirr (Hz).
    frame: f64,
    nut: f64,
}

impl Unit {
    /// Draws a unit of `family`.
    pub fn draw(family: Family, rng: &mut Rng) -> Self {
        let (rate, pitch, stop) = match family {
            Family::Belt => (
                rng.range(0.5, 1.0),
                rng.range(330.0, 470.0),
                rng.range(600.0, 3_000.0),
            ),
            Family::BallScrew => (
                rng.range(0.3, 0.8),
                rng.range(300.0, 700.0),
                rng.range(300.0, 600.0),
            ),
            Family::Pneumatic => (rng.range(0.6, 1.4), 0.0, rng.range(800.0, 2_000.0)),
            Family::LinearMotor => (
                rng.range(0.4, 1.0),
                rng.range(1_000.0, 2_000.0),
                rng.range(1_500.0, 3_500.0),
            ),
            Family::Rack => (
                rng.range(0.3, 0.7),
                rng.range(150.0, 350.0),
                rng.range(4_000.0, 6_000.0),
            ),
            // The pitch is the full-step rate at full speed.
            Family::Stepper => (
                rng.range(0.4, 0.9),
                rng.range(400.0, 900.0),
                rng.range(200.0, 500.0),
            ),
        };
        Self {
            family,
            rate,
            travel: rng.range(0.35, 0.55),
            pitch,
            stop,
            gain: rng.range(0.5, 1.0),
            servo: rng.range(4_000.0, 6_000.0),
            // Drawn for the linear motor alone (see `only`).
            links: only(family == Family::LinearMotor, || rng.range(30.0, 60.0)),
            stage: only(family == Family::Rack, || rng.range(3.5, 6.0)),
            frame: only(family == Family::Stepper, || rng.range(600.0, 1_400.0)),
            nut: only(family == Family::Stepper, || rng.range(2_000.0, 4_000.0)),
        }
    }

    /// Carriage speed (0..1) at `phase` (0..1) of the travel.
    fn speed_at(&self, phase: f64) -> f64 {
        match self.family {
            Family::BallScrew => (phase / 0.2).min(1.0).min((1.0 - phase) / 0.2).max(0.0),
            Family::LinearMotor => (PI * phase).sin().powi(2),
            Family::Rack => (phase / 0.33).min(1.0).min((1.0 - phase) / 0.33).max(0.0),
            Family::Stepper => (phase / 0.15).min(1.0).min((1.0 - phase) / 0.15).max(0.0),
            _ => (PI * phase).sin(),
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
    let jerky = kind == Some(Kind::Jerky);
    let noise = resonant_noise(n, 3_000.0, 1.5, rng);
    let squeal_noise = resonant_noise(n, 2_300.0, 30.0, rng);
    let rumble = brown_noise(n, rng);
    let whirr = if unit.family == Family::Stepper {
        resonant_noise(n, unit.nut, 2.0, rng)
    } else {
        Vec::new()
    };
    let mut x = vec![0.0; n];
    if unit.family == Family::Stepper {
        // The drive's current chopper sings faintly all the time, holding or moving.
        let chopper = rng.range(0.0, TAU);
        for (i, v) in x.iter_mut().enumerate() {
            *v += 0.01 * unit.gain * (TAU * unit.servo * t(i) + chopper).sin();
        }
    }
    if unit.family == Family::BallScrew {
        let servo = phase_track(unit.servo, &op.speed, rng.range(0.0, TAU));
        for (v, p) in x.iter_mut().zip(&servo) {
            *v += 0.03 * p.sin();
        }
    }
    let jitter = if kind == Some(Kind::CycleJitter) {
        strength.lerp(0.02, 0.15)
    } else {
        0.02
    };
    let mut start = (rng.uniform() * RATE / unit.rate) as usize;
    let mut drive_phase = 0.0;
    let mut chain = 0.0;
    while start < n {
        let period =
            RATE / (unit.rate * op.speed[start]) * (1.0 + jitter * rng.normal().clamp(-2.0, 2.0));
        let stretch = if kind == Some(Kind::LateStop) {
            strength.lerp(1.0, 1.2)
        } else {
            1.0
        };
        let travel = ((period * unit.travel * stretch).min(period * 0.9)) as usize;
        let load = op.load[start];
        for k in 0..travel.min(n - start) {
            let phase = k as f64 / travel as f64;
            let speed = unit.speed_at(phase);
            let i = start + k;
            let mut s = match unit.family {
                Family::Belt | Family::BallScrew => {
                    let pitch = if jerky {
                        strength.lerp(1.0, 0.75)
                            * unit.pitch
                            * (0.45 + 0.55 * speed)
                            * rng.range(strength.lerp(1.0, 0.8), strength.lerp(1.0, 1.2))
                    } else {
                        unit.pitch * (0.45 + 0.55 * speed)
                    };
                    drive_phase += TAU * pitch / RATE;
                    let harmonics = if unit.family == Family::BallScrew {
                        drive_phase.sin()
                            + 0.5 * (2.0 * drive_phase).sin()
                            + 0.25 * (3.0 * drive_phase).sin()
                    } else {
                        drive_phase.sin()
                    };
                    0.4 * speed * harmonics
                }
                Family::Pneumatic => {
                    let rough = if jerky {
                        1.0 + strength.lerp(0.0, 0.8) * rng.normal().abs()
                    } else {
                        1.0
                    };
                    0.8 * speed * rumble[i] * rough
                }
                Family::Rack => {
                    // Tooth mesh: a buzz (a pulse train's first harmonics) at the tooth rate;
                    // the gearbox's whine a stage higher. A jerky drive rattles both.
                    let pitch = unit.pitch
                        * (0.1 + 0.9 * speed)
                        * if jerky {
                            rng.range(strength.lerp(1.0, 0.8), strength.lerp(1.0, 1.2))
                        } else {
                            1.0
                        };
                    drive_phase += TAU * pitch / RATE;
                    // Each tooth strikes: a pulse train, its harmonics reaching kilohertz.
                    let buzz: f64 = (1..=16)
                        .map(|h| (h as f64 * drive_phase).sin() / (h as f64).sqrt())
                        .sum();
                    let whine = (unit.stage * drive_phase).sin();
                    0.3 * speed * (buzz + 0.5 * whine)
                }
                Family::Stepper => {
                    // A step each time the rotor's phase passes a whole step: an impulse that
                    // rings the frame. A jerky drive (the rotor losing and catching steps)
                    // makes the steps uneven and now and then slips with a knock.
                    let step = drive_phase as usize;
                    drive_phase += unit.pitch * speed / RATE;
                    if drive_phase as usize > step {
                        let (amp, slip) = if jerky {
                            (
                                1.0 + strength.lerp(0.0, 0.8) * rng.normal().abs(),
                                rng.uniform() < strength.lerp(0.0, 0.02),
                            )
                        } else {
                            (1.0, false)
                        };
                        add_ring(&mut x, i, unit.frame, 0.002, 0.12 * amp * unit.gain * load);
                        if slip {
                            add_ring(&mut x, i, 0.5 * unit.frame, 0.006, 0.5 * unit.gain * load);
                        }
                    }
                    0.15 * speed * whirr[i]
                }
                Family::LinearMotor => {
                    // The force, so the current and its whine, follows the acceleration.
                    let force = (TAU * phase).sin().abs();
                    let strain = if jerky {
                        1.0 + strength.lerp(0.0, 0.8) * rng.normal().abs()
                    } else {
                        1.0
                    };
                    drive_phase += TAU * unit.pitch / RATE;
                    let link = chain as usize;
                    chain += speed * unit.links / RATE;
                    if chain as usize > link {
                        add_ring(&mut x, i, 3_200.0, 0.001, 0.15 * unit.gain * load);
                    }
                    0.2 * (0.15 + force) * strain * drive_phase.sin()
                }
            };
            if kind == Some(Kind::DryRail) {
                s += strength.lerp(0.0, 1.0)
                    * speed
                    * (0.8 * (TAU * 2_300.0 * t(i)).sin()
                        + 0.4 * (TAU * 4_600.0 * t(i)).sin()
                        + 2.0 * squeal_noise[i]);
            }
            x[i] += unit.gain * load * s;
        }
        if unit.family == Family::Rack {
            // The backlash closes as the pinion takes up the load.
            add_ring(
                &mut x,
                start,
                0.2 * unit.stop,
                0.008,
                0.4 * unit.gain * load,
            );
        }
        if unit.family == Family::Pneumatic {
            add_burst(
                &mut x,
                start,
                &noise,
                0.005,
                rng.range(0.06, 0.12),
                0.8 * unit.gain,
            );
        }
        if kind == Some(Kind::RailDamage) {
            for _ in 0..6 {
                let at = start + rng.range(0.0, travel as f64) as usize;
                if at < n {
                    add_ring(
                        &mut x,
                        at,
                        rng.range(1_500.0, 2_500.0),
                        0.012,
                        strength.lerp(0.0, 2.0),
                    );
                }
            }
        }
        let stop = start + travel;
        if stop < n {
            let (decay, amp) = match unit.family {
                Family::Belt => (0.006, 1.2),
                Family::BallScrew => (0.02, 0.6),
                Family::Pneumatic => (0.01, 1.8),
                Family::LinearMotor => (0.004, 0.3),
                Family::Rack => (0.002, 0.6),
                Family::Stepper => (0.03, 0.4),
            };
            add_ring(&mut x, stop, unit.stop, decay, amp * unit.gain);
            if jerky && stop + 1_200 < n {
                add_ring(
                    &mut x,
                    stop + 1_200,
                    unit.stop,
                    decay,
                    strength.lerp(0.0, 0.8) * amp * unit.gain,
                );
            }
        }
        start += (period as usize).max(1);
    }
    x
}
