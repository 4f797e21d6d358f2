//! Born modelling and RTM: adjoint (dot-product) test, linearisation test against finite
//! differences of the nonlinear modelling, and bit-exactness across thread counts.

mod wave_common;

use powerpost_core::exec::{Executor, Serial};
use powerpost_core::rng::NoiseStream;
use powerpost_core::wave::{self, WaveConfig};
use wave_common::*;

struct Setup {
    cfg: WaveConfig,
    vel: Vec<f32>,
    src: [f32; 2],
    recs: Vec<[f32; 2]>,
    wavelet: Vec<f32>,
}

fn setup(free_surface: bool) -> Setup {
    let (nz, nx, h) = (36usize, 48usize, 10.0f32);
    let mut cfg = WaveConfig::new(nz, nx, h, 1.2e-3, 260, 20.0);
    cfg.pml_width = 10;
    cfg.free_surface = free_surface;
    // Smooth heterogeneous background: gradient plus a lateral bump.
    let vel: Vec<f32> = (0..nz * nx)
        .map(|i| {
            let (z, x) = ((i / nx) as f32, (i % nx) as f32);
            2000.0 + 15.0 * z + 200.0 * (-((x - 24.0).powi(2) + (z - 20.0).powi(2)) / 80.0).exp()
        })
        .collect();
    let src = [2.3 * h, 13.4 * h];
    let recs: Vec<[f32; 2]> = (0..20)
        .map(|j| [1.5 * h, (2.0 + 2.2 * j as f32) * h])
        .collect();
    let mut wavelet = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut wavelet).unwrap();
    Setup {
        cfg,
        vel,
        src,
        recs,
        wavelet,
    }
}

fn medium(cfg: &WaveConfig, vel: &[f32]) -> Vec<f32> {
    let mut m = vec![0.0; wave::medium_len(cfg).unwrap()];
    wave::prepare_medium(cfg, vel, &mut m).unwrap();
    m
}

fn born(s: &Setup, dm: &[f32], exec: &dyn Executor) -> Vec<f32> {
    let m = medium(&s.cfg, &s.vel);
    let mut state = vec![0.0; wave::born_state_len(&s.cfg).unwrap()];
    let mut out = vec![0.0; s.cfg.nt * s.recs.len()];
    wave::born_shot(
        &s.cfg, &m, s.src, &s.recs, &s.wavelet, dm, &mut state, &mut out, exec,
    )
    .unwrap();
    out
}

fn rtm(s: &Setup, d: &[f32], exec: &dyn Executor) -> Vec<f32> {
    let m = medium(&s.cfg, &s.vel);
    let mut scratch = vec![0.0; wave::rtm_scratch_len(&s.cfg).unwrap()];
    let mut image = vec![0.0; s.cfg.nz * s.cfg.nx];
    wave::rtm_shot(
        &s.cfg,
        &m,
        s.src,
        &s.recs,
        &s.wavelet,
        d,
        &mut scratch,
        &mut image,
        None,
        exec,
    )
    .unwrap();
    image
}

