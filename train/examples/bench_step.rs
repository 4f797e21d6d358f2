//! Times one training step of the DEFAULT network at 64×128 — forward, EDM loss,
//! backward, AdamW update, as `powerpost train` runs them — and the main backward kernels
//! alone; medians of `repeats` steps after one warm-up step; prints CPU seconds per step,
//! a digest of the gradient bits, peak memory (VmHWM), the step's convolution work
//! (forward, input and weight gradients: 3 × batch × `conv_flops`) and a JSON line for
//! `bench/train_step.sh`.
//!
//! `cargo run --release -p powerpost-train --example bench_step -- [batch] [threads] [repeats]`

use powerpost_core::nn::conv::Source;
use powerpost_core::nn::geometry::Geometry;
use powerpost_core::nn::simd::Isa;
use powerpost_core::unet::{init_random, params_len, UNetConfig};
use powerpost_train::exec::Pool;
use powerpost_train::kernels::conv::{
    conv_input_grad, conv_input_grad_scratch_len, conv_weight_grad,
};
use powerpost_train::kernels::norm::{forward_stats, group_norm_backward, NormSpec};
use powerpost_train::kernels::winograd_grad::{
    conv3x3_weight_grad, conv3x3_weight_grad_scratch_len,
};
use powerpost_train::loss::edm_loss;
use powerpost_train::network::{Network, Tape, TrainBatch};
use powerpost_train::optim::{adamw_step, AdamWConfig, OptimState};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds used so far by the whole process (all threads; user + system), from
/// `/proc/self/stat` (clock ticks of 10 ms). Robust against other jobs sharing the cores.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime) are entries 11 and 12 after the command.
    (ticks(11) + ticks(12)) / 100.0
}

