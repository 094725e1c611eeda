// SPDX-License-Identifier: MPL-2.0
//! The One-Euro filter (Casiez, Roussel, Vogel, CHI 2012): a low-pass filter whose cutoff rises
//! with speed, so still landmarks stop jittering and moving ones do not lag. No GStreamer here.

use std::f32::consts::TAU;

/// Cutoff of the derivative filter, in Hz (the paper's default).
const DERIVATIVE_CUTOFF: f32 = 1.0;

/// Filter parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneEuroParams {
    /// Cutoff at rest, in Hz: lower is smoother.
    pub min_cutoff: f32,
    /// How fast the cutoff rises with speed, in Hz per (unit per second).
    pub beta: f32,
}

fn alpha(cutoff: f32, dt: f32) -> f32 {
    let tau = 1.0 / (TAU * cutoff);
    1.0 / (1.0 + tau / dt)
}

/// One filtered value.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneEuro {
    /// Last filtered value and its smoothed derivative; `None` before the first sample.
    last: Option<(f32, f32)>,
}

impl OneEuro {
    /// Filters `x` arriving `dt` seconds after the previous sample.
    pub fn filter(&mut self, x: f32, dt: f32, params: OneEuroParams) -> f32 {
        let Some((prev, prev_dx)) = self.last else {
            self.last = Some((x, 0.0));
            return x;
        };
        if dt <= 0.0 || !dt.is_finite() {
            return prev;
        }
        let dx = (x - prev) / dt;
        let a_d = alpha(DERIVATIVE_CUTOFF, dt);
        let dx_hat = prev_dx + a_d * (dx - prev_dx);
        let cutoff = params.min_cutoff + params.beta * dx_hat.abs();
        let a = alpha(cutoff, dt);
        let x_hat = prev + a * (x - prev);
        self.last = Some((x_hat, dx_hat));
        x_hat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: OneEuroParams = OneEuroParams { min_cutoff: 1.0, beta: 0.05 };

    #[test]
    fn first_sample_passes_and_constant_stays() {
        let mut f = OneEuro::default();
        assert_eq!(f.filter(5.0, 0.04, PARAMS), 5.0);
        for _ in 0..10 {
            assert!((f.filter(5.0, 0.04, PARAMS) - 5.0).abs() < 1e-6);
        }
    }

    #[test]
    fn jitter_is_reduced() {
        let mut f = OneEuro::default();
        let mut max_dev: f32 = 0.0;
        for i in 0..100 {
            let noisy = 100.0 + if i % 2 == 0 { 2.0 } else { -2.0 };
            let y = f.filter(noisy, 0.04, PARAMS);
            if i > 10 {
                max_dev = max_dev.max((y - 100.0).abs());
            }
        }
        assert!(max_dev < 1.5, "{max_dev}");
    }

    #[test]
    fn fast_motion_is_followed_more_with_higher_beta() {
        let run = |beta| {
            let mut f = OneEuro::default();
            let mut y = 0.0;
            for i in 0..25 {
                y = f.filter(i as f32 * 20.0, 0.04, OneEuroParams { min_cutoff: 1.0, beta });
            }
            480.0 - y
        };
        assert!(run(1.0) < run(0.0), "lag {} vs {}", run(1.0), run(0.0));
    }

    #[test]
    fn zero_dt_keeps_value() {
        let mut f = OneEuro::default();
        f.filter(1.0, 0.04, PARAMS);
        assert_eq!(f.filter(50.0, 0.0, PARAMS), 1.0);
    }
}
