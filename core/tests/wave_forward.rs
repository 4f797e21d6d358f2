//! Forward modelling against independent references: the analytic 2D Green's function
//! and a reflection-free large-box run.

mod wave_common;

use powerpost_core::wave::{WaveConfig, DEFAULT_PML_WIDTH};
use wave_common::*;

/// Analytic pressure at distance `r` and time `t` for the discrete source convention
/// `uⁿ⁺¹ += Δt² c² s(nΔt)` at one grid point: the PDE is `u_tt − c²Δu = c² dx dz s(t) δ(x)`,
/// whose solution is `u = dx dz/(2π) ∫_T^t s(t − τ)/√(τ² − T²) dτ`, `T = r/c`.
/// Substituting `τ = T cosh θ` removes the singularity:
/// `u = dx dz/(2π) ∫_0^{acosh(t/T)} s(t − T cosh θ) dθ`, integrated with composite Simpson
/// in f64 on 4000 intervals (the integrand is smooth; the error is far below 1e-6).
fn analytic_trace(c: f64, r: f64, h2: f64, f: f64, delay: f64, dt: f64, nt: usize) -> Vec<f64> {
    let big_t = r / c;
    (0..nt)
        .map(|n| {
            let t = n as f64 * dt;
            if t <= big_t {
                return 0.0;
            }
            let theta_max = (t / big_t).acosh();
            let m = 4000;
            let hth = theta_max / m as f64;
            let mut s = 0.0;
            for i in 0..=m {
                let th = i as f64 * hth;
                let wgt = if i == 0 || i == m {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                s += wgt * ricker64(f, delay, t - big_t * th.cosh());
            }
            h2 / (2.0 * std::f64::consts::PI) * s * hth / 3.0
        })
        .collect()
}

/// Homogeneous-medium set-up: c = 2000 m/s, 20 Hz peak, `ppw` points per wavelength at
/// the peak frequency, receiver 8 peak wavelengths from the source, Courant number
/// `courant = c Δt / dx`; returns the relative L2 error over the record.
fn green_error(ppw: f64, courant: f64, time_order: usize) -> f64 {
    green_error_pml(ppw, courant, time_order, 10)
}

fn green_error_pml(ppw: f64, courant: f64, time_order: usize, pml: usize) -> f64 {
    let c = 2000.0f64;
    let f = 20.0f64;
    let dx = c / (f * ppw);
    let dt = courant * dx / c;
    let offset_wavelengths = 8.0;
    let r_pts = (offset_wavelengths * ppw).round() as usize;
    let delay = 1.5 / f;
    let t_end = r_pts as f64 * dx / c + delay + 3.0 / f;
    let nt = (t_end / dt).ceil() as usize + 1;
    // Boundary far enough (plus PML) that reflections arrive after t_end.
    let margin = ((c * t_end - r_pts as f64 * dx) / 2.0 / dx).ceil() as usize + 10;
    let nz = 2 * margin + 1;
    let nx = 2 * margin + r_pts + 1;
    let mut cfg = WaveConfig::new(nz, nx, dx as f32, dt as f32, nt, f as f32);
    cfg.time_order = time_order;
    cfg.pml_width = pml;
    cfg.source_delay = delay as f32;
    cfg.min_points_per_wavelength = 0.0;
    let vel = vec![c as f32; nz * nx];
    let src = [(margin as f64 * dx) as f32, (margin as f64 * dx) as f32];
    let rec = [[
        (margin as f64 * dx) as f32,
        ((margin + r_pts) as f64 * dx) as f32,
    ]];
    let got = model_shot_serial(&cfg, &vel, src, &rec);
    let want = analytic_trace(c, r_pts as f64 * dx, dx * dx, f, delay, dt, nt);
    rel_l2(&got, &want)
}

#[test]
fn homogeneous_matches_analytic_green_function() {
    // Small time step, 5 points per wavelength at the maximum frequency 2.5 × f_peak
    // (= 12.5 at the peak; the Ricker spectrum is at 3 % of its peak there).
    let e_small = green_error(12.5, 0.05, 2);
    eprintln!("order 2, 5 ppw(f_max), Courant 0.05: rel L2 = {e_small:.5}");
    assert!(e_small < 0.01, "error {e_small}");
}

#[test]
fn leapfrog_time_error_is_second_order() {
    // 10 ppw so that the spatial error is negligible and the time error dominates.
    let e1 = green_error(10.0, 0.4, 2);
    let e2 = green_error(10.0, 0.2, 2);
    let ratio = e1 / e2;
    eprintln!("order 2 time convergence: e(0.4) = {e1:.5}, e(0.2) = {e2:.5}, ratio {ratio:.2}");
    assert!((3.3..4.7).contains(&ratio), "ratio {ratio}");
}

#[test]
fn production_time_step_errors() {
    // Courant 0.5 (the presets' design value) at 5 ppw(f_max), both time schemes, and
    // the fourth-order scheme at its largest allowed step.
    let probe = WaveConfig {
        time_order: 4,
        ..WaveConfig::new(10, 10, 8.0, 1e-3, 2, 20.0)
    };
    let courant_max = probe.max_stable_dt(2000.0) as f64 * 2000.0 / 8.0;
    let e2 = green_error(12.5, 0.5, 2);
    let e4 = green_error(12.5, 0.5, 4);
    let e4_max = green_error(12.5, courant_max, 4);
    let e2_equal_cost = green_error(12.5, courant_max / 2.0, 2);
    eprintln!(
        "5 ppw(f_max), 8 wavelengths: order 2 @ Courant 0.5: {e2:.4}; order 4 @ 0.5: {e4:.4}; \
         order 4 @ {courant_max:.3} (max): {e4_max:.4}; order 2 @ {:.3} (same cost): {e2_equal_cost:.4}",
        courant_max / 2.0
    );
    assert!(
        e4 < e2 / 5.0,
        "fourth-order scheme should beat leapfrog clearly: {e4} vs {e2}"
    );
    assert!(e4_max < e2_equal_cost / 2.0, "{e4_max} vs {e2_equal_cost}");
}

/// Small box (C-PML of `width` points) against a box so large that nothing reflected
/// arrives within the record, same trace, whole record.
fn pml_error(time_order: usize, courant: f64, free_surface: bool, width: usize) -> f64 {
    let c = 2000.0f64;
    let f = 15.0f64;
    let dx = 10.0f64;
    let dt = courant * dx / c;
    let t_end = 1.0;
    let nt = (t_end / dt) as usize;
    let (nz, nx) = (80usize, 100usize);
    let mut cfg = WaveConfig::new(nz, nx, dx as f32, dt as f32, nt, f as f32);
    cfg.time_order = time_order;
    cfg.free_surface = free_surface;
    cfg.pml_width = width;
    // Velocity gradient with depth so the test is not only about a homogeneous medium.
    let vel_at = |iz: usize| (c + 2.0 * iz as f64) as f32;
    let vel: Vec<f32> = (0..nz * nx).map(|i| vel_at(i / nx)).collect();
    let src = [30.0 * dx as f32, 40.0 * dx as f32];
    let recs = [
        [5.0 * dx as f32, 70.0 * dx as f32],
        [70.0 * dx as f32, 95.0 * dx as f32],
        [30.0 * dx as f32, 45.0 * dx as f32],
    ];
    let small = model_shot_serial(&cfg, &vel, src, &recs);
    // Large box: pad by `pad` points on each side (none on top with a free surface).
    let pad = ((c + 2.0 * 400.0) * t_end / dx / 2.0) as usize + 30;
    let top = if free_surface { 0 } else { pad };
    let (bz, bx) = (nz + top + pad, nx + 2 * pad);
    let mut big_cfg = cfg;
    big_cfg.nz = bz;
    big_cfg.nx = bx;
    big_cfg.pml_width = 0;
    let big_vel: Vec<f32> = (0..bz * bx)
        .map(|i| vel_at((i / bx).saturating_sub(top).min(nz - 1)))
        .collect();
    let shift = |p: [f32; 2]| {
        [
            p[0] + (top as f64 * dx) as f32,
            p[1] + (pad as f64 * dx) as f32,
        ]
    };
    let big_recs: Vec<[f32; 2]> = recs.iter().map(|&p| shift(p)).collect();
    let big = model_shot_serial(&big_cfg, &big_vel, shift(src), &big_recs);
    let big64: Vec<f64> = big.iter().map(|&v| v as f64).collect();
    rel_l2(&small, &big64)
}

#[test]
fn cpml_matches_unbounded_reference() {
    let e = pml_error(2, 0.5, false, DEFAULT_PML_WIDTH);
    eprintln!(
        "C-PML ({DEFAULT_PML_WIDTH} points), order 2, 1 s record: rel L2 vs large box = {e:.2e}"
    );
    assert!(e < 1e-4, "{e}");
}

#[test]
fn cpml_fourth_order_in_time() {
    for free_surface in [false, true] {
        let e = pml_error(4, 0.5, free_surface, DEFAULT_PML_WIDTH);
        eprintln!(
            "C-PML ({DEFAULT_PML_WIDTH} points), order 4, free surface {free_surface}: \
             rel L2 vs large box = {e:.2e}"
        );
        assert!(e < 1e-3, "free surface {free_surface}: {e}");
    }
}

/// Wider layers absorb better (here the error falls by at least 1.5× per four points), and
/// even a 12-point layer stays below 1e-3 with the second-order scheme.
#[test]
fn cpml_error_falls_with_width() {
    let errors: Vec<f64> = [12, 16, 20]
        .iter()
        .map(|&w| pml_error(2, 0.5, false, w))
        .collect();
    eprintln!("C-PML order 2, widths 12/16/20: {errors:?}");
    assert!(errors[0] < 1e-3, "{errors:?}");
    for pair in errors.windows(2) {
        assert!(pair[1] < pair[0] / 1.5, "{errors:?}");
    }
}

/// Largest magnitude in `x`; NaN if any value is NaN.
fn max_abs(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| {
        if v.is_nan() || v.abs() > m {
            v.abs()
        } else {
            m
        }
    })
}

