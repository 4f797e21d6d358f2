//! The training loop: batches ([`crate::loss`]), forward and backward
//! ([`crate::network`]), AdamW ([`crate::optim`]), checkpoints every few minutes
//! ([`crate::checkpoint`], exact resume), a CSV log, a loss-curve PNG and the EMA
//! weights exported as f16 safetensors ([`crate::export`]).
//!
//! Files in the output directory: `checkpoint.bin`, `log.csv`
//! (`step,loss,lr,grad_norm,steps_per_sec`), `loss.png`, `weights.safetensors`.

use crate::checkpoint::{self, Header};
use crate::cputime::process_cpu_seconds;
use crate::dataset::Dataset;
use crate::export::{
    safetensors_f16, BACKGROUND_ERROR_KEY, BACKGROUND_SIGMA_KEY, DATASET_SHA256_KEY, RTM_SCALE_KEY,
    TRAIN_STEPS_KEY, VELOCITY_CENTER_KEY, VELOCITY_HALF_RANGE_KEY,
};
use crate::files::write_atomic;
use crate::loss::{assemble, edm_loss, LossConfig};
use crate::network::{Network, Tape, TrainBatch};
use crate::optim::{adamw_step, AdamWConfig, OptimState};
use anyhow::{bail, Context, Result};
use powerpost_core::exec::Executor;
use powerpost_core::unet::{init_random, load_params, params_len, UNetConfig};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Training options.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Output directory.
    pub out: PathBuf,
    /// Total steps to reach (a resumed run continues up to this).
    pub steps: u64,
    /// Batch size.
    pub batch: usize,
    /// Seed of the data order and every random draw.
    pub seed: u64,
    /// Seed of the initial weights (ignored with `init_from`).
    pub init_seed: u64,
    /// Start from these weights instead of random ones (fine-tuning): an f16/f32
    /// safetensors file the core loads (e.g. shipped weights), or another run's
    /// `checkpoint.bin` (its parameters and EMA). The optimiser moments start at zero and
    /// the step count at 0.
    pub init_from: Option<PathBuf>,
    /// Network architecture.
    pub config: UNetConfig,
    /// Optimiser.
    pub optimizer: AdamWConfig,
    /// Loss.
    pub loss: LossConfig,
    /// Seconds between checkpoints.
    pub checkpoint_every_secs: f64,
    /// Continue from `out/checkpoint.bin`.
    pub resume: bool,
    /// Checked after every step: once it is true the run writes its checkpoint and
    /// returns early ([`TrainSummary::interrupted`]); `--resume` continues it with the same
    /// bits as an uninterrupted run. The runner sets it on SIGINT/SIGTERM (Ctrl-C, Slurm
    /// pre-emption).
    pub stop: Option<Arc<AtomicBool>>,
}

/// One logged step.
#[derive(Debug, Clone, Copy)]
pub struct StepLog {
    /// Steps completed.
    pub step: u64,
    /// Loss of the step's batch.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f32,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Steps per second (this run so far).
    pub steps_per_sec: f64,
}

/// The final state of a run.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// Final parameters.
    pub params: Vec<f32>,
    /// Final optimiser state (EMA included).
    pub state: OptimState,
    /// Steps run in this call.
    pub steps_run: u64,
    /// Wall seconds of this call.
    pub seconds: f64,
    /// CPU seconds (all threads) of this call; 0 where the platform does not say.
    pub cpu_seconds: f64,
    /// CPU seconds of the whole run so far, earlier calls (`--resume`) included, as the
    /// checkpoint records them.
    pub total_cpu_seconds: f64,
    /// Whether [`TrainOptions::stop`] ended the call before `steps` (the checkpoint is
    /// written either way).
    pub interrupted: bool,
}

const CSV_HEADER: &str = "step,loss,lr,grad_norm,steps_per_sec";

