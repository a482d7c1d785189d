//! Valves. Six families, each a different physical model:
//!
//! - [`Family::Solenoid`]: a solenoid valve on a water line switching 0.6–1.5 times a second:
//!   a ringing click when it opens and another when it closes, flow hiss (2.5–5 kHz) while
//!   open.
//! - [`Family::Pneumatic`]: a valve on an air line, pneumatically actuated: a burst of exhaust
//!   air at each switch, a low thud as it seats, broad high air noise (4–7 kHz) while open.
//! - [`Family::Motorized`]: a large motor-operated water valve: the actuator motor's whine
//!   while the valve travels (0.2–0.5 s) open and shut, a limit-switch click at the end of
//!   each travel, a low flow rumble (0.5–1.5 kHz) that follows the valve's opening.
//! - [`Family::Diaphragm`]: a pilot-operated diaphragm valve on a water line (0.4–1 times a
//!   second): a faint pilot click, then the flow rises over 50–150 ms as the diaphragm
//!   lifts; it closes fast, so the closing is a water hammer: a low thump (80–200 Hz, long
//!   decay) and the pipe's ring. Broad flow noise (1–2.5 kHz) while open.
//! - [`Family::Relief`]: a spring-loaded relief valve on a hydraulic power unit that cracks
//!   open 0.5–1.2 times a second: a knock and the body's ring as it cracks, a screech
//!   (1.2–2.8 kHz with its second harmonic, wavering with the flow) over the oil's broad flow
//!   noise (0.6–1.4 kHz) while it relieves, and a low knock (150–400 Hz) as the poppet
//!   reseats.
//! - [`Family::Trap`]: a thermodynamic steam trap (a disc valve that lets condensate out of a
//!   steam line) cycling 0.4–0.9 times a second: a soft pop as the disc lifts, a broad roar
//!   of flashing condensate (2–4.5 kHz) that fades as the trap clears, and a sharp, bright
//!   snap (3–5 kHz, about a millisecond) as the steam's flow pulls the disc shut.
//!
//! Anomalies ([`Kind`]): chatter (rapid extra clicks after opening), leak (hiss while
//! closed), sticking (a delayed, weaker opening), slow close (the valve stays open up to 30 %
//! longer in each cycle, the cycle keeps its length: **timing only**), and irregular timing
//! (cycle lengths vary by ±20 % instead of ±3 %: **timing only**).

use super::signal::{RATE, add_burst, add_ring, only, resonant_noise};
use super::{Operation, Strength};
use crate::rng::Rng;
use std::f64::consts::TAU;

/// A valve's physical model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Solenoid valve.
    Solenoid,
    /// Pneumatically actuated valve.
    Pneumatic,
    /// Motor-operated valve.
    Motorized,
    /// Pilot-operated diaphragm valve.
    Diaphragm,
    /// Spring-loaded relief valve.
    Relief,
    /// Thermodynamic (disc) steam trap.
    Trap,
}

impl Family {
    /// Every family, in `--family` order.
    pub const ALL: [Family; 6] = [
        Family::Solenoid,
        Family::Pneumatic,
        Family::Motorized,
        Family::Diaphragm,
        Family::Relief,
        Family::Trap,
    ];
}

/// What can go wrong with a valve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Rapid extra clicks.
    Chatter,
    /// Hiss while closed.
    Leak,
    /// Delayed, weaker opening.
    Sticking,
    /// Longer open phase within the same cycle (timing only).
    SlowClose,
    /// Irregular cycle lengths (timing only).
    IrregularTiming,
}

impl Kind {
    /// Every kind, in the order anomalous clips take turns.
    pub const ALL: [Kind; 5] = [
        Kind::Chatter,
        Kind::Leak,
        Kind::Sticking,
        Kind::SlowClose,
        Kind::IrregularTiming,
    ];

    /// Name in file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chatter => "chatter",
            Kind::Leak => "leak",
            Kind::Sticking => "sticking",
            Kind::SlowClose => "slow_close",
            Kind::IrregularTiming => "irregular_timing",
        }
    }
}