/// Long-time stability: a high-contrast model (water over 2.5 km/s, a 4.5 km/s block on
/// the right), the source near the corner of the layers, 12 s at 95 % of the largest
/// stable step, both time orders, layers of 8, the default and 40 points. Everything
/// leaves through the C-PML, so the field ends as a tiny and shrinking fraction of its
/// peak. (Before the fourth-order correction's taper was confined to the inner half of
/// the layer, the fourth-order runs grew exponentially here, by 10²–10⁴ per second.)
#[test]
fn cpml_is_stable_over_long_records() {
    let (nz, nx, dx) = (48usize, 64usize, 12.5f32);
    let vel: Vec<f32> = (0..nz * nx)
        .map(|i| match (i / nx, i % nx) {
            (z, _) if z < 12 => 1500.0,
            (_, x) if x > 40 => 4500.0,
            _ => 2500.0,
        })
        .collect();
    let recs: Vec<[f32; 2]> = (0..nx).map(|j| [20.0 * dx, j as f32 * dx]).collect();
    for time_order in [2, 4] {
        for width in [8, DEFAULT_PML_WIDTH, 40] {
            let mut cfg = WaveConfig::new(nz, nx, dx, 1.0e-3, 2, 15.0);
            cfg.time_order = time_order;
            cfg.pml_width = width;
            cfg.min_points_per_wavelength = 0.0;
            cfg.dt = 0.95 * cfg.max_stable_dt(4500.0);
            cfg.nt = (12.0 / cfg.dt) as usize;
            let shot = model_shot_serial(&cfg, &vel, [2.0 * dx, 2.0 * dx], &recs);
            let peak = max_abs(&shot);
            // Largest amplitude in each twelfth of the record, relative to the peak.
            let window: Vec<f32> = shot
                .chunks(recs.len() * (cfg.nt / 12))
                .map(|c| max_abs(c) / peak)
                .collect();
            let tail = max_abs(&shot[shot.len() - shot.len() / 10..]) / peak;
            eprintln!(
                "time order {time_order}, {width} points, {} steps: window maxima / peak {:?}",
                cfg.nt,
                window
                    .iter()
                    .map(|w| format!("{w:.1e}"))
                    .collect::<Vec<_>>()
            );
            assert!(peak.is_finite() && peak > 0.0, "{peak}");
            // What is left after 2 s is the slowly decaying tail of the 2-D Green's
            // function (≈ 1e-5 of the peak); it must not grow.
            let what = format!("time order {time_order}, {width} points: {window:?}");
            assert!(tail < 1e-4, "{what}");
            assert!(tail <= window[2], "{what}");
        }
    }
}