fn read_log(path: &std::path::Path, up_to: u64) -> Vec<(u64, f64, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split(',');
            let step = it.next()?.parse::<u64>().ok()?;
            let loss = it.next()?.parse::<f64>().ok()?;
            (step <= up_to).then(|| (step, loss, l.to_string()))
        })
        .collect()
}

/// The architecture of initial weights for fine-tuning (`init_from`): a checkpoint's or a
/// safetensors weights file's, one of [`UNetConfig::PRESETS`].
///
/// # Errors
/// A file that cannot be read, is neither kind, or names no preset (the error names it).
pub fn init_architecture(path: &std::path::Path) -> Result<UNetConfig> {
    let name = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("--init-from {name}: cannot read"))?;
    let recorded = if bytes.starts_with(b"PPCKPT01") {
        checkpoint::load(path)?.0.architecture
    } else {
        let file = powerpost_core::safetensors::SafeTensors::parse(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "--init-from {name}: neither a checkpoint.bin nor safetensors weights: {e}"
            )
        })?;
        file.metadata(powerpost_core::unet::ARCHITECTURE_KEY)
            .with_context(|| {
                format!(
                    "--init-from {name}: no `{}` metadata",
                    powerpost_core::unet::ARCHITECTURE_KEY
                )
            })?
            .to_string()
    };
    UNetConfig::from_description(&recorded).with_context(|| {
        format!("--init-from {name}: architecture `{recorded}` is none this build trains")
    })
}

