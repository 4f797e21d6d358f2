//! Loss, optimiser, checkpoint/resume and export.

use powerpost_core::unet::{load_params, params_len, UNetConfig};
use powerpost_tests::{digest, seeded_image};
use powerpost_train::dataset::{Dataset, Manifest};
use powerpost_train::exec::Pool;
use powerpost_train::loss::{edm_loss, edm_weight, epoch_permutation, sample_draw, LossConfig};
use powerpost_train::optim::AdamWConfig;
use powerpost_train::trainer::{train, TrainOptions, TrainSummary};

/// The stand-in dataset with one condition plane (the RTM image).
fn tiny_dataset(pairs: usize, h: usize, w: usize) -> Dataset {
    tiny_dataset_planes(pairs, h, w, 1)
}

/// The stand-in dataset with `planes` condition planes per pair.
fn tiny_dataset_planes(pairs: usize, h: usize, w: usize, planes: usize) -> Dataset {
    let manifest = Manifest {
        format: "test".into(),
        seed: 0,
        preset: "none".into(),
        prior: "noise".into(),
        height: h,
        width: w,
        pairs,
        train_pairs: pairs - 1,
        held_out_pairs: 1,
        snr_db: 10.0,
        smooth_sigma: 10.0,
        background_error: 0.0,
        velocity_center: 3.0,
        velocity_half_range: 1.5,
        rtm_scale: 2.0,
        shards: Vec::new(),
    };
    // Layered "velocities" with a gradient plus noise, and an RTM-like derivative image.
    let n = h * w;
    let mut v = vec![0.0; pairs * n];
    let noise = seeded_image(42, 0, pairs * n, 0.1);
    for p in 0..pairs {
        for y in 0..h {
            for x in 0..w {
                v[p * n + y * w + x] = 1.5
                    + 2.5 * y as f32 / h as f32
                    + 0.3 * ((p + x / 4) % 3) as f32
                    + noise[p * n + y * w + x];
            }
        }
    }
    let rtm: Vec<f32> = (0..pairs * n)
        .map(|i| if i % n >= w { v[i] - v[i - w] } else { 0.0 })
        .collect();
    Dataset::from_raw(manifest, &v, &rtm, planes).unwrap()
}

fn options(out: std::path::PathBuf, steps: u64) -> TrainOptions {
    TrainOptions {
        out,
        steps,
        batch: 3,
        seed: 5,
        init_seed: 1,
        init_from: None,
        config: UNetConfig::TINY,
        optimizer: AdamWConfig {
            lr: 1e-3,
            warmup_steps: 3,
            ..AdamWConfig::default()
        },
        loss: LossConfig::default(),
        checkpoint_every_secs: 0.0,
        resume: true,
        stop: None,
    }
}

/// Trains to completion on `threads` threads, nothing per step.
fn run(data: &Dataset, opts: &TrainOptions, threads: usize) -> TrainSummary {
    train(data, opts, &Pool::new(threads).unwrap(), &mut |_| {}).unwrap()
}