fn gaussian(seed: u64, n: usize) -> Vec<f32> {
    let mut v = vec![0.0; n];
    NoiseStream::new(seed, 0).fill_gaussian(0, &mut v);
    v
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

fn adjoint_mismatch(free_surface: bool) -> f64 {
    let s = setup(free_surface);
    let dm = gaussian(1, s.cfg.nz * s.cfg.nx);
    let d = gaussian(2, s.cfg.nt * s.recs.len());
    let jdm = born(&s, &dm, &Serial);
    let jtd = rtm(&s, &d, &Serial);
    let lhs = dot(&jdm, &d);
    let rhs = dot(&dm, &jtd);
    eprintln!(
        "dot test (free surface {free_surface}): <J dm, d> = {lhs:.9e}, <dm, J^T d> = {rhs:.9e}"
    );
    (lhs - rhs).abs() / lhs.abs().max(rhs.abs())
}

#[test]
fn rtm_is_adjoint_of_born() {
    let e = adjoint_mismatch(false);
    eprintln!("relative mismatch {e:.2e}");
    assert!(e < 1e-4, "{e}");
}

#[test]
fn rtm_is_adjoint_of_born_with_free_surface() {
    let e = adjoint_mismatch(true);
    eprintln!("relative mismatch {e:.2e}");
    assert!(e < 1e-4, "{e}");
}

#[test]
fn born_matches_finite_difference_of_modelling() {
    let s = setup(false);
    // Smooth squared-slowness perturbation (a blob), relative size 1e-2 × ε-scaled.
    let (nz, nx) = (s.cfg.nz, s.cfg.nx);
    let dm: Vec<f32> = (0..nz * nx)
        .map(|i| {
            let (z, x) = ((i / nx) as f32, (i % nx) as f32);
            let m0 = 1.0 / (2000.0f32 * 2000.0);
            m0 * (-((x - 20.0).powi(2) + (z - 22.0).powi(2)) / 20.0).exp()
        })
        .collect();
    let eps = 0.02f32;
    let perturbed = |sign: f32| -> Vec<f32> {
        let v: Vec<f32> = s
            .vel
            .iter()
            .zip(&dm)
            .map(|(&c, &d)| 1.0 / (1.0 / (c * c) + sign * eps * d).sqrt())
            .collect();
        model_shot_serial(&s.cfg, &v, s.src, &s.recs)
    };
    let plus = perturbed(1.0);
    let minus = perturbed(-1.0);
    let fd: Vec<f64> = plus
        .iter()
        .zip(&minus)
        .map(|(&a, &b)| (a as f64 - b as f64) / (2.0 * eps as f64))
        .collect();
    let jdm = born(&s, &dm, &Serial);
    let e = rel_l2(&jdm, &fd);
    eprintln!("Born vs central difference (eps = {eps}): rel L2 = {e:.2e}");
    assert!(e < 1e-2, "{e}");
}

#[test]
fn shots_and_images_are_bit_identical_across_threads() {
    for free_surface in [false, true] {
        let s = setup(free_surface);
        let shot1 = model_shot(&s.cfg, &s.vel, s.src, &s.recs, &Threads(1));
        let d = gaussian(3, s.cfg.nt * s.recs.len());
        let img1 = rtm(&s, &d, &Threads(1));
        let dm = gaussian(4, s.cfg.nz * s.cfg.nx);
        let born1 = born(&s, &dm, &Threads(1));
        let mut cfg4 = s.cfg;
        cfg4.time_order = 4;
        let shot4_1 = model_shot(&cfg4, &s.vel, s.src, &s.recs, &Threads(1));
        for t in [2, 3] {
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&shot1),
                bits(&model_shot(&s.cfg, &s.vel, s.src, &s.recs, &Threads(t))),
                "shot, {t} threads"
            );
            assert_eq!(
                bits(&img1),
                bits(&rtm(&s, &d, &Threads(t))),
                "image, {t} threads"
            );
            assert_eq!(
                bits(&born1),
                bits(&born(&s, &dm, &Threads(t))),
                "born, {t} threads"
            );
            assert_eq!(
                bits(&shot4_1),
                bits(&model_shot(&cfg4, &s.vel, s.src, &s.recs, &Threads(t))),
                "order-4 shot, {t} threads"
            );
        }
        assert!(shot1.iter().any(|&v| v != 0.0) && img1.iter().any(|&v| v != 0.0));
    }
}

/// RTM with the whole background wavefield stored (one propagation fewer) must give the
/// checkpointed image and illumination bit for bit; any other scratch length is refused.
#[test]
fn stored_wavefield_rtm_equals_checkpointed_rtm() {
    for free_surface in [false, true] {
        let s = setup(free_surface);
        let k = wave::checkpoint_interval(&s.cfg).unwrap();
        assert!(
            k < s.cfg.nt - 1,
            "the set-up must have several checkpoint segments"
        );
        let m = medium(&s.cfg, &s.vel);
        let d = gaussian(5, s.cfg.nt * s.recs.len());
        let np = s.cfg.nz * s.cfg.nx;
        let run_filled = |len: usize, exec: &dyn Executor, fill: f32| {
            let mut scratch = vec![fill; len];
            let (mut image, mut illum) = (vec![0.0; np], vec![0.0; np]);
            wave::rtm_shot(
                &s.cfg,
                &m,
                s.src,
                &s.recs,
                &s.wavelet,
                &d,
                &mut scratch,
                &mut image,
                Some(&mut illum),
                exec,
            )
            .unwrap();
            (image, illum)
        };
        let run = |len: usize, exec: &dyn Executor| run_filled(len, exec, 0.0);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let stored_len = wave::rtm_scratch_len_stored(&s.cfg).unwrap();
        let cp_len = wave::rtm_scratch_len(&s.cfg).unwrap();
        assert!(stored_len > cp_len);
        let (img_cp, il_cp) = run(cp_len, &Threads(1));
        for t in [1, 2] {
            let (img, il) = run(stored_len, &Threads(t));
            assert_eq!(bits(&img), bits(&img_cp), "image, {t} threads");
            assert_eq!(bits(&il), bits(&il_cp), "illumination, {t} threads");
        }
        assert!(img_cp.iter().any(|&v| v != 0.0));
        // Whatever the scratch held before (here NaN everywhere) does not matter: the
        // state is zeroed, checkpoints and snapshots are written before they are read.
        for len in [stored_len, cp_len] {
            let (img, il) = run_filled(len, &Threads(2), f32::NAN);
            assert_eq!(bits(&img), bits(&img_cp), "image, scratch of {len} NaNs");
            assert_eq!(
                bits(&il),
                bits(&il_cp),
                "illumination, scratch of {len} NaNs"
            );
        }
        let mut scratch = vec![0.0; cp_len + 1];
        let mut image = vec![0.0; np];
        let err = wave::rtm_shot(
            &s.cfg,
            &m,
            s.src,
            &s.recs,
            &s.wavelet,
            &d,
            &mut scratch,
            &mut image,
            None,
            &Threads(1),
        );
        assert!(
            matches!(
                err,
                Err(powerpost_core::Error::BufferLength {
                    buffer: "scratch",
                    ..
                })
            ),
            "{err:?}"
        );
    }
}