/// Parameters and EMA to start from: a checkpoint's, or a safetensors file's (both).
fn initial_weights(
    config: &UNetConfig,
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<(Vec<f32>, Vec<f32>)> {
    let name = path.display();
    if bytes.starts_with(b"PPCKPT01") {
        let (h, p, s) = checkpoint::load(path)?;
        if h.architecture != config.describe().as_str() {
            bail!(
                "--init-from {name}: architecture `{}` differs from this run's `{}`",
                h.architecture,
                config.describe()
            );
        }
        if p.len() != params_len(config) {
            bail!(
                "--init-from {name}: holds {} parameters, the architecture has {}",
                p.len(),
                params_len(config)
            );
        }
        return Ok((p, s.ema));
    }
    let mut p = vec![0.0; params_len(config)];
    load_params(config, bytes, &mut p).map_err(|e| anyhow::anyhow!("--init-from {name}: {e} (expected weights of the `{}` architecture or a checkpoint.bin)", config.describe()))?;
    Ok((p.clone(), p))
}

/// Runs (or resumes) training on `data`; calls `on_step` after every step.
///
/// # Errors
/// Mismatched checkpoints, I/O failures, numerical failures (non-finite loss).
pub fn train(
    data: &Dataset,
    opts: &TrainOptions,
    exec: &dyn Executor,
    on_step: &mut dyn FnMut(&StepLog),
) -> Result<TrainSummary> {
    let config = opts.config;
    let net = Network::new(config).map_err(|e| anyhow::anyhow!("network: {e}"))?;
    if data.condition_planes != config.condition_channels() {
        bail!(
            "the dataset was loaded with {} condition plane(s), the network takes {}",
            data.condition_planes,
            config.condition_channels()
        );
    }
    if data.train_pairs == 0 {
        bail!("the dataset has no training pairs");
    }
    if opts.batch == 0 {
        bail!("--batch: expected at least 1");
    }
    opts.optimizer.validate()?;
    let m = config.size_multiple();
    if !data.height.is_multiple_of(m) || !data.width.is_multiple_of(m) {
        bail!(
            "dataset images {}×{} are not multiples of {m} (the network's levels)",
            data.height,
            data.width
        );
    }
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("{}: cannot create directory", opts.out.display()))?;
    // What a killed run left of its atomic writes (`powerpost`: the prefix older versions
    // used for every file).
    crate::files::remove_stale_temporaries(
        &opts.out,
        &[
            "checkpoint.bin",
            "log.csv",
            "loss.png",
            "weights.safetensors",
            "powerpost",
        ],
    )?;
    let ckpt_path = opts.out.join("checkpoint.bin");
    let log_path = opts.out.join("log.csv");
    let init = match &opts.init_from {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("--init-from {}: cannot read", path.display()))?;
            Some((
                format!("file:{}", crate::files::sha256_hex(&bytes)),
                path.clone(),
                bytes,
            ))
        }
        None => None,
    };
    let init_record = init.as_ref().map_or_else(
        || format!("random:{}", opts.init_seed),
        |(r, _, _)| r.clone(),
    );
    let (mut params, mut state, mut elapsed_before, mut cpu_before) = if opts.resume
        && ckpt_path.exists()
    {
        let (h, p, s) = checkpoint::load(&ckpt_path)?;
        if !h.init.is_empty() && h.init != init_record {
            bail!("{}: started from `{}`, this run asks for `{init_record}` (resume needs the same initial weights)", ckpt_path.display(), h.init);
        }
        if h.architecture != config.describe().as_str() {
            bail!(
                "{}: architecture `{}` differs from this run's `{}`",
                ckpt_path.display(),
                h.architecture,
                config.describe()
            );
        }
        if p.len() != params_len(&config) {
            bail!(
                "{}: holds {} parameters, the architecture has {}",
                ckpt_path.display(),
                p.len(),
                params_len(&config)
            );
        }
        if h.seed != opts.seed
            || h.batch != opts.batch
            || h.dataset != data.digest
            || h.optimizer != opts.optimizer
            || h.loss != opts.loss
        {
            let schedule = if h.optimizer.decay_end != opts.optimizer.decay_end {
                format!(
                    "; its learning rate decays until step {}, this run's until step {} (--steps of a decaying run cannot change)",
                    h.optimizer.decay_end, opts.optimizer.decay_end
                )
            } else {
                String::new()
            };
            bail!("{}: seed, batch, dataset, optimiser or loss settings differ from the checkpoint's (resume needs the same ones){schedule}", ckpt_path.display());
        }
        (p, s, h.elapsed_secs, h.cpu_secs)
    } else if let Some((_, path, bytes)) = &init {
        let (p, ema) = initial_weights(&config, path, bytes)?;
        let mut s = OptimState::new(&p);
        s.ema = ema;
        (p, s, 0.0, 0.0)
    } else {
        let mut p = vec![0.0; params_len(&config)];
        init_random(&config, opts.init_seed, &mut p).map_err(|e| anyhow::anyhow!("init: {e}"))?;
        let s = OptimState::new(&p);
        (p, s, 0.0, 0.0)
    };
    // The log up to the checkpoint's step.
    let mut history = read_log(&log_path, state.step);
    {
        let mut text = format!("{CSV_HEADER}\n");
        for (_, _, line) in &history {
            text.push_str(line);
            text.push('\n');
        }
        write_atomic(&log_path, text.as_bytes())?;
    }
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .with_context(|| format!("{}: cannot open", log_path.display()))?;
    let mut tape = Tape::new();
    let mut grads = vec![0.0; params.len()];
    let mut perm_cache = None;
    let start = Instant::now();
    // CPU seconds of this call so far (the process's, from here; 0 where unknown).
    let cpu_start = process_cpu_seconds();
    let cpu_used = || match (cpu_start, process_cpu_seconds()) {
        (Some(a), Some(b)) => (b - a).max(0.0),
        _ => 0.0,
    };
    let mut last_ckpt = Instant::now();
    let first_step = state.step;
    let save_all = |params: &[f32],
                    state: &OptimState,
                    history: &[(u64, f64, String)],
                    elapsed: f64,
                    cpu: f64|
     -> Result<()> {
        let header = Header {
            architecture: config.describe().to_string(),
            seed: opts.seed,
            batch: opts.batch,
            step: state.step,
            beta1_power: state.beta1_power,
            beta2_power: state.beta2_power,
            optimizer: opts.optimizer,
            loss: opts.loss,
            dataset: data.digest.clone(),
            params_len: params.len(),
            elapsed_secs: elapsed,
            cpu_secs: cpu,
            init: init_record.clone(),
        };
        checkpoint::save(&ckpt_path, &header, params, state)?;
        let points: Vec<(u64, f64)> = history.iter().map(|h| (h.0, h.1)).collect();
        write_atomic(
            &opts.out.join("loss.png"),
            &crate::plot::loss_curve_png(&points)?,
        )?;
        let mut meta = vec![
            (
                VELOCITY_CENTER_KEY,
                format!("{}", data.manifest.velocity_center),
            ),
            (
                VELOCITY_HALF_RANGE_KEY,
                format!("{}", data.manifest.velocity_half_range),
            ),
            (RTM_SCALE_KEY, format!("{:e}", data.manifest.rtm_scale)),
            (TRAIN_STEPS_KEY, state.step.to_string()),
            (DATASET_SHA256_KEY, data.digest.clone()),
        ];
        if config.takes_background() {
            meta.push((
                BACKGROUND_SIGMA_KEY,
                format!("{}", data.manifest.smooth_sigma),
            ));
            if data.manifest.background_error > 0.0 {
                meta.push((
                    BACKGROUND_ERROR_KEY,
                    format!("{}", data.manifest.background_error),
                ));
            }
        }
        write_atomic(
            &opts.out.join("weights.safetensors"),
            &safetensors_f16(&config, &state.ema, &meta),
        )
    };
    let mut interrupted = false;
    while state.step < opts.steps {
        if opts.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst)) {
            interrupted = true;
            break;
        }
        let step = state.step;
        let b = assemble(
            opts.seed,
            step,
            opts.batch,
            data.train_pairs,
            data.height,
            data.width,
            &opts.loss,
            &mut perm_cache,
            &|i| data.pair(i),
        );
        let batch = TrainBatch {
            height: data.height,
            width: data.width,
            noisy: &b.noisy,
            sigma: &b.sigma,
            condition: &b.condition,
            conditional: &b.conditional,
        };
        net.forward(exec, &params, &batch, &mut tape)
            .map_err(|e| anyhow::anyhow!("forward, step {step}: {e}"))?;
        let (loss, grad_d) = edm_loss(&tape.denoised, &b.clean, &b.sigma, config.sigma_data);
        if !loss.is_finite() {
            bail!("step {step}: the loss is not finite ({loss}); lower --lr");
        }
        net.backward(exec, &params, &tape, &grad_d, &mut grads)
            .map_err(|e| anyhow::anyhow!("backward, step {step}: {e}"))?;
        let info = adamw_step(
            &opts.optimizer,
            &mut state,
            &mut params,
            &mut grads,
            net.weight_mask(),
        );
        let rate = (state.step - first_step) as f64 / start.elapsed().as_secs_f64().max(1e-9);
        let entry = StepLog {
            step: state.step,
            loss,
            lr: info.lr,
            grad_norm: info.grad_norm,
            steps_per_sec: rate,
        };
        let line = format!(
            "{},{:.9e},{:.6e},{:.6e},{:.4}",
            entry.step, loss, info.lr, info.grad_norm, rate
        );
        writeln!(log, "{line}")
            .with_context(|| format!("{}: cannot append", log_path.display()))?;
        history.push((entry.step, loss, line));
        on_step(&entry);
        if last_ckpt.elapsed().as_secs_f64() >= opts.checkpoint_every_secs {
            save_all(
                &params,
                &state,
                &history,
                elapsed_before + start.elapsed().as_secs_f64(),
                cpu_before + cpu_used(),
            )?;
            last_ckpt = Instant::now();
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = cpu_used();
    elapsed_before += seconds;
    cpu_before += cpu_seconds;
    save_all(&params, &state, &history, elapsed_before, cpu_before)?;
    Ok(TrainSummary {
        steps_run: state.step - first_step,
        params,
        state,
        seconds,
        cpu_seconds,
        total_cpu_seconds: cpu_before,
        interrupted,
    })
}
