//! Segmentation quality: IoU and Dice of hard masks, per image and averaged.

/// Overlap scores of one predicted mask against its ground truth.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Dice coefficient `2|P∩T| / (|P| + |T|)`, in `[0, 1]`.
    pub dice: f64,
    /// Intersection over union `|P∩T| / |P∪T|`, in `[0, 1]`.
    pub iou: f64,
}

impl Scores {
    /// From pixel counts; two empty masks agree perfectly (score 1), as is usual for lesion masks.
    fn from_counts(intersection: u64, predicted: u64, truth: u64) -> Self {
        let union = predicted + truth - intersection;
        if union == 0 {
            return Self {
                dice: 1.0,
                iou: 1.0,
            };
        }
        Self {
            dice: 2.0 * intersection as f64 / (predicted + truth) as f64,
            iou: intersection as f64 / union as f64,
        }
    }
}

/// Scores of a binary mask (any non-zero value is foreground) against the truth.
///
/// Both slices must have the same length (one value per pixel).
pub fn binary_scores(predicted: &[u8], truth: &[u8]) -> Scores {
    debug_assert_eq!(predicted.len(), truth.len());
    let (mut inter, mut p, mut t) = (0u64, 0u64, 0u64);
    for (&a, &b) in predicted.iter().zip(truth) {
        let (a, b) = (a != 0, b != 0);
        inter += (a && b) as u64;
        p += a as u64;
        t += b as u64;
    }
    Scores::from_counts(inter, p, t)
}

/// Scores of each foreground class `1..classes` of label maps (values are class indices): entry
/// `i` is class `i + 1`'s, `None` where the class is in neither map (nothing to score).
pub fn class_scores(predicted: &[u8], truth: &[u8], classes: usize) -> Vec<Option<Scores>> {
    debug_assert_eq!(predicted.len(), truth.len());
    let n = classes.max(1);
    // One pass over the pixels: counts per class of predicted, true and both.
    let (mut inter, mut p, mut t) = (vec![0u64; n], vec![0u64; n], vec![0u64; n]);
    for (&a, &b) in predicted.iter().zip(truth) {
        let (a, b) = (a as usize, b as usize);
        if a < n {
            p[a] += 1;
        }
        if b < n {
            t[b] += 1;
            if a == b {
                inter[a] += 1;
            }
        }
    }
    (1..n)
        .map(|c| (p[c] + t[c] > 0).then(|| Scores::from_counts(inter[c], p[c], t[c])))
        .collect()
}

/// Mean over foreground classes `1..classes` of the per-class scores of label maps (values are
/// class indices). Classes absent from both maps are skipped; if all are, the score is 1.
pub fn multiclass_scores(predicted: &[u8], truth: &[u8], classes: usize) -> Scores {
    let present: Vec<Scores> = class_scores(predicted, truth, classes)
        .into_iter()
        .flatten()
        .collect();
    mean_scores(&present)
}

/// Per-class means over many images of [`class_scores`] results: each class averaged over the
/// images where it was scored (`None` where it never was).
pub fn mean_class_scores(per_image: &[Vec<Option<Scores>>]) -> Vec<Option<Scores>> {
    let classes = per_image.iter().map(Vec::len).max().unwrap_or(0);
    (0..classes)
        .map(|c| {
            let scored: Vec<Scores> = per_image
                .iter()
                .filter_map(|s| s.get(c).copied().flatten())
                .collect();
            (!scored.is_empty()).then(|| mean_scores(&scored))
        })
        .collect()
}

/// Scores of a predicted mask against the truth for a model with `classes` outputs: binary for
/// one, the mean over foreground classes for several.
pub fn mask_scores(predicted: &[u8], truth: &[u8], classes: usize) -> Scores {
    if classes == 1 {
        binary_scores(predicted, truth)
    } else {
        multiclass_scores(predicted, truth, classes)
    }
}

/// Spearman's rank correlation of two equally long series (ties get their mean rank); `None`
/// for fewer than two values or a constant series.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let mean = (a.len() - 1) as f64 / 2.0;
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - mean) * (y - mean);
        va += (x - mean).powi(2);
        vb += (y - mean).powi(2);
    }
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// 0-based ranks, ties sharing their mean rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut out = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        for &i in &order[start..=end] {
            out[i] = (start + end) as f64 / 2.0;
        }
        start = end + 1;
    }
    out
}

/// The arithmetic mean of several scores (1 for none).
pub fn mean_scores(scores: &[Scores]) -> Scores {
    if scores.is_empty() {
        return Scores {
            dice: 1.0,
            iou: 1.0,
        };
    }
    let n = scores.len() as f64;
    Scores {
        dice: scores.iter().map(|s| s.dice).sum::<f64>() / n,
        iou: scores.iter().map(|s| s.iou).sum::<f64>() / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_scores_from_known_counts() {
        // P = {0,1,2}, T = {1,2,3}: |P∩T| = 2, Dice = 4/6, IoU = 2/4.
        let p = [1, 1, 1, 0, 0];
        let t = [0, 1, 1, 1, 0];
        let s = binary_scores(&p, &t);
        assert!((s.dice - 4.0 / 6.0).abs() < 1e-12);
        assert!((s.iou - 0.5).abs() < 1e-12);
        assert_eq!(
            binary_scores(&[0, 0], &[0, 0]),
            Scores {
                dice: 1.0,
                iou: 1.0
            }
        );
        assert_eq!(
            binary_scores(&[1, 0], &[0, 1]),
            Scores {
                dice: 0.0,
                iou: 0.0
            }
        );
        assert_eq!(
            binary_scores(&[255, 0], &[1, 0]),
            Scores {
                dice: 1.0,
                iou: 1.0
            }
        );
    }

    #[test]
    fn multiclass_averages_present_foreground_classes() {
        let p = [0, 1, 1, 2, 2, 0];
        let t = [0, 1, 2, 2, 2, 0];
        // class 1: P={1,2}, T={1} → Dice 2/3, IoU 1/2; class 2: P={3,4}, T={2,3,4} → 4/5, 2/3.
        let s = multiclass_scores(&p, &t, 4);
        assert!((s.dice - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        assert!((s.iou - (0.5 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn class_scores_name_each_class_and_skip_absent_ones() {
        let p = [0, 1, 1, 2, 2, 0];
        let t = [0, 1, 2, 2, 2, 0];
        let per = class_scores(&p, &t, 4);
        assert_eq!(per.len(), 3);
        assert!((per[0].unwrap().dice - 2.0 / 3.0).abs() < 1e-12);
        assert!((per[1].unwrap().iou - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(per[2], None, "class 3 is in neither map");
        // Class 1 scored on both images, class 2 on the first only.
        let second = vec![
            Some(Scores {
                dice: 0.0,
                iou: 0.0,
            }),
            None,
            None,
        ];
        let mean = mean_class_scores(&[per.clone(), second]);
        assert!((mean[0].unwrap().dice - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(mean[1], per[1]);
        assert_eq!(mean[2], None);
    }

    #[test]
    fn spearman_ranks_with_ties_like_scipy() {
        // scipy.stats.spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) = 0.8207826816681233
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
        assert!((r - 0.820_782_681_668_123_3).abs() < 1e-12, "{r}");
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[1.0], &[1.0]), None);
    }
}
