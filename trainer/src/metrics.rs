//! Detection metrics per machine ID, as DCASE 2020 Task 2 defines them.
//!
//! - **AUC**: the area under the ROC curve of anomaly scores (anomalies positive), i.e. the
//!   probability that a random anomalous clip scores above a random normal one, ties counting
//!   half.
//! - **pAUC**: the area under the ROC curve for false-positive rates in [0, p] (p = 0.1),
//!   divided by p, so that a perfect detector scores 1 — the task's definition. (scikit-learn's
//!   `roc_auc_score(max_fpr=…)`, which the task's baseline code calls, further applies the
//!   McClish correction; the two differ, and Mimimi reports the task's definition.)
//! - precision, recall and F1 of a given threshold.

/// Points of the ROC curve: (false-positive rate, true-positive rate), from (0, 0) to (1, 1),
/// with tied scores taken together (one diagonal step).
pub fn roc(normal: &[f64], anomalous: &[f64]) -> Vec<(f64, f64)> {
    let mut scored: Vec<(f64, bool)> = normal
        .iter()
        .map(|&s| (s, false))
        .chain(anomalous.iter().map(|&s| (s, true)))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (n_neg, n_pos) = (normal.len() as f64, anomalous.len() as f64);
    let mut points = vec![(0.0, 0.0)];
    let (mut fp, mut tp) = (0.0, 0.0);
    let mut i = 0;
    while i < scored.len() {
        let score = scored[i].0;
        while i < scored.len() && scored[i].0 == score {
            if scored[i].1 {
                tp += 1.0
            } else {
                fp += 1.0
            }
            i += 1;
        }
        points.push((fp / n_neg, tp / n_pos));
    }
    points
}

/// Area under the ROC curve up to `max_fpr` (trapezoids, the last one cut at `max_fpr`).
fn area(points: &[(f64, f64)], max_fpr: f64) -> f64 {
    let mut total = 0.0;
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        if x0 >= max_fpr {
            break;
        }
        let (xe, ye) = if x1 > max_fpr {
            (max_fpr, y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0))
        } else {
            (x1, y1)
        };
        total += (xe - x0) * (y0 + ye) / 2.0;
    }
    total
}

/// AUC. None when either class is empty.
pub fn auc(normal: &[f64], anomalous: &[f64]) -> Option<f64> {
    (!normal.is_empty() && !anomalous.is_empty()).then(|| area(&roc(normal, anomalous), 1.0))
}

/// pAUC over FPR in [0, `max_fpr`], normalised by `max_fpr`.
pub fn pauc(normal: &[f64], anomalous: &[f64], max_fpr: f64) -> Option<f64> {
    (!normal.is_empty() && !anomalous.is_empty())
        .then(|| area(&roc(normal, anomalous), max_fpr) / max_fpr)
}

/// Precision, recall and F1 of "anomalous when score > threshold".
pub fn precision_recall_f1(normal: &[f64], anomalous: &[f64], threshold: f64) -> (f64, f64, f64) {
    let tp = anomalous.iter().filter(|&&s| s > threshold).count() as f64;
    let fp = normal.iter().filter(|&&s| s > threshold).count() as f64;
    let fn_ = anomalous.len() as f64 - tp;
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    (precision, recall, f1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // Pairs (anomalous > normal): 0.9 beats 0.1, 0.4, 0.35 (3); 0.8 beats 3; 0.3 beats 0.1
        // (1); 0.2 beats 0.1 (1): 8 of 12.
        let normal = [0.1, 0.4, 0.35];
        let anomalous = [0.9, 0.8, 0.3, 0.2];
        assert!((auc(&normal, &anomalous).unwrap() - 8.0 / 12.0).abs() < 1e-12);
        assert_eq!(auc(&[0.0, 0.1], &[0.5, 0.6]), Some(1.0));
        assert_eq!(auc(&[0.5, 0.6], &[0.0, 0.1]), Some(0.0));
        // One tie counts half: 1 win + 0.5 of 2 pairs.
        assert!((auc(&[0.5], &[0.5, 0.7]).unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(auc(&[], &[1.0]), None);
    }

    #[test]
    fn pauc_by_hand() {
        // 10 normals (0.05, 0.15, ..., 0.95), 2 anomalies: A = 0.99 above all, B = 0.52
        // above 5 normals. ROC: (0, 0.5) then at FPR 0.5 TPR 1. Up to FPR 0.1 the curve is at
        // TPR 0.5: area 0.05, pAUC 0.5.
        let normal: Vec<f64> = (0..10).map(|i| 0.05 + 0.1 * i as f64).collect();
        let anomalous = [0.99, 0.52];
        assert!((pauc(&normal, &anomalous, 0.1).unwrap() - 0.5).abs() < 1e-12);
        // AUC: A beats 10, B beats 5 (0.05..0.45): 15 of 20.
        assert!((auc(&normal, &anomalous).unwrap() - 0.75).abs() < 1e-12);
        // A perfect detector: 1; a reversed one: 0.
        assert_eq!(pauc(&[0.0, 0.1], &[0.5], 0.1), Some(1.0));
        assert_eq!(pauc(&[0.5], &[0.0], 0.1), Some(0.0));
    }

    #[test]
    fn precision_recall_by_hand() {
        let (p, r, f1) = precision_recall_f1(&[0.1, 0.6], &[0.7, 0.2, 0.9], 0.5);
        assert!((p - 2.0 / 3.0).abs() < 1e-12 && (r - 2.0 / 3.0).abs() < 1e-12);
        assert!((f1 - 2.0 / 3.0).abs() < 1e-12);
    }
}
