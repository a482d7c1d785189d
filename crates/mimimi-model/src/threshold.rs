//! Decision thresholds from normal scores alone (never from test labels).
//!
//! The rule, shared by `trainer train`, `trainer calibrate` and enrollment: fit a gamma
//! distribution to the anomaly scores of a machine ID's validation clips (normal sounds held
//! out of training) by the method of moments, and put the threshold at its 90th percentile, as
//! the DCASE 2020 Task 2 baseline does. Scores are cross-entropies, positive and right-skewed,
//! which a gamma fits; the fitted percentile is steadier on a few dozen clips than the raw one.

use serde::{Deserialize, Serialize};

/// The threshold rule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRule {
    /// Percentile of the fitted gamma distribution (0..1): the share of normal clips expected
    /// below the threshold.
    pub percentile: f64,
}

impl Default for ThresholdRule {
    fn default() -> Self {
        Self { percentile: 0.9 }
    }
}

impl ThresholdRule {
    /// A one-line description for manifests and reports.
    pub fn describe(&self) -> String {
        format!(
            "gamma distribution fitted (method of moments) to the validation normal scores of each \
             machine ID; threshold at its {:.0}th percentile",
            self.percentile * 100.0
        )
    }

    /// The threshold for a machine ID from its normal scores. None with fewer than two scores
    /// or no spread.
    pub fn threshold(&self, normal_scores: &[f64]) -> Option<f64> {
        let n = normal_scores.len() as f64;
        if normal_scores.len() < 2 {
            return None;
        }
        let mean = normal_scores.iter().sum::<f64>() / n;
        let var = normal_scores
            .iter()
            .map(|s| (s - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        if !(mean > 0.0 && var > 0.0) {
            return None;
        }
        let shape = mean * mean / var;
        let scale = var / mean;
        Some(gamma_quantile(self.percentile, shape, scale))
    }
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; ~1e-15 relative).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G
        .iter()
        .enumerate()
        .skip(1)
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularised lower incomplete gamma function P(a, x).
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let prefactor = (a * x.ln() - x - ln_gamma(a)).exp();
    if x < a + 1.0 {
        // Series.
        let (mut term, mut sum, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        sum * prefactor
    } else {
        // Continued fraction for Q = 1 − P (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            d = if d.abs() < tiny { tiny } else { d };
            c = b + an / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        1.0 - prefactor * h
    }
}

/// The p-quantile of a gamma distribution with the given shape and scale (bisection on P).
pub fn gamma_quantile(p: f64, shape: f64, scale: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, shape.max(1.0));
    while gamma_p(shape, hi) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if gamma_p(shape, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi) * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_quantiles_match_closed_forms_and_tables() {
        // Shape 1 is the exponential: quantile = −ln(1 − p)·scale.
        assert!((gamma_quantile(0.9, 1.0, 3.0) - 3.0 * 10f64.ln()).abs() < 1e-9);
        // Shape 2, scale 2 is χ² with 4 degrees of freedom: 90th percentile 7.779440.
        assert!((gamma_quantile(0.9, 2.0, 2.0) - 7.779_440).abs() < 1e-5);
        // χ² with 10 degrees of freedom, 95th percentile 18.307038.
        assert!((gamma_quantile(0.95, 5.0, 2.0) - 18.307_038).abs() < 1e-5);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn threshold_from_normal_scores() {
        let rule = ThresholdRule::default();
        assert_eq!(rule.threshold(&[1.0]), None);
        assert_eq!(rule.threshold(&[1.0, 1.0, 1.0]), None);
        // Mean 2, sample variance 8/3: the gamma fit by moments gives the threshold.
        let t = rule.threshold(&[0.0, 2.0, 2.0, 4.0]).unwrap();
        let scores = [0.0, 2.0, 2.0, 4.0];
        let mean = 2.0;
        let var = scores.iter().map(|s: &f64| (s - mean).powi(2)).sum::<f64>() / 3.0;
        assert!((var - 8.0 / 3.0).abs() < 1e-12);
        let want = gamma_quantile(0.9, mean * mean / var, var / mean);
        assert!((t - want).abs() < 1e-12 && t > 2.0);
    }
}
