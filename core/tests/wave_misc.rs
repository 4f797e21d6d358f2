//! Presets, smoothing, coloured noise and the data residual.

mod wave_common;

use powerpost_core::wave::{self, Acquisition};

#[test]
fn presets_are_valid_and_consistent() {
    for a in [Acquisition::paper(), Acquisition::edge()] {
        // Velocities of the synthetic geology (1.5–4.5 km/s) pass the up-front checks.
        wave::config::check_stability(&a.cfg, 1500.0, 4500.0).unwrap();
        assert_eq!(a.cfg.nt, 1441);
        assert!((a.cfg.dt * (a.cfg.nt - 1) as f32 - 1.8).abs() < 1e-5);
        for i in 0..a.n_sources {
            wave::bilinear(&a.cfg, a.source_position(i).unwrap(), "source").unwrap();
        }
        for j in 0..a.n_receivers {
            wave::bilinear(&a.cfg, a.receiver_position(j).unwrap(), "receiver").unwrap();
        }
        assert!(a.source_position(a.n_sources).is_err());
        // Refinement keeps model values at coincident points; coarsening inverts it.
        let model: Vec<f32> = (0..a.model_nz * a.model_nx)
            .map(|i| 1500.0 + (i % 97) as f32 * 10.0)
            .collect();
        let mut fine = vec![0.0; a.cfg.nz * a.cfg.nx];
        a.refine_model(&model, &mut fine).unwrap();
        let mut back = vec![0.0; model.len()];
        a.coarsen(&fine, &mut back).unwrap();
        assert_eq!(model, back);
    }
    assert_eq!(Acquisition::edge().cfg.nz, 127);
    // Too-coarse grid for the source frequency is refused with a typed error.
    let mut a = Acquisition::paper();
    a.cfg.peak_frequency = 40.0;
    assert!(matches!(
        wave::config::check_stability(&a.cfg, 1500.0, 4500.0),
        Err(powerpost_core::Error::TooDispersive { .. })
    ));
    let a = Acquisition::paper();
    assert!(matches!(
        wave::config::check_stability(&a.cfg, 1500.0, 6000.0),
        Err(powerpost_core::Error::UnstableTimeStep { .. })
    ));
}

#[test]
fn gaussian_smoothing_matches_naive_reference() {
    let (nz, nx, sigma) = (23usize, 31usize, 2.5f32);
    let input: Vec<f32> = (0..nz * nx).map(|i| ((i * 7919) % 101) as f32).collect();
    let mut scratch = vec![0.0; wave::smooth_scratch_len(nz, nx, sigma).unwrap()];
    let mut out = vec![0.0; nz * nx];
    wave::gaussian_smooth(&input, nz, nx, sigma, &mut scratch, &mut out).unwrap();
    // Naive 2D f64 reference with clamped edges.
    let r = (3.0 * sigma).ceil() as isize;
    let g: Vec<f64> = (-r..=r)
        .map(|k| (-(k * k) as f64 / (2.0 * (sigma as f64).powi(2))).exp())
        .collect();
    let s: f64 = g.iter().sum();
    for iz in 0..nz as isize {
        for ix in 0..nx as isize {
            let mut acc = 0.0;
            for (a, ga) in (-r..=r).zip(&g) {
                for (b, gb) in (-r..=r).zip(&g) {
                    let z = (iz + a).clamp(0, nz as isize - 1) as usize;
                    let x = (ix + b).clamp(0, nx as isize - 1) as usize;
                    acc += ga * gb * input[z * nx + x] as f64;
                }
            }
            acc /= s * s;
            let got = out[iz as usize * nx + ix as usize] as f64;
            assert!(
                (got - acc).abs() < 1e-4 * (1.0 + acc.abs()),
                "{got} vs {acc}"
            );
        }
    }
}

#[test]
fn colored_noise_has_requested_snr_and_band() {
    let (nt, nrec) = (600usize, 8usize);
    let dt = 1.25e-3f32;
    let shot: Vec<f32> = (0..nt * nrec).map(|i| ((i as f32) * 0.05).sin()).collect();
    let filt_len = 161;
    let mut filter = vec![0.0; filt_len];
    wave::ricker_wavelet(15.0, 0.1, dt, &mut filter).unwrap();
    let mut scratch = vec![0.0; wave::colored_noise_scratch_len(nt, nrec, filt_len)];
    let mut noisy = shot.clone();
    wave::add_colored_noise(&mut noisy, nt, nrec, &filter, 10.0, 42, 3, &mut scratch).unwrap();
    let es: f64 = shot.iter().map(|&v| (v as f64).powi(2)).sum();
    let en: f64 = noisy
        .iter()
        .zip(&shot)
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum();
    let snr = 10.0 * (es / en).log10();
    assert!((snr - 10.0).abs() < 1e-3, "snr {snr}");
    // Same seed and shot: same bits; another shot index: different noise.
    let mut again = shot.clone();
    wave::add_colored_noise(&mut again, nt, nrec, &filter, 10.0, 42, 3, &mut scratch).unwrap();
    assert_eq!(noisy, again);
    let mut other = shot.clone();
    wave::add_colored_noise(&mut other, nt, nrec, &filter, 10.0, 42, 4, &mut scratch).unwrap();
    assert_ne!(noisy, other);
    // Band-limited: energy above 60 Hz (4× peak) is a tiny fraction (white: ~87 %).
    let noise: Vec<f64> = (0..nt)
        .map(|t| (noisy[t * nrec] - shot[t * nrec]) as f64)
        .collect();
    let (mut hi, mut all) = (0.0, 0.0);
    for kf in 1..nt / 2 {
        let f = kf as f64 / (nt as f64 * dt as f64);
        let (mut re, mut im) = (0.0, 0.0);
        for (t, &v) in noise.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * kf as f64 * t as f64 / nt as f64;
            re += v * ph.cos();
            im -= v * ph.sin();
        }
        let p = re * re + im * im;
        all += p;
        if f > 60.0 {
            hi += p;
        }
    }
    assert!(hi / all < 0.01, "high-band fraction {}", hi / all);
}

