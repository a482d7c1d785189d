//! Decision thresholds from normal scores alone (never from test labels).
//!
//! The rule, shared by `trainer train`, `trainer calibrate` and enrollment: fit a gamma
//! distribution to the anomaly scores of a machine ID's validation clips (normal sounds held
//! out of training) by the method of moments, and put the threshold at its 90th percentile, as
//! the DCASE 2020 Task 2 baseline does. Scores are cross-entropies, positive and right-skewed,
//! which a gamma fits; the fitted percentile is steadier on a few dozen clips than the raw one.
//! A combined score ([`crate::combined`]) is a mean of standardised distances, which can be
//! negative: its threshold is the same percentile of a normal distribution
//! ([`ThresholdRule::normal_quantile`]). The quantiles come from `statrs`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Gamma, Normal};

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

/// The p-quantile of a gamma distribution with the given shape and scale.
pub fn gamma_quantile(p: f64, shape: f64, scale: f64) -> f64 {
    Gamma::new(shape, 1.0 / scale).map_or(f64::NAN, |g| g.inverse_cdf(p))
}

impl ThresholdRule {
    /// The threshold for scores that are roughly normal with `mean` and `std` (a combined
    /// score, which can be negative): the rule's percentile of that normal distribution.
    pub fn normal_quantile(&self, mean: f64, std: f64) -> f64 {
        Normal::new(mean, std).map_or(f64::NAN, |n| n.inverse_cdf(self.percentile))
    }
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
        // The 90th percentile of a normal distribution is 1.2816 standard deviations up.
        let rule = ThresholdRule::default();
        assert!((rule.normal_quantile(2.0, 3.0) - (2.0 + 3.0 * 1.281_551_6)).abs() < 1e-6);
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