/// SHA-256 of the gradient bits (hex, first 16 digits): shows whether a change kept the
/// training bits.
fn digest(values: &[f32]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for v in values {
        h.update(v.to_bits().to_le_bytes());
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let batch = *args.first().unwrap_or(&16);
    let threads = *args.get(1).unwrap_or(&2);
    let repeats = *args.get(2).unwrap_or(&3);
    // `POWERPOST_ISA=avx2` etc. caps the instruction set, as for the `powerpost` binary.
    if let Ok(name) = std::env::var("POWERPOST_ISA") {
        let isa = Isa::from_name(&name).filter(|isa| isa.is_supported());
        Isa::set_cap(Some(isa.expect("POWERPOST_ISA: unknown or unsupported")));
    }
    println!("instruction set: {}", Isa::detect().name());
    let exec = Pool::new(threads).unwrap();
    let config = UNetConfig::DEFAULT;
    let (h, w) = (64, 128);
    let n = h * w;
    let mut params = vec![0.0; params_len(&config)];
    init_random(&config, 1, &mut params).unwrap();
    let clean: Vec<f32> = (0..batch * n)
        .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
        .collect();
    let sigma: Vec<f32> = (0..batch).map(|b| 0.1 + b as f32 * 0.2).collect();
    let noisy: Vec<f32> = (0..batch * n)
        .map(|i| clean[i] + sigma[i / n] * (((i * 104_729) % 997) as f32 * 2e-3 - 1.0))
        .collect();
    let cond = clean.clone();
    let conditional: Vec<bool> = (0..batch).map(|b| b % 5 != 0).collect();
    let net = Network::new(config).unwrap();
    let tb = TrainBatch {
        height: h,
        width: w,
        noisy: &noisy,
        sigma: &sigma,
        condition: &cond,
        conditional: &conditional,
    };
    let mut tape = Tape::new();
    let mut grads = vec![0.0; params.len()];
    let optimizer = AdamWConfig::default();
    let mut state = OptimState::new(&params);
    let mut digest_first = String::new();
    let (mut fwd, mut bwd, mut upd, mut cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..=repeats {
        let c = cpu_seconds();
        let t = Instant::now();
        net.forward(&exec, &params, &tb, &mut tape).unwrap();
        let t_fwd = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (_, grad_d) = edm_loss(&tape.denoised, &clean, &sigma, config.sigma_data);
        net.backward(&exec, &params, &tape, &grad_d, &mut grads)
            .unwrap();
        let t_bwd = t.elapsed().as_secs_f64();
        if rep == 0 {
            digest_first = digest(&grads);
        }
        let t = Instant::now();
        adamw_step(
            &optimizer,
            &mut state,
            &mut params,
            &mut grads,
            net.weight_mask(),
        );
        let t_upd = t.elapsed().as_secs_f64();
        let c = cpu_seconds() - c;
        // Step 0 is the warm-up (first-touch page faults, pool growth).
        if rep > 0 {
            fwd.push(t_fwd);
            bwd.push(t_bwd);
            upd.push(t_upd);
            cpu.push(c);
        }
    }
    // Kernels alone at level 0 (32 → 32 channels, 3×3).
    let g = Geometry::new(h, w);
    let c = 32;
    let x = vec![0.5f32; batch * g.tensor_len(c)];
    let weight = vec![0.01f32; c * c * 9];
    let (mut wg, mut bg) = (vec![0.0; c * c * 9], vec![0.0; batch * c]);
    let mut dx = vec![0.0; batch * g.tensor_len(c)];
    let (mut t_wg, mut t_ig, mut t_gn) = (Vec::new(), Vec::new(), Vec::new());
    let mut t_wd = Vec::new();
    let mut wg_scratch = vec![0.0; conv3x3_weight_grad_scratch_len(batch, c, c, threads)];
    let gamma = vec![1.0; c];
    let beta = vec![0.0; c];
    let (mut dg, mut db) = (vec![0.0; c], vec![0.0; c]);
    for _ in 0..repeats {
        let t = Instant::now();
        conv3x3_weight_grad(
            &exec,
            Isa::detect(),
            g,
            batch,
            &[Source {
                data: &x,
                channels: c,
            }],
            &x,
            &mut wg_scratch,
            &mut wg,
            &mut bg,
        )
        .unwrap();
        t_wg.push(t.elapsed().as_secs_f64());
        // The direct kernel (the network's 1 × 1 layers; its 3 × 3 layers until session 15).
        let t = Instant::now();
        conv_weight_grad(
            &exec,
            Isa::detect(),
            g,
            batch,
            &[Source {
                data: &x,
                channels: c,
            }],
            3,
            &x,
            &mut wg,
            &mut bg,
        )
        .unwrap();
        t_wd.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        conv_input_grad(
            &exec,
            Isa::detect(),
            g,
            batch,
            3,
            &weight,
            c,
            c,
            &x,
            &mut vec![0.0; conv_input_grad_scratch_len(g, 3, c, c)],
            &mut dx,
        )
        .unwrap();
        t_ig.push(t.elapsed().as_secs_f64());
        let sources = [Source {
            data: &x,
            channels: c,
        }];
        let spec = NormSpec {
            groups: 8,
            gamma: &gamma,
            beta: &beta,
            silu: true,
        };
        let stats = forward_stats(&exec, Isa::detect(), g, batch, &sources, &spec, 1e-5).unwrap();
        let t = Instant::now();
        group_norm_backward(
            &exec,
            Isa::detect(),
            g,
            batch,
            &sources,
            &spec,
            &stats,
            &x,
            &mut dx,
            &mut dg,
            &mut db,
        )
        .unwrap();
        t_gn.push(t.elapsed().as_secs_f64());
    }
    let flops = 2.0 * (batch * n * c * c * 9) as f64;
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.to_string())
        })
        .unwrap_or_default();
    let steps: Vec<f64> = (0..fwd.len()).map(|i| fwd[i] + bwd[i] + upd[i]).collect();
    let (m_fwd, m_bwd, m_upd, m_step, m_cpu) = (
        median(fwd.clone()),
        median(bwd.clone()),
        median(upd.clone()),
        median(steps.clone()),
        median(cpu.clone()),
    );
    // Forward, input-gradient and weight-gradient convolutions have the same flop count.
    let conv_gflop =
        3.0 * batch as f64 * powerpost_core::unet::plan::conv_flops(&config, h, w) as f64 * 1e-9;
    println!(
        "convolutions: {conv_gflop:.1} GFLOP per step, {:.1} GFLOP/s over the median step",
        conv_gflop / m_step
    );
    println!("batch {batch}, threads {threads}: forward {m_fwd:.3} s, loss+backward {m_bwd:.3} s, AdamW {m_upd:.3} s, step {m_step:.3} s, CPU {m_cpu:.2} s per step; first-step gradient digest {digest_first}");
    let (a, b, cc) = (median(t_wg), median(t_ig), median(t_gn));
    let d = median(t_wd);
    println!("level-0 32→32 3×3: weight grad {a:.3} s ({:.1} GFLOP/s of direct work; direct kernel {d:.3} s), input grad {b:.3} s ({:.1} GFLOP/s); group-norm backward {cc:.3} s", flops / a * 1e-9, flops / b * 1e-9);
    println!(
        "{hwm}; stored activations {:.0} MiB",
        tape.stored_floats() as f64 * 4.0 / 1048576.0
    );
    let peak_mib = hwm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0);
    println!(
        r#"{{"peer":"powerpost","what":"train_step","threads":{threads},"batch":{batch},"height":{h},"width":{w},"median_step_s":{m_step:.4},"median_forward_s":{m_fwd:.4},"median_backward_s":{m_bwd:.4},"median_update_s":{m_upd:.4},"median_cpu_s":{m_cpu:.3},"peak_mib":{peak_mib:.0},"conv_gflop":{conv_gflop:.2},"runs_s":{steps:?}}}"#
    );
}