#[test]
fn residual_is_relative_l2() {
    let obs = [3.0f32, 4.0, 0.0];
    assert_eq!(wave::relative_residual(&obs, &obs).unwrap(), 0.0);
    let pred = [0.0f32, 0.0, 0.0];
    assert!((wave::relative_residual(&pred, &obs).unwrap() - 1.0).abs() < 1e-12);
    let pred = [3.0f32, 4.0, 5.0];
    assert!((wave::relative_residual(&pred, &obs).unwrap() - 1.0).abs() < 1e-12);
    assert!(wave::relative_residual(&obs, &[0.0; 3]).is_err());
    assert!(wave::relative_residual(&obs, &[0.0; 2]).is_err());
}

#[test]
fn bad_input_gives_typed_errors() {
    use powerpost_core::exec::Serial;
    use powerpost_core::Error;
    let cfg = wave::WaveConfig::new(20, 20, 10.0, 1e-3, 50, 10.0);
    let vel = vec![2000.0f32; 400];
    let mut medium = vec![0.0; wave::medium_len(&cfg).unwrap()];
    assert!(matches!(
        wave::prepare_medium(&cfg, &vel[..399], &mut medium),
        Err(Error::BufferLength { .. })
    ));
    let mut bad = vel.clone();
    bad[7] = f32::NAN;
    assert!(matches!(
        wave::prepare_medium(&cfg, &bad, &mut medium),
        Err(Error::InvalidArgument {
            name: "velocity",
            ..
        })
    ));
    wave::prepare_medium(&cfg, &vel, &mut medium).unwrap();
    let wavelet = vec![0.0; 50];
    let mut state = vec![0.0; wave::state_len(&cfg).unwrap()];
    let mut shot = vec![0.0; 50];
    let rec = [[10.0f32, 10.0]];
    let r = wave::forward_shot(
        &cfg,
        &medium,
        [500.0, 10.0],
        &rec,
        &wavelet,
        &mut state,
        &mut shot,
        &Serial,
    );
    assert!(matches!(
        r,
        Err(Error::InvalidArgument { name: "source", .. })
    ));
    let r = wave::forward_shot(
        &cfg,
        &medium,
        [10.0, 10.0],
        &rec,
        &wavelet,
        &mut state[1..],
        &mut shot,
        &Serial,
    );
    assert!(matches!(
        r,
        Err(Error::BufferLength {
            buffer: "state",
            ..
        })
    ));
    let mut c4 = cfg;
    c4.time_order = 4;
    assert!(wave::rtm_scratch_len(&c4).is_err());
    let mut c3 = cfg;
    c3.space_order = 6;
    assert!(wave::medium_len(&c3).is_err());
    let e =
        wave::prepare_medium(&wave::WaveConfig { dt: 1e-2, ..cfg }, &vel, &mut medium).unwrap_err();
    assert!(matches!(e, Error::UnstableTimeStep { .. }));
    assert!(format!("{e}").contains("stable limit"));
}

/// A receiver's trace does not depend on its place in the list: the first 256 receivers'
/// interpolation weights are computed once per shot, the rest at every step, and both
/// give the same bits (300 receivers at off-grid positions, then the same list reversed).
#[test]
fn receiver_traces_do_not_depend_on_their_place_in_the_list() {
    use powerpost_core::wave::WaveConfig;
    let (nz, nx, h) = (40usize, 60usize, 12.5f32);
    let mut cfg = WaveConfig::new(nz, nx, h, 1.0e-3, 120, 15.0);
    cfg.min_points_per_wavelength = 0.0;
    let vel: Vec<f32> = (0..nz * nx)
        .map(|i| 1500.0 + 20.0 * (i / nx) as f32)
        .collect();
    let n = 300;
    let recs: Vec<[f32; 2]> = (0..n)
        .map(|j| {
            let f = j as f32 / n as f32;
            [(3.3 + 30.0 * f) * h, (1.7 + 55.0 * f) * h]
        })
        .collect();
    let reversed: Vec<[f32; 2]> = recs.iter().rev().copied().collect();
    let src = [10.0 * h, 20.0 * h];
    let a = wave_common::model_shot_serial(&cfg, &vel, src, &recs);
    let b = wave_common::model_shot_serial(&cfg, &vel, src, &reversed);
    assert!(a.iter().any(|&v| v != 0.0));
    for t in 0..cfg.nt {
        for j in 0..n {
            let (x, y) = (a[t * n + j], b[t * n + (n - 1 - j)]);
            assert_eq!(x.to_bits(), y.to_bits(), "sample {t}, receiver {j}");
        }
    }
}
