//! Finds the lesion scale that meets the drawn area target.

use super::camera::Vignette;
use super::canvas::Frame;
use super::lesion::{Lesion, LesionSet, PlacedLesion};

/// Calibration samples per image side (fewer for tiny images).
const CALIBRATION_GRID: usize = 48;
const CALIBRATION_STEPS: usize = 16;

/// Finds the global lesion scale whose visible area matches `target`, by bisection on a coarse
/// grid. The shape is defined relative to its size, so the area grows (all but
/// monotonically) with scale and bisection converges.
pub(super) fn calibrate_scale(
    lesions: &LesionSet,
    frame: &Frame,
    vignette: Option<&Vignette>,
    target: f32,
) -> f32 {
    let points = calibration_points(frame, vignette);
    let total = (CALIBRATION_GRID.min(frame.width) * CALIBRATION_GRID.min(frame.height)).max(1);
    let (mut lo, mut hi) = (0.005_f32, 2.5_f32);
    for _ in 0..CALIBRATION_STEPS {
        let mid = 0.5 * (lo + hi);
        let placed: Vec<PlacedLesion<'_>> = lesions
            .lesions
            .iter()
            .map(|lesion| lesion.place_for_mask(lesions.anchor, mid))
            .collect();
        let inside = points
            .iter()
            .filter(|&&p| placed.iter().any(|l| l.hit(p).is_some_and(|h| h.f < 1.0)))
            .count();
        if (inside as f32) < target * total as f32 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl Lesion {
    /// Placement used only to evaluate the mask, with the tightest reach.
    fn place_for_mask(&self, anchor: (f32, f32), scale: f32) -> PlacedLesion<'_> {
        let size = (scale * self.shape.rel_size).max(1e-6);
        let reach = size * self.shape.reach(1.0);
        PlacedLesion {
            lesion: self,
            centre: (
                anchor.0 + scale * self.shape.offset.0,
                anchor.1 + scale * self.shape.offset.1,
            ),
            size,
            edge: 0.0,
            reach_sq: reach * reach,
        }
    }
}

/// Grid points visible through the vignette (hidden ones can never be lesion, but still count
/// in the denominator so the fraction is of the whole image).
fn calibration_points(frame: &Frame, vignette: Option<&Vignette>) -> Vec<(f32, f32)> {
    let gx = CALIBRATION_GRID.min(frame.width).max(1);
    let gy = CALIBRATION_GRID.min(frame.height).max(1);
    let mut points = Vec::with_capacity(gx * gy);
    for j in 0..gy {
        for i in 0..gx {
            let px = (i as f32 + 0.5) * frame.width as f32 / gx as f32;
            let py = (j as f32 + 0.5) * frame.height as f32 / gy as f32;
            let p = frame.to_norm(px, py);
            if vignette.is_none_or(|v| v.visible(p)) {
                points.push(p);
            }
        }
    }
    points
}
