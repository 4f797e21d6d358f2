//! Image-quality metrics of a posterior mean against a ground truth.
//!
//! ## SSIM
//! Wang et al. (2004) structural similarity with scikit-image's defaults
//! (`structural_similarity(..., win_size=7, data_range=L)`): a 7 × 7 **uniform** window,
//! `K1 = 0.01`, `K2 = 0.03`, `C1 = (K1·L)²`, `C2 = (K2·L)²`, sample covariances (the
//! window's moments are scaled by 49/48), and the mean of the SSIM map over every window
//! that lies wholly inside the image (scikit-image computes the map with reflected borders
//! and then crops the 3-pixel border, which leaves exactly these windows). For each window
//! with means `μx, μy`, variances `σx², σy²` and covariance `σxy`:
//!
//! `SSIM = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))`.
//!
//! powerpost uses `L` = the velocity range of the normalisation (2 × half-range, 3 km/s by
//! default) so that SSIM values are comparable across cells and runs. Images must be at
//! least 7 × 7. Computed in f64, windows in row-major order.
//!
//! ## RMSE
//! `sqrt(mean((a − b)²))` in f64, pixel order.
//!
//! ## Range coverage (calibration of the samples)
//! The fraction of pixels whose true value lies inside the range (minimum to maximum,
//! inclusive) of the `n` posterior samples at that pixel. If the truth were one more draw
//! from the same distribution as the samples (a calibrated posterior), its rank among the
//! `n + 1` values would be uniform, so it would fall inside the samples' range with
//! probability `(n − 1)/(n + 1)` ([`calibrated_range_coverage`]; 15/17 ≈ 0.882 for 16
//! samples) whatever the distribution. Below that the samples are too narrow (or biased);
//! above it, too wide. No distributional assumption, and only `n` samples needed.

use anyhow::{bail, Result};

/// Side of the SSIM window.
pub const SSIM_WINDOW: usize = 7;

/// Root-mean-square difference of two equally long images.
///
/// # Errors
/// If the lengths differ or the images are empty.
pub fn rmse(a: &[f32], b: &[f32]) -> Result<f64> {
    if a.len() != b.len() || a.is_empty() {
        bail!("RMSE of images with {} and {} values", a.len(), b.len());
    }
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    Ok((sum / a.len() as f64).sqrt())
}

/// Per pixel, whether `truth` lies inside the range of the `samples` (`n` images of
/// `truth.len()` values, one after another) at that pixel.
///
/// # Errors
/// If `samples` is not a whole, non-zero number of images of `truth`'s length.
pub fn inside_sample_range(samples: &[f32], truth: &[f32]) -> Result<Vec<bool>> {
    let len = truth.len();
    if len == 0 || samples.is_empty() || !samples.len().is_multiple_of(len) {
        bail!(
            "range coverage of {} sample values for an image of {len}",
            samples.len()
        );
    }
    let mut low = samples[..len].to_vec();
    let mut high = low.clone();
    for image in samples.chunks_exact(len).skip(1) {
        for ((lo, hi), &v) in low.iter_mut().zip(high.iter_mut()).zip(image) {
            *lo = lo.min(v);
            *hi = hi.max(v);
        }
    }
    Ok(truth
        .iter()
        .zip(low.iter().zip(&high))
        .map(|(&t, (&lo, &hi))| lo <= t && t <= hi)
        .collect())
}

/// The range coverage a calibrated posterior gives with `n` samples: `(n − 1)/(n + 1)`.
pub fn calibrated_range_coverage(n: usize) -> f64 {
    (n as f64 - 1.0).max(0.0) / (n as f64 + 1.0)
}

