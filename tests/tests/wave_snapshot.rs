//! Digests of the wave modelling outputs (shots, noisy shots, Born shots, RTM images and
//! illumination) for every scheme variant: space order 4 and 8, time order 2 and 4, free
//! surface on and off, C-PML and rigid boundaries. A training dataset is generated from
//! these kernels, so their bits are frozen: any change to the snapshot is a regression,
//! whatever the speed-up. CI runs this file plain and with `-C target-cpu=native`; the
//! snapshot must hold for both. Every case is also recomputed with two threads and must give
//! the same bits.

use powerpost_core::exec::{Executor, Serial};
use powerpost_core::geology::{self, GeologyParams};
use powerpost_core::wave::{self, Acquisition, WaveConfig};
use powerpost_tests::{digest, Threads};

/// A seeded synthetic model (km/s from the generator, returned in m/s) on `nz × nx` at `dx`.
fn velocity(nz: usize, nx: usize, dx: f32, index: u64) -> Vec<f32> {
    let params = GeologyParams::new(nz, nx, dx);
    let mut v = vec![0.0; geology::model_len(&params)];
    geology::generate(&params, 3, index, &mut v).unwrap();
    v.iter().map(|x| x * 1000.0).collect()
}

fn medium(cfg: &WaveConfig, v: &[f32]) -> Vec<f32> {
    let mut m = vec![0.0; wave::medium_len(cfg).unwrap()];
    wave::prepare_medium(cfg, v, &mut m).unwrap();
    m
}

fn wavelet(cfg: &WaveConfig) -> Vec<f32> {
    let mut w = vec![0.0; cfg.nt];
    wave::ricker_wavelet(cfg.peak_frequency, cfg.source_delay, cfg.dt, &mut w).unwrap();
    w
}

/// One geometry: a source and a line of receivers at `depth`, every `step` columns.
struct Geometry {
    source: [f32; 2],
    receivers: Vec<[f32; 2]>,
}

fn geometry(cfg: &WaveConfig, depth: f32, source_x: f32, step: usize) -> Geometry {
    let receivers = (0..cfg.nx)
        .step_by(step)
        .map(|j| [depth, j as f32 * cfg.dx])
        .collect();
    Geometry {
        source: [depth, source_x],
        receivers,
    }
}

fn shot(cfg: &WaveConfig, med: &[f32], geo: &Geometry, exec: &dyn Executor) -> Vec<f32> {
    let mut state = vec![0.0; wave::state_len(cfg).unwrap()];
    let mut out = vec![0.0; cfg.nt * geo.receivers.len()];
    wave::forward_shot(
        cfg,
        med,
        geo.source,
        &geo.receivers,
        &wavelet(cfg),
        &mut state,
        &mut out,
        exec,
    )
    .unwrap();
    out
}

/// RTM image and illumination with stored (`stored = true`) or checkpointed scratch.
fn rtm(
    cfg: &WaveConfig,
    med: &[f32],
    geo: &Geometry,
    data: &[f32],
    stored: bool,
    exec: &dyn Executor,
) -> (Vec<f32>, Vec<f32>) {
    let len = if stored {
        wave::rtm_scratch_len_stored(cfg)
    } else {
        wave::rtm_scratch_len(cfg)
    }
    .unwrap();
    let mut scratch = vec![0.0; len];
    let mut image = vec![0.0; cfg.nz * cfg.nx];
    let mut illum = vec![0.0; cfg.nz * cfg.nx];
    wave::rtm_shot(
        cfg,
        med,
        geo.source,
        &geo.receivers,
        &wavelet(cfg),
        data,
        &mut scratch,
        &mut image,
        Some(&mut illum),
        exec,
    )
    .unwrap();
    (image, illum)
}

fn born(
    cfg: &WaveConfig,
    med: &[f32],
    geo: &Geometry,
    dm: &[f32],
    exec: &dyn Executor,
) -> Vec<f32> {
    let mut state = vec![0.0; wave::born_state_len(cfg).unwrap()];
    let mut out = vec![0.0; cfg.nt * geo.receivers.len()];
    wave::born_shot(
        cfg,
        med,
        geo.source,
        &geo.receivers,
        &wavelet(cfg),
        dm,
        &mut state,
        &mut out,
        exec,
    )
    .unwrap();
    out
}

/// `digest` after checking that two threads give the same bits as one.
fn checked(name: &str, serial: &[f32], threaded: &[f32]) -> String {
    assert!(
        serial.iter().all(|v| v.is_finite()),
        "{name}: non-finite output"
    );
    assert!(serial.iter().any(|&v| v != 0.0), "{name}: all zero");
    let (a, b) = (digest(serial), digest(threaded));
    assert_eq!(a, b, "{name}: 1 and 2 threads differ");
    format!("{name} {a}")
}

