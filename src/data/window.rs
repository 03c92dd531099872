//! Display windows for CT: the range of Hounsfield units mapped onto the 256 grey levels a model
//! made for CT slices was trained on.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A CT display window: `center` ± `width`/2 Hounsfield units map onto black … white.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Window level, in Hounsfield units.
    pub center: f64,
    /// Window width, in Hounsfield units (> 0).
    pub width: f64,
}

impl Window {
    /// The usual lung window (level −600 HU, width 1500 HU: −1350 … 150 HU).
    pub const LUNG: Window = Window {
        center: -600.0,
        width: 1500.0,
    };

    /// A window after checking that its figures are finite and its width positive.
    pub fn new(center: f64, width: f64) -> Result<Self> {
        let window = Window { center, width };
        window.check()?;
        Ok(window)
    }

    /// Refuses a window that would map no range (width ≤ 0) or is not a number.
    pub fn check(&self) -> Result<()> {
        if !self.center.is_finite() || !self.width.is_finite() || self.width <= 0.0 {
            return Err(Error::input(format!(
                "the CT window (level {} HU, width {} HU) must have finite figures and a width above 0",
                self.center, self.width
            )));
        }
        Ok(())
    }

    /// The grey level (0 … 255) of `hu` Hounsfield units: linear inside the window, clamped
    /// outside it.
    pub fn grey(&self, hu: f64) -> u8 {
        let low = self.center - self.width / 2.0;
        let t = (hu - low) / self.width;
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lung_window_spans_minus_1350_to_150() {
        let w = Window::LUNG;
        assert_eq!(w.grey(-1350.0), 0);
        assert_eq!(w.grey(-2000.0), 0);
        assert_eq!(w.grey(150.0), 255);
        assert_eq!(w.grey(3000.0), 255);
        assert_eq!(w.grey(-600.0), 128);
    }

    #[test]
    fn refuses_empty_or_nan_windows() {
        assert!(Window::new(-600.0, 0.0).is_err());
        assert!(Window::new(f64::NAN, 100.0).is_err());
        assert!(Window::new(40.0, 400.0).is_ok());
    }
}
