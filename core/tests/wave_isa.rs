//! Every instruction set the CPU supports gives the same bits as the one-lane scalar
//! kernels: forward shots (time order 2 and 4, space order 4 and 8, free surface on and
//! off, rigid and C-PML boundaries), Born shots and RTM images with illumination, on grids
//! whose rows are not a multiple of any vector width (so the masked AVX2/AVX-512 row tails,
//! the SSE2 scalar tails and the layer segments of every width are exercised), with one
//! and two threads.

mod wave_common;

use powerpost_core::exec::{Executor, Serial};
use powerpost_core::nn::simd::Isa;
use powerpost_core::wave::{self, Propagator, WaveConfig};
use wave_common::*;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// A layered model with a lateral bump, `nz × nx` at 10 m.
fn model(nz: usize, nx: usize) -> Vec<f32> {
    (0..nz * nx)
        .map(|i| {
            let (z, x) = ((i / nx) as f32, (i % nx) as f32);
            let layer = if z > 0.55 * nz as f32 { 600.0 } else { 0.0 };
            1800.0
                + 12.0 * z
                + layer
                + 250.0 * (-((x - 0.4 * nx as f32).powi(2) + (z - 12.0).powi(2)) / 60.0).exp()
        })
        .collect()
}

/// Outputs of one configuration with one instruction set: the shot and, for time order 2,
/// the Born shot, the RTM image and the illumination.
fn outputs(cfg: &WaveConfig, isa: Isa, exec: &dyn Executor) -> Vec<Vec<f32>> {
    let vel = model(cfg.nz, cfg.nx);
    let mut medium = vec![0.0; wave::medium_len(cfg).unwrap()];
    wave::prepare_medium(cfg, &vel, &mut medium).unwrap();
    let prop = Propagator::new(cfg, &medium)
        .unwrap()
        .with_isa(isa)
        .unwrap();
    assert_eq!(prop.isa(), isa);
    let mut wavelet = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut wavelet).unwrap();
    let src = [2.0 * cfg.dz, 0.37 * (cfg.nx - 1) as f32 * cfg.dx];
    let recs: Vec<[f32; 2]> = (0..cfg.nx)
        .step_by(3)
        .map(|j| [2.0 * cfg.dz, j as f32 * cfg.dx])
        .collect();
    let mut state = vec![0.0; wave::state_len(cfg).unwrap()];
    let mut shot = vec![0.0; cfg.nt * recs.len()];
    prop.forward_shot(src, &recs, &wavelet, &mut state, &mut shot, exec)
        .unwrap();
    let mut out = vec![shot.clone()];
    if cfg.time_order == 2 {
        let np = cfg.nz * cfg.nx;
        let dm: Vec<f32> = vel
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if (i / cfg.nx) % 7 == 3 {
                    0.04 / (c * c)
                } else {
                    0.0
                }
            })
            .collect();
        let mut bstate = vec![0.0; wave::born_state_len(cfg).unwrap()];
        let mut born = vec![0.0; shot.len()];
        prop.born_shot(src, &recs, &wavelet, &dm, &mut bstate, &mut born, exec)
            .unwrap();
        let mut scratch = vec![0.0; wave::rtm_scratch_len_stored(cfg).unwrap()];
        let (mut image, mut illum) = (vec![0.0; np], vec![0.0; np]);
        prop.rtm_shot(
            src,
            &recs,
            &wavelet,
            &shot,
            &mut scratch,
            &mut image,
            Some(&mut illum),
            exec,
        )
        .unwrap();
        out.extend([born, image, illum]);
    }
    for (i, o) in out.iter().enumerate() {
        assert!(
            o.iter().all(|v| v.is_finite()) && o.iter().any(|&v| v != 0.0),
            "output {i} degenerate"
        );
    }
    out
}

#[test]
fn every_instruction_set_gives_the_same_bits() {
    let supported: Vec<Isa> = Isa::all_supported().collect();
    assert!(supported.contains(&Isa::Scalar) && supported.contains(&Isa::detect()));
    for (so, to, fs, pml) in [
        (8, 2, false, 10),
        (4, 4, true, 7),
        (8, 4, false, 9),
        (4, 2, true, 0),
        (8, 2, true, 5),
        // Layer segments of exactly 8 and 4 points: the AVX-512 rows' full AVX2 and SSE2
        // tails (and the AVX2 rows' SSE2 one).
        (8, 2, false, 8),
        (4, 4, false, 4),
    ] {
        let mut cfg = WaveConfig::new(29, 43, 10.0, 1.0e-3, 150, 20.0);
        cfg.space_order = so;
        cfg.time_order = to;
        cfg.free_surface = fs;
        cfg.pml_width = pml;
        cfg.min_points_per_wavelength = 0.0;
        let want: Vec<Vec<u32>> = outputs(&cfg, Isa::Scalar, &Serial)
            .iter()
            .map(|o| bits(o))
            .collect();
        for &isa in &supported {
            for threads in [1, 2] {
                let got = outputs(&cfg, isa, &Threads(threads));
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(bits(g) == *w, "so{so} to{to} fs{fs} pml{pml}: output {i} differs with {isa:?}, {threads} threads");
                }
            }
        }
    }
}
