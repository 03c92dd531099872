//! Which of a user's pairs a fine-tune holds back to judge itself by: about a fifth, at least one
//! from two pairs on and at least [`MIN_RELIABLE_HELD_OUT`] from ten on, spread evenly over the
//! pairs sorted by name, so that the choice is stable and not just the last files added. The
//! page (`www/ui/pairs.js`, `heldOutKeys`) and `tinyunet fine-tune` split by this one rule; a
//! browser test pins the page's copy to the same table as the test here.

use crate::train::MIN_RELIABLE_HELD_OUT;

/// For each of `names` (in any order), whether it is held back.
pub fn held_out_mask<S: AsRef<str>>(names: &[S]) -> Vec<bool> {
    let n = names.len();
    let mut held = vec![false; n];
    if n < 2 {
        return held;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| names[a].as_ref().cmp(names[b].as_ref()));
    let floor = if n >= 10 { MIN_RELIABLE_HELD_OUT } else { 1 };
    let k = floor.max((n as f64 * 0.2).round() as usize);
    for j in 0..k {
        let at = (((2 * j + 1) * n) / (2 * k)).min(n - 1);
        held[order[at]] = true;
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Indices (in sorted order) held back for `n` pairs named `p00`, `p01`, …
    fn held(n: usize) -> Vec<usize> {
        let names: Vec<String> = (0..n).map(|i| format!("p{i:02}")).collect();
        let mask = held_out_mask(&names);
        (0..n).filter(|&i| mask[i]).collect()
    }

    #[test]
    fn the_rule_as_the_page_applies_it() {
        // The same table is checked against www/ui/pairs.js in tests/browser/pairs-rule.test.mjs.
        assert_eq!(held(0), Vec::<usize>::new());
        assert_eq!(held(1), Vec::<usize>::new());
        assert_eq!(held(2), vec![1]);
        assert_eq!(held(5), vec![2]);
        assert_eq!(held(8), vec![2, 6]);
        assert_eq!(held(10), vec![1, 3, 5, 7, 9]);
        assert_eq!(held(20), vec![2, 6, 10, 14, 18]);
        assert_eq!(held(30), vec![2, 7, 12, 17, 22, 27]);
    }

    #[test]
    fn order_of_the_input_does_not_matter() {
        let names = ["c", "a", "e", "b", "d", "f", "h", "g", "j", "i"];
        let mask = held_out_mask(&names);
        let mut picked: Vec<&str> = names
            .iter()
            .zip(&mask)
            .filter(|(_, h)| **h)
            .map(|(n, _)| *n)
            .collect();
        picked.sort();
        assert_eq!(picked, ["b", "d", "f", "h", "j"]);
    }
}