/// One valve.
#[derive(Debug, Clone)]
pub struct Unit {
    family: Family,
    /// Switching cycles per second.
    rate: f64,
    /// Share of a cycle it is open.
    open: f64,
    /// Ring of its clicks (Hz).
    resonance: f64,
    /// Centre (Hz) and Q of its flow noise.
    hiss: (f64, f64),
    /// Motorized: travel time (s) and motor pitch (Hz).
    travel_s: f64,
    motor: f64,
    gain: f64,
    /// Diaphragm: how long the flow takes to rise (s) and the water hammer's pitch (Hz).
    lift_s: f64,
    hammer: f64,
    /// Relief: the screech's and the reseating knock's pitches (Hz).
    whistle: f64,
    seat: f64,
    /// Trap: the disc's snap (Hz).
    snap: f64,
}

impl Unit {
    /// Draws a unit of `family`.
    pub fn draw(family: Family, rng: &mut Rng) -> Self {
        let rate = match family {
            Family::Motorized => rng.range(0.3, 0.6),
            Family::Diaphragm => rng.range(0.4, 1.0),
            Family::Relief => rng.range(0.5, 1.2),
            Family::Trap => rng.range(0.4, 0.9),
            _ => rng.range(0.6, 1.5),
        };
        Self {
            family,
            rate,
            open: rng.range(0.3, 0.5),
            resonance: rng.range(600.0, 3_000.0),
            hiss: match family {
                Family::Solenoid => (rng.range(2_500.0, 5_000.0), 3.0),
                Family::Pneumatic => (rng.range(4_000.0, 7_000.0), 1.5),
                Family::Motorized => (rng.range(500.0, 1_500.0), 2.0),
                Family::Diaphragm => (rng.range(1_000.0, 2_500.0), 1.0),
                Family::Relief => (rng.range(600.0, 1_400.0), 1.5),
                Family::Trap => (rng.range(2_000.0, 4_500.0), 0.8),
            },
            travel_s: rng.range(0.2, 0.5),
            motor: rng.range(300.0, 700.0),
            gain: rng.range(0.6, 1.0),
            // Drawn for the diaphragm valve alone (see `only`).
            lift_s: only(family == Family::Diaphragm, || rng.range(0.05, 0.15)),
            hammer: only(family == Family::Diaphragm, || rng.range(80.0, 200.0)),
            whistle: only(family == Family::Relief, || rng.range(1_200.0, 2_800.0)),
            seat: only(family == Family::Relief, || rng.range(150.0, 400.0)),
            snap: only(family == Family::Trap, || rng.range(3_000.0, 5_000.0)),
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
    let hiss = resonant_noise(n, unit.hiss.0, unit.hiss.1, rng);
    let exhaust = resonant_noise(n, 4_000.0, 1.2, rng);
    let mut x = vec![0.0; n];
    let jitter = if kind == Some(Kind::IrregularTiming) {
        strength.lerp(0.03, 0.2)
    } else {
        0.03
    };
    let mut start = (rng.uniform() * RATE / unit.rate) as usize;
    let mut motor_phase = 0.0;
    let mut whistle_phase = 0.0;
    while start < n {
        let len = (RATE / (unit.rate * op.speed[start])
            * (1.0 + jitter * rng.normal().clamp(-2.0, 2.0))) as usize;
        let stretch = if kind == Some(Kind::SlowClose) {
            strength.lerp(1.0, 1.3)
        } else {
            1.0
        };
        let open = ((len as f64 * unit.open * stretch).min(len as f64 * 0.85)) as usize;
        let sticking = kind == Some(Kind::Sticking);
        let delay = if sticking {
            (strength.lerp(0.0, 0.08) * RATE) as usize
        } else {
            0
        };
        let click = if sticking {
            strength.lerp(1.2, 0.6)
        } else {
            1.2
        };
        let g = unit.gain * op.load[start];
        let travel = (unit.travel_s * RATE) as usize;
        match unit.family {
            Family::Solenoid => {
                if start + delay < n {
                    add_ring(&mut x, start + delay, unit.resonance, 0.004, click * g);
                }
                if start + open < n {
                    add_ring(&mut x, start + open, unit.resonance * 0.8, 0.004, g);
                }
            }
            Family::Pneumatic => {
                for (at, amp) in [(start + delay, click * 0.6), (start + open, 0.6)] {
                    if at < n {
                        add_burst(&mut x, at, &exhaust, 0.003, 0.05, amp * g);
                    }
                }
                if start + open < n {
                    add_ring(&mut x, start + open, unit.resonance * 0.25, 0.03, g);
                }
            }
            Family::Motorized => {
                for (from, amp) in [(start + delay, click / 1.2), (start + open, 1.0)] {
                    for k in 0..travel.min(n.saturating_sub(from)) {
                        motor_phase += TAU * unit.motor / RATE;
                        x[from + k] +=
                            0.3 * amp * g * (motor_phase.sin() + 0.4 * (2.0 * motor_phase).sin());
                    }
                    if from + travel < n {
                        add_ring(&mut x, from + travel, unit.resonance, 0.003, 0.6 * g);
                    }
                }
            }
            Family::Diaphragm => {
                if start + delay < n {
                    let pilot = 1.5 * unit.resonance;
                    add_ring(&mut x, start + delay, pilot, 0.002, 0.3 * click * g);
                }
                if start + open < n {
                    add_ring(&mut x, start + open, unit.hammer, 0.08, 1.5 * g);
                    add_ring(&mut x, start + open, unit.resonance, 0.02, 0.4 * g);
                }
            }
            Family::Relief => {
                if start + delay < n {
                    add_ring(
                        &mut x,
                        start + delay,
                        unit.seat * 1.5,
                        0.01,
                        0.6 * click * g,
                    );
                    add_ring(
                        &mut x,
                        start + delay,
                        unit.resonance,
                        0.003,
                        0.5 * click * g,
                    );
                }
                // The screech, strongest as the valve cracks and fading as the pressure
                // falls, its pitch wavering with the flow.
                let blow = open.saturating_sub(delay);
                for k in 0..blow.min(n.saturating_sub(start + delay)) {
                    let fade = 1.0 - 0.6 * k as f64 / blow as f64;
                    let waver = 1.0 + 0.01 * (TAU * 7.0 * k as f64 / RATE).sin();
                    whistle_phase += TAU * unit.whistle * waver / RATE;
                    let screech = whistle_phase.sin() + 0.4 * (2.0 * whistle_phase).sin();
                    x[start + delay + k] += 0.25 * g * fade * screech;
                }
                if start + open < n {
                    add_ring(&mut x, start + open, unit.seat, 0.015, 0.8 * g);
                }
            }
            Family::Trap => {
                if start + delay < n {
                    add_ring(
                        &mut x,
                        start + delay,
                        0.5 * unit.resonance,
                        0.005,
                        0.4 * click * g,
                    );
                }
                if start + open < n {
                    add_ring(&mut x, start + open, unit.snap, 0.001, 1.5 * g);
                    add_ring(&mut x, start + open, unit.resonance, 0.01, 0.3 * g);
                }
            }
        }
        if kind == Some(Kind::Chatter) {
            for j in 1..4 {
                let at = start + delay + j * 400;
                if at < n {
                    add_ring(
                        &mut x,
                        at,
                        unit.resonance * 1.1,
                        0.003,
                        strength.lerp(0.0, 0.5) * g,
                    );
                }
            }
        }
        for k in 0..len.min(n - start) {
            let opening = match unit.family {
                Family::Motorized if k >= delay && k < open => {
                    ((k - delay) as f64 / travel as f64).min(1.0)
                }
                Family::Motorized if k >= open => {
                    1.0 - ((k - open) as f64 / travel as f64).min(1.0)
                }
                Family::Diaphragm if k >= delay && k < open => {
                    ((k - delay) as f64 / (unit.lift_s * RATE)).min(1.0)
                }
                // The condensate flashes hardest as the trap opens, less as it clears.
                Family::Trap if k >= delay && k < open => {
                    1.5 - (k - delay) as f64 / (open - delay) as f64
                }
                _ if k >= delay && k < open => 1.0,
                _ => 0.0,
            };
            let leak = if kind == Some(Kind::Leak) {
                strength.lerp(0.0, 0.25)
            } else {
                0.0
            };
            x[start + k] += (0.6 * opening).max(leak) * hiss[start + k] * op.load[start];
        }
        start += len.max(1);
    }
    for v in &mut x {
        *v *= 0.5;
    }
    x
}
