//! Whole-model properties of the synthetic geology generator and a snapshot of one model's
//! bits.

use powerpost_core::geology::{self, Geology, GeologyParams};
use powerpost_core::Error;
use sha2::{Digest, Sha256};

/// One rendered model.
fn model(params: &GeologyParams, seed: u64, index: u64) -> Vec<f32> {
    let mut out = vec![0.0; geology::model_len(params)];
    geology::generate(params, seed, index, &mut out).unwrap();
    out
}

/// Both grids the project uses.
fn grids() -> [GeologyParams; 2] {
    [
        GeologyParams::new(64, 128, 25.0),
        GeologyParams::new(256, 256, 12.5),
    ]
}

#[test]
fn velocities_stay_within_bounds() {
    for params in grids() {
        for index in 0..24 {
            for &v in &model(&params, 1, index) {
                assert!(
                    v.is_finite() && v >= params.v_min && v <= params.v_max,
                    "v = {v}"
                );
            }
        }
    }
    // Tighter bounds clamp.
    let mut params = GeologyParams::new(64, 128, 25.0);
    params.v_min = 2.0;
    params.v_max = 3.0;
    let m = model(&params, 1, 0);
    assert!(m.iter().all(|&v| (2.0..=3.0).contains(&v)));
    assert!(m.contains(&2.0) && m.contains(&3.0));
}

#[test]
fn water_layer_lies_on_top() {
    for params in grids() {
        for index in 0..24 {
            let g = Geology::new(&params, 5, index).unwrap();
            let m = model(&params, 5, index);
            let water_rows = (g.min_water_depth() / params.dx) as usize;
            assert!(water_rows >= 2, "water must be visible: {water_rows} rows");
            assert!(
                g.water_depth() >= params.water_depth.min
                    && g.water_depth() <= params.water_depth.max
            );
            // Every cell above the shallowest seabed is water; the first row is all water.
            for row in 0..water_rows {
                assert!(
                    m[row * params.nx..(row + 1) * params.nx]
                        .iter()
                        .all(|&v| v == params.v_water),
                    "row {row}"
                );
            }
            // Below the deepest seabed there is no water left.
            let sediment_row =
                ((2.0 * g.water_depth() - g.min_water_depth()) / params.dx) as usize + 1;
            let row = &m[sediment_row * params.nx..(sediment_row + 1) * params.nx];
            assert!(
                row.iter().all(|&v| v > params.v_water),
                "sediment row {sediment_row}"
            );
        }
    }
}

#[test]
fn velocity_increases_with_depth_on_average() {
    for params in grids() {
        let mut rises = 0;
        let count = 24u64;
        let mut mean_top = 0.0;
        let mut mean_bottom = 0.0;
        for index in 0..count {
            let m = model(&params, 9, index);
            let row_mean = |r: usize| {
                m[r * params.nx..(r + 1) * params.nx].iter().sum::<f32>() / params.nx as f32
            };
            let quarter = params.nz / 4;
            let top: f32 = (quarter..2 * quarter).map(row_mean).sum::<f32>() / quarter as f32;
            let bottom: f32 = (3 * quarter..params.nz).map(row_mean).sum::<f32>()
                / (params.nz - 3 * quarter) as f32;
            rises += u64::from(bottom > top);
            mean_top += top / count as f32;
            mean_bottom += bottom / count as f32;
        }
        assert_eq!(
            rises, count,
            "every model is faster in its bottom quarter than in its second"
        );
        assert!(
            mean_bottom - mean_top > 0.8,
            "trend too weak: {mean_top} -> {mean_bottom}"
        );
        assert!(
            mean_bottom > 3.2 && mean_bottom < 4.5,
            "deep velocities {mean_bottom}"
        );
    }
}

#[test]
fn features_occur_at_plausible_rates() {
    let params = GeologyParams::new(64, 128, 25.0);
    let (mut unconformities, mut faults, mut bodies) = (0, 0, 0);
    let n = 200;
    for index in 0..n {
        let g = Geology::new(&params, 2, index).unwrap();
        unconformities += usize::from(g.has_unconformity());
        faults += g.fault_count();
        bodies += g.body_count();
        assert!((params.fault_count_min..=params.fault_count_max).contains(&g.fault_count()));
    }
    // Expected: 85 % unconformities, 2.5 faults and 0.5 bodies per model.
    assert!((150..=190).contains(&unconformities), "{unconformities}");
    assert!((400..=600).contains(&faults), "{faults}");
    assert!((60..=140).contains(&bodies), "{bodies}");
}

#[test]
fn seeds_and_indices_give_different_models() {
    let params = GeologyParams::new(64, 128, 25.0);
    let a = model(&params, 0, 0);
    for (seed, index) in [(0, 1), (1, 0), (u64::MAX, 0), (0, u64::MAX)] {
        let b = model(&params, seed, index);
        let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        assert!(
            differing > a.len() / 4,
            "seed {seed} index {index}: only {differing} cells differ"
        );
    }
}

#[test]
fn same_seed_and_index_give_identical_bits_in_any_order() {
    for params in grids() {
        let first: Vec<Vec<f32>> = (0..6).map(|i| model(&params, 42, i)).collect();
        for i in (0..6).rev() {
            let again = model(&params, 42, i);
            let same = again
                .iter()
                .zip(&first[i as usize])
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "model {i} changed");
        }
        // Point evaluation agrees with the grid.
        let g = Geology::new(&params, 42, 3).unwrap();
        let (r, c) = (params.nz / 2, params.nx / 3);
        assert_eq!(
            g.velocity_at(c as f32 * params.dx, r as f32 * params.dx)
                .to_bits(),
            first[3][r * params.nx + c].to_bits()
        );
    }
}

#[test]
fn bad_parameters_and_buffers_are_errors() {
    let params = GeologyParams::new(64, 128, 25.0);
    let mut short = vec![0.0; 100];
    assert_eq!(
        geology::generate(&params, 0, 0, &mut short),
        Err(Error::BufferLength {
            buffer: "velocity",
            expected: 64 * 128,
            actual: 100
        })
    );
    let mut out = vec![0.0; 64 * 128];
    type Breaker = fn(&mut GeologyParams);
    let cases: [(&str, Breaker); 8] = [
        ("nz", |p| p.nz = 0),
        ("dx", |p| p.dx = f32::NAN),
        ("v_min, v_max", |p| p.v_max = 1.0),
        ("water_depth", |p| p.water_depth.max = 1e9),
        ("layer_thickness", |p| p.layer_thickness.min = 0.0),
        ("fault_count_min, fault_count_max", |p| {
            p.fault_count_max = 99
        }),
        ("fault_dip_degrees", |p| p.fault_dip_degrees.max = 90.0),
        ("body_probability", |p| p.body_probability = 1.5),
    ];
    for (name, break_it) in cases {
        let mut p = params;
        break_it(&mut p);
        match geology::generate(&p, 0, 0, &mut out) {
            Err(Error::InvalidArgument { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn snapshot_of_a_seeded_model() {
    let params = GeologyParams::new(64, 128, 25.0);
    let m = model(&params, 2024, 7);
    let mut hasher = Sha256::new();
    for v in &m {
        hasher.update(v.to_le_bytes());
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let min = m.iter().copied().fold(f32::INFINITY, f32::min);
    let max = m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // Summed in index order in f64: one documented order.
    let mean = m.iter().map(|&v| v as f64).sum::<f64>() / m.len() as f64;
    insta::assert_snapshot!(format!(
        "sha256 {digest}\nmin {min:.6}\nmax {max:.6}\nmean {mean:.6}"
    ));
}