/// Parameters, EMA and both AdamW moments of two runs are the same bits.
fn assert_same_state(a: &TrainSummary, b: &TrainSummary) {
    assert_eq!(bits(&a.params), bits(&b.params));
    assert_eq!(bits(&a.state.ema), bits(&b.state.ema));
    assert_eq!(bits(&a.state.m), bits(&b.state.m));
    assert_eq!(bits(&a.state.v), bits(&b.state.v));
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn resumed_run_matches_uninterrupted_run_bit_for_bit() {
    let data = tiny_dataset(5, 8, 16);
    let dir = tempfile::tempdir().unwrap();
    let straight = run(&data, &options(dir.path().join("a"), 7), 1);
    // Interrupted after 3 steps, resumed to 7, on another thread count.
    let two = Pool::new(2).unwrap();
    let partial = train(&data, &options(dir.path().join("b"), 3), &two, &mut |_| {}).unwrap();
    // The state after 3 steps is pinned (digests): a change of the training bits shows.
    insta::assert_snapshot!(
        "three_training_steps",
        format!(
            "params sha256 {}\nm sha256 {}\nv sha256 {}\nema sha256 {}",
            digest(&partial.params),
            digest(&partial.state.m),
            digest(&partial.state.v),
            digest(&partial.state.ema)
        )
    );
    let resumed = train(&data, &options(dir.path().join("b"), 7), &two, &mut |_| {}).unwrap();
    assert_eq!(resumed.steps_run, 4);
    assert_same_state(&straight, &resumed);
    // CPU time adds up across the resume, as the checkpoint records it (through its
    // JSON header, so to within rounding).
    let (header, _, _) =
        powerpost_train::checkpoint::load(&dir.path().join("b/checkpoint.bin")).unwrap();
    if cfg!(unix) {
        assert!(partial.cpu_seconds > 0.0 && resumed.cpu_seconds > 0.0);
    }
    assert_eq!(partial.total_cpu_seconds, partial.cpu_seconds);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b;
    let total = partial.cpu_seconds + resumed.cpu_seconds;
    assert!(
        close(resumed.total_cpu_seconds, total),
        "{} vs {total}",
        resumed.total_cpu_seconds
    );
    assert!(close(header.cpu_secs, total), "{}", header.cpu_secs);
    // The log holds each step once.
    let log = std::fs::read_to_string(dir.path().join("b/log.csv")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(steps, (1..=7).collect::<Vec<_>>());
    // The exported EMA weights load in the core and are the f16 rounding of the EMA.
    let bytes = std::fs::read(dir.path().join("b/weights.safetensors")).unwrap();
    let mut loaded = vec![0.0; params_len(&UNetConfig::TINY)];
    load_params(&UNetConfig::TINY, &bytes, &mut loaded).unwrap();
    let rounded: Vec<f32> = resumed
        .state
        .ema
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect();
    assert_eq!(bits(&loaded), bits(&rounded));
    let file = powerpost_core::safetensors::SafeTensors::parse(&bytes).unwrap();
    assert_eq!(file.metadata("powerpost.velocity_center"), Some("3"));
    assert_eq!(file.metadata("powerpost.velocity_half_range"), Some("1.5"));
    assert_eq!(
        file.metadata("powerpost.rtm_scale")
            .map(|s| s.parse::<f32>().unwrap()),
        Some(2.0)
    );
    assert!(dir.path().join("b/loss.png").exists());

    // Stopped by the flag (what SIGINT/SIGTERM set) after step 2 of 7: it checkpoints and
    // returns; resuming reaches the uninterrupted bits.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut opts = options(dir.path().join("c"), 7);
    opts.checkpoint_every_secs = 1e9;
    opts.stop = Some(stop.clone());
    let stopped = train(&data, &opts, &two, &mut |s| {
        if s.step == 2 {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(stopped.interrupted);
    assert_eq!(stopped.state.step, 2);
    let (header, _, _) =
        powerpost_train::checkpoint::load(&dir.path().join("c/checkpoint.bin")).unwrap();
    assert_eq!(header.step, 2, "the checkpoint is written on stop");
    let resumed = run(&data, &options(dir.path().join("c"), 7), 1);
    assert!(!resumed.interrupted);
    assert_eq!(bits(&straight.params), bits(&resumed.params));
    assert_eq!(bits(&straight.state.ema), bits(&resumed.state.ema));
}

/// A run whose learning rate decays (`final_lr_fraction`, `decay_end`): the logged rates
/// follow the schedule, a run stopped midway resumes to the uninterrupted bits, and a
/// resume that would move the decay's end is refused with the reason.
#[test]
fn decaying_run_logs_its_schedule_and_resumes_exactly() {
    let data = tiny_dataset(5, 8, 16);
    let dir = tempfile::tempdir().unwrap();
    let decaying = |out: std::path::PathBuf, steps: u64| {
        let mut opts = options(out, steps);
        opts.optimizer.final_lr_fraction = 0.25;
        opts.optimizer.decay_end = steps;
        opts
    };
    let straight = run(&data, &decaying(dir.path().join("a"), 9), 1);
    // The log's rates: warm-up over 3 steps to 1e-3, then down to 2.5e-4 at step 9.
    let log = std::fs::read_to_string(dir.path().join("a/log.csv")).unwrap();
    let rates: Vec<f64> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(rates.len(), 9);
    for (i, r) in rates.iter().enumerate() {
        let t = (i + 1) as f64;
        let want = if t <= 3.0 {
            1e-3 * t / 3.0
        } else {
            1e-3 * (1.0 - 0.75 * (t - 3.0) / 6.0)
        };
        assert!((r - want).abs() < 1e-8, "step {t}: lr {r}, expected {want}");
    }
    // Stopped after step 4 of 9, resumed on another thread count.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut opts = decaying(dir.path().join("b"), 9);
    opts.checkpoint_every_secs = 1e9;
    opts.stop = Some(stop.clone());
    let stopped = train(&data, &opts, &Pool::new(2).unwrap(), &mut |s| {
        if s.step == 4 {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(stopped.interrupted);
    // Extending a decaying run would change the rates of steps already taken.
    let err = train(
        &data,
        &decaying(dir.path().join("b"), 12),
        &Pool::new(1).unwrap(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("decays until step 9") && err.contains("until step 12"),
        "{err}"
    );
    let resumed = run(&data, &decaying(dir.path().join("b"), 9), 1);
    assert_eq!(resumed.steps_run, 5);
    assert_same_state(&straight, &resumed);
    // A fraction outside [0, 1] is refused before anything is written.
    let mut bad = decaying(dir.path().join("c"), 9);
    bad.optimizer.final_lr_fraction = 1.5;
    let err = train(&data, &bad, &Pool::new(1).unwrap(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--decay-to") && err.contains("[0, 1]"),
        "{err}"
    );
    assert!(!dir.path().join("c").exists());
}

#[test]
fn training_lowers_the_loss() {
    let data = tiny_dataset(9, 8, 16);
    let dir = tempfile::tempdir().unwrap();
    let mut losses = Vec::new();
    let mut opts = options(dir.path().join("c"), 120);
    opts.batch = 8;
    opts.optimizer.lr = 3e-3;
    opts.optimizer.warmup_steps = 10;
    train(&data, &opts, &Pool::new(2).unwrap(), &mut |s| {
        losses.push(s.loss)
    })
    .unwrap();
    let first: f64 = losses[..20].iter().sum::<f64>() / 20.0;
    let last: f64 = losses[losses.len() - 20..].iter().sum::<f64>() / 20.0;
    assert!(last < 0.7 * first, "mean loss {first} → {last}");
}

#[test]
fn noise_level_drop_and_flip_draws_follow_their_distributions() {
    let cfg = LossConfig::default();
    let n = 20000;
    let draws: Vec<_> = (0..n).map(|k| sample_draw(3, k, &cfg)).collect();
    let ln: Vec<f64> = draws.iter().map(|d| (d.sigma as f64).ln()).collect();
    let mean = ln.iter().sum::<f64>() / n as f64;
    let std = (ln.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    // Standard errors: 1.2/√n ≈ 0.0085 for the mean; ≈ 0.006 for the std.
    assert!(
        (mean + 1.2).abs() < 0.04 && (std - 1.2).abs() < 0.03,
        "ln σ mean {mean}, std {std}"
    );
    let dropped = draws.iter().filter(|d| !d.conditional).count() as f64 / n as f64;
    let flipped = draws.iter().filter(|d| d.flip).count() as f64 / n as f64;
    assert!(
        (dropped - 0.2).abs() < 0.015 && (flipped - 0.5).abs() < 0.02,
        "dropped {dropped}, flipped {flipped}"
    );
    // Drop and flip are independent of σ's draw and of each other (different Philox blocks).
    let both = draws.iter().filter(|d| !d.conditional && d.flip).count() as f64 / n as f64;
    assert!((both - dropped * flipped).abs() < 0.015);
    let mut perm = epoch_permutation(3, 7, 1000);
    assert_ne!(perm, (0..1000).collect::<Vec<u32>>());
    perm.sort_unstable();
    assert_eq!(perm, (0..1000).collect::<Vec<u32>>());
}

#[test]
fn edm_loss_weight_and_gradient() {
    // λ(σ)·c_out(σ)² = 1: the loss is unit-weighted in the network's output F.
    for sigma in [0.002f32, 0.1, 0.5, 3.0, 80.0] {
        let pre = powerpost_core::unet::Preconditioning::new(sigma, 0.5);
        let product = edm_weight(sigma, 0.5) as f64 * (pre.c_out as f64).powi(2);
        assert!(
            (product - 1.0).abs() < 1e-5,
            "σ {sigma}: λ·c_out² = {product}"
        );
    }
    let d = seeded_image(8, 0, 12, 1.0);
    let c = seeded_image(8, 1, 12, 1.0);
    let sigma = [0.3f32, 2.0];
    let (loss, grad) = edm_loss(&d, &c, &sigma, 0.5);
    for i in 0..12 {
        let h = 1e-3f32;
        let (mut p, mut m) = (d.clone(), d.clone());
        p[i] += h;
        m[i] -= h;
        let numeric = (edm_loss(&p, &c, &sigma, 0.5).0 - edm_loss(&m, &c, &sigma, 0.5).0)
            / (p[i] as f64 - m[i] as f64);
        assert!(
            (numeric - grad[i] as f64).abs() <= 1e-3 * numeric.abs().max(1e-3),
            "{i}: {numeric} vs {}",
            grad[i]
        );
    }
    assert!(loss > 0.0);
}

#[test]
fn fine_tuning_starts_from_given_weights_and_resumes_exactly() {
    let data = tiny_dataset(5, 8, 16);
    let dir = tempfile::tempdir().unwrap();
    let exec = Pool::new(2).unwrap();
    let base = train(
        &data,
        &options(dir.path().join("base"), 4),
        &exec,
        &mut |_| {},
    )
    .unwrap();
    let weights = dir.path().join("base/weights.safetensors");
    let exported: Vec<f32> = base
        .state
        .ema
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect();
    // Zero steps from the exported weights: parameters and EMA are those weights.
    let mut opts = options(dir.path().join("ft0"), 0);
    opts.init_from = Some(weights.clone());
    let start = train(&data, &opts, &exec, &mut |_| {}).unwrap();
    assert_eq!(bits(&start.params), bits(&exported));
    assert_eq!(bits(&start.state.ema), bits(&exported));
    // From the checkpoint: its parameters and EMA, the moments reset.
    let mut opts = options(dir.path().join("ftc"), 0);
    opts.init_from = Some(dir.path().join("base/checkpoint.bin"));
    let from_ckpt = train(&data, &opts, &exec, &mut |_| {}).unwrap();
    assert_eq!(bits(&from_ckpt.params), bits(&base.params));
    assert_eq!(bits(&from_ckpt.state.ema), bits(&base.state.ema));
    assert!(from_ckpt.state.m.iter().all(|&v| v == 0.0));
    // Fine-tuning 5 steps straight equals 2 + 3 resumed.
    let run = |name: &str, steps: u64| {
        let mut o = options(dir.path().join(name), steps);
        o.init_from = Some(weights.clone());
        train(&data, &o, &exec, &mut |_| {}).unwrap()
    };
    let straight = run("ft", 5);
    run("ftr", 2);
    let resumed = run("ftr", 5);
    assert_eq!(bits(&straight.params), bits(&resumed.params));
    assert_ne!(
        bits(&straight.params),
        bits(&exported),
        "training moved the weights"
    );
    // Resuming with other initial weights is refused.
    let mut o = options(dir.path().join("ftr"), 6);
    o.init_from = None;
    let err = train(&data, &o, &exec, &mut |_| {}).unwrap_err();
    assert!(format!("{err:#}").contains("initial weights"), "{err:#}");
    // A file of another kind is named in the error.
    std::fs::write(dir.path().join("junk.bin"), b"not weights").unwrap();
    let mut o = options(dir.path().join("bad"), 1);
    o.init_from = Some(dir.path().join("junk.bin"));
    let err = train(&data, &o, &exec, &mut |_| {}).unwrap_err();
    assert!(format!("{err:#}").contains("junk.bin"), "{err:#}");
    // The initial weights' architecture (what `train --init-from` uses without --network):
    // from the weights file and from the checkpoint alike; a junk file is named.
    use powerpost_train::trainer::init_architecture;
    assert_eq!(init_architecture(&weights).unwrap(), UNetConfig::TINY);
    let checkpoint = dir.path().join("base/checkpoint.bin");
    assert_eq!(init_architecture(&checkpoint).unwrap(), UNetConfig::TINY);
    let err = init_architecture(&dir.path().join("junk.bin")).unwrap_err();
    assert!(format!("{err:#}").contains("junk.bin"), "{err:#}");
}

#[test]
fn dataset_conditions_stack_the_rtm_image_and_the_normalised_background() {
    let (h, w) = (8, 16);
    let n = h * w;
    let plain = tiny_dataset(4, h, w);
    let stacked = tiny_dataset_planes(4, h, w, 2);
    assert_eq!((plain.condition_planes, stacked.condition_planes), (1, 2));
    assert_eq!(stacked.condition.len(), 4 * 2 * n);
    for p in 0..4 {
        let (velocity, rtm) = plain.pair(p);
        let (same_velocity, planes) = stacked.pair(p);
        assert_eq!(bits(velocity), bits(same_velocity));
        assert_eq!(bits(&planes[..n]), bits(rtm));
        // The background: the km/s model smoothed (σ = 10 points), normalised as the
        // velocity is; against a naive f64 smoothing of the same model.
        let kms: Vec<f32> = velocity.iter().map(|x| x * 1.5 + 3.0).collect();
        let want = powerpost_tests::reference_gaussian_smooth(&kms, h, w, 10.0);
        for (got, want) in planes[n..].iter().zip(&want) {
            let want = (want - 3.0) / 1.5;
            assert!((*got as f64 - want).abs() < 1e-5, "{got} vs {want}");
        }
    }
    let manifest = plain.manifest.clone();
    let velocity = vec![2.0; n];
    assert!(Dataset::from_raw(manifest, &velocity, &velocity, 3).is_err());
}

#[test]
fn flips_mirror_every_condition_plane_with_the_velocity() {
    let (h, w) = (2, 4);
    let n = h * w;
    let velocity: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let condition: Vec<f32> = (0..2 * n).map(|i| 100.0 + i as f32).collect();
    let cfg = LossConfig::default();
    let mut cache = None;
    let batch = powerpost_train::loss::assemble(7, 0, 64, 1, h, w, &cfg, &mut cache, &|_| {
        (&velocity[..], &condition[..])
    });
    let mut seen = [false; 2];
    for j in 0..64 {
        let flip = sample_draw(7, j as u64, &cfg).flip;
        seen[usize::from(flip)] = true;
        let clean = &batch.clean[j * n..(j + 1) * n];
        let planes = &batch.condition[j * 2 * n..(j + 1) * 2 * n];
        for row in 0..h {
            for col in 0..w {
                let src = row * w + if flip { w - 1 - col } else { col };
                assert_eq!(clean[row * w + col], velocity[src]);
                assert_eq!(planes[row * w + col], condition[src]);
                assert_eq!(planes[n + row * w + col], condition[n + src]);
            }
        }
    }
    assert_eq!(seen, [true, true], "both flipped and plain items drawn");
}

#[test]
fn background_conditioned_run_resumes_exactly_and_records_its_smoothing() {
    let data = tiny_dataset_planes(5, 8, 16, 2);
    let dir = tempfile::tempdir().unwrap();
    let config = UNetConfig::TINY.with_background();
    let opts = |name: &str, steps| TrainOptions {
        config,
        ..options(dir.path().join(name), steps)
    };
    let straight = run(&data, &opts("a", 5), 1);
    let two = Pool::new(2).unwrap();
    train(&data, &opts("b", 2), &two, &mut |_| {}).unwrap();
    let resumed = train(&data, &opts("b", 5), &two, &mut |_| {}).unwrap();
    assert_eq!(resumed.steps_run, 3);
    assert_same_state(&straight, &resumed);
    // Not the RTM-only network's run.
    let plain_data = tiny_dataset(5, 8, 16);
    let plain = run(&plain_data, &options(dir.path().join("plain"), 5), 1);
    assert_ne!(plain.params.len(), straight.params.len());
    // The weights load as the background architecture and say how backgrounds were made.
    let bytes = std::fs::read(dir.path().join("b/weights.safetensors")).unwrap();
    let mut loaded = vec![0.0; params_len(&config)];
    load_params(&config, &bytes, &mut loaded).unwrap();
    let file = powerpost_core::safetensors::SafeTensors::parse(&bytes).unwrap();
    assert_eq!(
        file.metadata(powerpost_train::export::BACKGROUND_SIGMA_KEY),
        Some("10")
    );
    let plain_bytes = std::fs::read(dir.path().join("plain/weights.safetensors")).unwrap();
    let plain_file = powerpost_core::safetensors::SafeTensors::parse(&plain_bytes).unwrap();
    assert_eq!(
        plain_file.metadata(powerpost_train::export::BACKGROUND_SIGMA_KEY),
        None
    );
    // Each file names its own preset, and so does the checkpoint.
    assert_eq!(
        powerpost_train::trainer::init_architecture(&dir.path().join("b/checkpoint.bin")).unwrap(),
        config
    );
    use powerpost_core::unet::architecture_of;
    assert_eq!(architecture_of(&bytes).unwrap(), config);
    assert_eq!(architecture_of(&plain_bytes).unwrap(), UNetConfig::TINY);
    assert!(matches!(
        architecture_of(b"not a weights file"),
        Err(powerpost_core::Error::Weights(_))
    ));
    let unnamed = UNetConfig {
        base_channels: 16,
        ..UNetConfig::TINY
    };
    let unnamed_bytes =
        powerpost_train::export::safetensors_f16(&unnamed, &vec![0.0; params_len(&unnamed)], &[]);
    assert_eq!(
        architecture_of(&unnamed_bytes),
        Err(powerpost_core::Error::ArchitectureMismatch)
    );
    // A checkpoint of one architecture does not resume as the other.
    let err = train(
        &plain_data,
        &options(dir.path().join("b"), 6),
        &two,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("architecture"), "{err}");
    // A dataset loaded with one plane does not feed the background network.
    let err = train(&plain_data, &opts("c", 2), &two, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("condition plane"), "{err}");
}