/// The edge preset's modelling grid (127 × 255 at 12.5 m, 16-point C-PML, 16 sources,
/// 128 receivers), with a shortened record.
#[test]
fn edge_preset_outputs() {
    let acq = Acquisition::edge();
    let mut cfg = acq.cfg;
    cfg.nt = 260;
    let coarse = velocity(acq.model_nz, acq.model_nx, acq.model_spacing, 0);
    let mut fine = vec![0.0; cfg.nz * cfg.nx];
    acq.refine_model(&coarse, &mut fine).unwrap();
    let mut smooth_scratch =
        vec![0.0; wave::smooth_scratch_len(acq.model_nz, acq.model_nx, 10.0).unwrap()];
    let mut bg_coarse = vec![0.0; coarse.len()];
    wave::gaussian_smooth(
        &coarse,
        acq.model_nz,
        acq.model_nx,
        10.0,
        &mut smooth_scratch,
        &mut bg_coarse,
    )
    .unwrap();
    let mut bg = vec![0.0; fine.len()];
    acq.refine_model(&bg_coarse, &mut bg).unwrap();
    let (true_med, bg_med) = (medium(&cfg, &fine), medium(&cfg, &bg));
    let receivers: Vec<[f32; 2]> = (0..acq.n_receivers)
        .map(|j| acq.receiver_position(j).unwrap())
        .collect();
    let geo = Geometry {
        source: acq.source_position(5).unwrap(),
        receivers,
    };
    let nrec = geo.receivers.len();

    let mut lines = Vec::new();
    let clean = shot(&cfg, &true_med, &geo, &Serial);
    lines.push(checked(
        "shot",
        &clean,
        &shot(&cfg, &true_med, &geo, &Threads(2)),
    ));
    let mut noisy = clean.clone();
    let w = wavelet(&cfg);
    let filter_len = ((2.0 * cfg.source_delay / cfg.dt).ceil() as usize + 1).min(cfg.nt);
    let mut noise_scratch = vec![0.0; wave::colored_noise_scratch_len(cfg.nt, nrec, filter_len)];
    wave::add_colored_noise(
        &mut noisy,
        cfg.nt,
        nrec,
        &w[..filter_len],
        10.0,
        7,
        21,
        &mut noise_scratch,
    )
    .unwrap();
    lines.push(format!("noisy_shot {}", digest(&noisy)));
    let (image, illum) = rtm(&cfg, &bg_med, &geo, &noisy, true, &Serial);
    let (image2, illum2) = rtm(&cfg, &bg_med, &geo, &noisy, true, &Threads(2));
    lines.push(checked("rtm_stored", &image, &image2));
    lines.push(checked("illumination_stored", &illum, &illum2));
    let (image_cp, illum_cp) = rtm(&cfg, &bg_med, &geo, &noisy, false, &Threads(2));
    assert_eq!(
        digest(&image_cp),
        digest(&image),
        "checkpointed and stored RTM differ"
    );
    assert_eq!(
        digest(&illum_cp),
        digest(&illum),
        "checkpointed and stored illumination differ"
    );
    lines.push(checked(
        "rtm_checkpointed",
        &rtm(&cfg, &bg_med, &geo, &noisy, false, &Serial).0,
        &image_cp,
    ));
    insta::assert_snapshot!(lines.join("\n"));
}

/// Small grids for the scheme variants; `index` picks the model.
fn small(
    space_order: usize,
    time_order: usize,
    free_surface: bool,
    pml_width: usize,
) -> (WaveConfig, Vec<f32>) {
    let (nz, nx, h) = (46, 61, 12.5);
    let mut cfg = WaveConfig::new(nz, nx, h, 1.0e-3, 260, 15.0);
    cfg.space_order = space_order;
    cfg.time_order = time_order;
    cfg.free_surface = free_surface;
    cfg.pml_width = pml_width;
    cfg.source_delay = 0.08;
    cfg.min_points_per_wavelength = 0.0;
    (cfg, velocity(nz, nx, h, 1))
}

#[test]
fn scheme_variants() {
    let mut lines = Vec::new();
    for (so, to, fs, pml) in [
        (8, 4, false, 20),
        (8, 2, true, 20),
        (8, 4, true, 16),
        (4, 2, false, 20),
        (4, 4, true, 12),
        (4, 2, true, 0),
        (8, 2, false, 0),
    ] {
        let (cfg, v) = small(so, to, fs, pml);
        let med = medium(&cfg, &v);
        let geo = geometry(&cfg, 2.0 * cfg.dz, 0.37 * (cfg.nx - 1) as f32 * cfg.dx, 3);
        let name = format!("so{so}_to{to}_fs{}_pml{pml}", fs as u8);
        let s = shot(&cfg, &med, &geo, &Serial);
        lines.push(checked(
            &format!("{name} shot"),
            &s,
            &shot(&cfg, &med, &geo, &Threads(2)),
        ));
        if to == 2 {
            let (image, illum) = rtm(&cfg, &med, &geo, &s, true, &Serial);
            let (image2, _) = rtm(&cfg, &med, &geo, &s, false, &Threads(2));
            lines.push(checked(&format!("{name} rtm"), &image, &image2));
            lines.push(format!("{name} illumination {}", digest(&illum)));
            let dm: Vec<f32> = v
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    if (i / cfg.nx) % 9 == 4 {
                        0.05 / (c * c)
                    } else {
                        0.0
                    }
                })
                .collect();
            let b = born(&cfg, &med, &geo, &dm, &Serial);
            lines.push(checked(
                &format!("{name} born"),
                &b,
                &born(&cfg, &med, &geo, &dm, &Threads(2)),
            ));
        }
    }
    insta::assert_snapshot!(lines.join("\n"));
}