/// Mean SSIM of `x` and `y` (`height × width`, row-major) with data range `data_range`
/// (see the module docs).
///
/// # Errors
/// Wrong lengths, images smaller than 7 × 7, a non-positive data range.
pub fn ssim(x: &[f32], y: &[f32], height: usize, width: usize, data_range: f64) -> Result<f64> {
    if x.len() != height * width || y.len() != height * width {
        bail!("SSIM: images must hold {height} × {width} values");
    }
    if height < SSIM_WINDOW || width < SSIM_WINDOW {
        bail!(
            "SSIM needs images of at least {SSIM_WINDOW} × {SSIM_WINDOW}, got {height} × {width}"
        );
    }
    if !(data_range > 0.0 && data_range.is_finite()) {
        bail!("SSIM: data range must be positive, got {data_range}");
    }
    let c1 = (0.01 * data_range).powi(2);
    let c2 = (0.03 * data_range).powi(2);
    let np = (SSIM_WINDOW * SSIM_WINDOW) as f64;
    let cov_norm = np / (np - 1.0);
    let mut total = 0.0f64;
    let mut count = 0usize;
    for i0 in 0..=height - SSIM_WINDOW {
        for j0 in 0..=width - SSIM_WINDOW {
            let (mut sx, mut sy, mut sxx, mut syy, mut sxy) =
                (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
            for i in i0..i0 + SSIM_WINDOW {
                for j in j0..j0 + SSIM_WINDOW {
                    let (a, b) = (x[i * width + j] as f64, y[i * width + j] as f64);
                    sx += a;
                    sy += b;
                    sxx += a * a;
                    syy += b * b;
                    sxy += a * b;
                }
            }
            let (ux, uy) = (sx / np, sy / np);
            let vx = cov_norm * (sxx / np - ux * ux);
            let vy = cov_norm * (syy / np - uy * uy);
            let vxy = cov_norm * (sxy / np - ux * uy);
            let s = ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            total += s;
            count += 1;
        }
    }
    Ok(total / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic textured test image.
    fn texture(h: usize, w: usize, phase: f32) -> Vec<f32> {
        (0..h * w)
            .map(|k| 2.0 + ((k / w) as f32 * 0.9 + phase).sin() * ((k % w) as f32 * 0.45).cos())
            .collect()
    }

    #[test]
    fn identical_images_have_ssim_one() {
        let x = texture(16, 32, 0.0);
        assert!((ssim(&x, &x, 16, 32, 3.0).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(rmse(&x, &x).unwrap(), 0.0);
    }

    #[test]
    fn constant_images_reduce_to_the_luminance_term() {
        // σ = 0 everywhere: SSIM = (2ab + C1)/(a² + b² + C1), by hand.
        let (a, b, l) = (2.0f32, 3.0f32, 3.0f64);
        let c1 = (0.01 * l) * (0.01 * l);
        let want = (2.0 * 6.0 + c1) / (4.0 + 9.0 + c1);
        let got = ssim(&[a; 64], &[b; 64], 8, 8, l).unwrap();
        assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        assert!((rmse(&[a; 64], &[b; 64]).unwrap() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn one_window_scaled_copy_matches_the_formula() {
        // A single 7 × 7 window; x has zero mean, y = k·x: μ = 0 so SSIM =
        // (2k·v + C2)/((1 + k²)·v + C2) with v the sample variance Σx²/48.
        let x: Vec<f32> = (0..49).map(|k| k as f32 - 24.0).collect();
        let k = 0.5f32;
        let y: Vec<f32> = x.iter().map(|v| v * k).collect();
        let l = 10.0f64;
        let c2 = (0.03 * l) * (0.03 * l);
        let v: f64 = x.iter().map(|&a| (a as f64).powi(2)).sum::<f64>() / 48.0;
        let k = k as f64;
        let want = (2.0 * k * v + c2) / ((1.0 + k * k) * v + c2);
        let got = ssim(&x, &y, 7, 7, l).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        // And a pure shift by d: SSIM = (2μ(μ+d) + C1)/(μ² + (μ+d)² + C1), contrast term 1.
        let x2: Vec<f32> = (0..49).map(|k| 1.0 + (k as f32 * 0.37).sin()).collect();
        let y2: Vec<f32> = x2.iter().map(|v| v + 0.5).collect();
        let mu: f64 = x2.iter().map(|&a| a as f64).sum::<f64>() / 49.0;
        let mu_y: f64 = y2.iter().map(|&a| a as f64).sum::<f64>() / 49.0;
        let c1 = (0.01 * l) * (0.01 * l);
        let want = (2.0 * mu * mu_y + c1) / (mu * mu + mu_y * mu_y + c1);
        // y2 − x2 is 0.5 up to f32 rounding of y2, which perturbs the contrast term slightly.
        let got = ssim(&x2, &y2, 7, 7, l).unwrap();
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn worse_images_score_lower() {
        let x = texture(16, 32, 0.0);
        let near = texture(16, 32, 0.1);
        let far = texture(16, 32, 1.5);
        let (s_near, s_far) = (
            ssim(&x, &near, 16, 32, 3.0).unwrap(),
            ssim(&x, &far, 16, 32, 3.0).unwrap(),
        );
        assert!(s_near > s_far && s_near < 1.0, "{s_near} {s_far}");
        assert!(ssim(&x, &x, 4, 128, 3.0).is_err());
    }
    /// A small case by hand: inside, on both ends, below and above the range.
    #[test]
    fn range_coverage_by_hand() {
        let samples = [1.0, 5.0, 0.0, 2.0, 3.0, 4.0, 2.0, 1.0];
        let inside = inside_sample_range(&samples, &[1.0, 4.0, -1.0, 6.0]).unwrap();
        // Ranges per pixel: [1, 3], [3, 5], [0, 4], [1, 2].
        assert_eq!(inside, [true, true, false, false]);
        assert!(inside_sample_range(&samples[..7], &[1.0, 4.0, -1.0, 6.0]).is_err());
        assert!(inside_sample_range(&[], &[1.0]).is_err());
        assert_eq!(calibrated_range_coverage(16), 15.0 / 17.0);
    }

    /// With the truth one more independent draw from the samples' own distribution the
    /// coverage is (n − 1)/(n + 1) (within 4 standard errors over 200,000 pixels), for a
    /// uniform and a skewed distribution alike; samples narrower than the truth's
    /// distribution cover clearly less.
    #[test]
    fn calibrated_draws_cover_n_minus_one_over_n_plus_one() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (pixels, n) = (200_000usize, 16usize);
        let expected = calibrated_range_coverage(n);
        let se = (expected * (1.0 - expected) / pixels as f64).sqrt();
        for transform in [|u: f64| u, |u: f64| -(1.0 - u).ln()] {
            let mut draw = |spread: f64| (transform(uniform()) * spread) as f32;
            let truth: Vec<f32> = (0..pixels).map(|_| draw(1.0)).collect();
            let samples: Vec<f32> = (0..n * pixels).map(|_| draw(1.0)).collect();
            let narrow: Vec<f32> = (0..n * pixels).map(|_| draw(0.5)).collect();
            let coverage = |s: &[f32]| {
                let inside = inside_sample_range(s, &truth).unwrap();
                inside.iter().filter(|&&b| b).count() as f64 / pixels as f64
            };
            let c = coverage(&samples);
            assert!((c - expected).abs() < 4.0 * se, "{c} vs {expected}");
            assert!(coverage(&narrow) < expected - 0.1, "{}", coverage(&narrow));
        }
    }
}
