//! Target `sidecars`: the run records of the `powerpost` binary — `sample.json`
//! ([`SampleSidecar::parse`], read by `sample --from`), `sweep.json` ([`SweepPlan::parse`],
//! read by `sweep-merge`, with [`shard_order`] over several of them) and `cell.json`
//! ([`CellRecord`], read when a sweep resumes).
//!
//! The first input byte picks the reader (mod 4: sample, sweep, several sweeps separated
//! by NUL bytes, cell); the rest is the JSON text.
//!
//! Properties:
//! - never a panic: reproducing a run from a corrupted sidecar is an error naming the
//!   file, not a crash;
//! - accepted `sample.json`: a valid sampler, λ ≥ 0 (0 without an RTM image), α > 0, at
//!   least one sample, indices that do not overflow, a size the runner takes;
//! - accepted `sweep.json`: at least one cell; every cell's (λ, α) valid and its recorded
//!   parameters buildable; shard `k/m` with 1 ≤ k ≤ m;
//! - `shard_order` of accepted plans: a permutation of the given plans in shard order;
//! - parse → write → parse gives the same JSON.

use powerpost::cmd::posterior_io::{
    default_sampler, ExactF32, FileRecord, NormalizationRecord, SamplerRecord, WeightsRecord,
};
use powerpost::cmd::sample::SampleSidecar;
use powerpost::cmd::sweep::{shard_order, CellRecord, Shard, SweepPlan};
use powerpost_core::normalize::Normalization;

const SAMPLE: &str = "fuzz/sample.json";
const SWEEP: &str = "fuzz/sweep.json";

/// The body of the `sidecars` target.
pub fn fuzz(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 4 {
        0 => sample(text),
        1 => {
            sweep(text);
        }
        2 => merge(text),
        _ => cell(text),
    }
}

/// `sample.json`.
fn sample(text: &str) {
    let s = match SampleSidecar::parse(text, SAMPLE) {
        Ok(s) => s,
        Err(e) => {
            assert!(format!("{e:#}").starts_with(SAMPLE), "{e:#}");
            return;
        }
    };
    let sampler = s.sampler.config().expect("validated");
    assert!(sampler.validate().is_ok());
    assert!(s.lambda.is_finite() && s.lambda >= 0.0);
    assert!(s.alpha.is_finite() && s.alpha > 0.0);
    assert!(s.rtm.is_some() || s.lambda == 0.0);
    assert!(s.n >= 1 && s.first.checked_add(s.n as u64).is_some());
    assert!(s.height >= 1 && s.width >= 1);
    let total = s.n.checked_mul(s.height * s.width).expect("fits");
    assert!(total <= isize::MAX as usize / 8);
    let json = serde_json::to_string_pretty(&s).expect("serialises");
    let back = SampleSidecar::parse(&json, SAMPLE).expect("a written sample.json parses");
    assert_eq!(
        serde_json::to_string_pretty(&back).expect("serialises"),
        json
    );
}

/// `sweep.json`; the plan if accepted.
fn sweep(text: &str) -> Option<SweepPlan> {
    let plan = match SweepPlan::parse(text, SWEEP) {
        Ok(plan) => plan,
        Err(e) => {
            assert!(format!("{e:#}").starts_with(SWEEP), "{e:#}");
            return None;
        }
    };
    assert!(plan.cells() >= 1);
    for c in 0..plan.cells().min(64) {
        let (lambda, alpha) = plan.cell(c);
        assert!(lambda.is_finite() && lambda >= 0.0);
        assert!(alpha.is_finite() && alpha > 0.0);
        let params = plan.cell_params(c);
        assert_eq!(
            (params.lambda.to_bits(), params.alpha.to_bits()),
            (lambda.to_bits(), alpha.to_bits())
        );
        params.sampler.config().expect("validated");
    }
    if let Some(s) = plan.shard {
        assert!((1..=s.count).contains(&s.index));
    }
    let json = serde_json::to_string_pretty(&plan).expect("serialises");
    let back = SweepPlan::parse(&json, SWEEP).expect("a written sweep.json parses");
    assert_eq!(back, plan);
    Some(plan)
}

/// Several `sweep.json` separated by NUL bytes, merged.
fn merge(text: &str) {
    let plans: Vec<SweepPlan> = text.split('\0').take(8).filter_map(sweep).collect();
    if plans.is_empty() {
        return;
    }
    let names: Vec<String> = (0..plans.len())
        .map(|k| format!("fuzz/s{k}/sweep.json"))
        .collect();
    let Ok(order) = shard_order(&plans, &names) else {
        return;
    };
    let count = plans[0].shard.map_or(1, |s| s.count);
    assert_eq!(order.len(), count);
    let mut seen = vec![false; plans.len()];
    for (k, &p) in order.iter().enumerate() {
        assert!(!std::mem::replace(&mut seen[p], true), "a plan used twice");
        let shard = plans[p].shard.unwrap_or(Shard { index: 1, count: 1 });
        assert_eq!(shard.index, k + 1);
    }
    assert!(seen.iter().all(|&s| s), "every plan has its shard");
}

/// `cell.json` (read as a sweep resumes: any parse failure means "recompute the cell").
fn cell(text: &str) {
    let Ok(record) = serde_json::from_str::<CellRecord>(text) else {
        return;
    };
    let json = serde_json::to_string_pretty(&record).expect("serialises");
    let back: CellRecord = serde_json::from_str(&json).expect("a written cell.json parses");
    assert_eq!(
        serde_json::to_string_pretty(&back).expect("serialises"),
        json
    );
}

/// The records of a small run.
fn records() -> (SamplerRecord, WeightsRecord, FileRecord) {
    let normalization = NormalizationRecord::from(Normalization::default());
    let weights = WeightsRecord {
        path: "random:1".to_string(),
        sha256: "ab".repeat(32),
        architecture: "powerpost-unet-v1".to_string(),
        normalization,
    };
    let rtm = FileRecord {
        path: "/data/rtm.npy".to_string(),
        sha256: "cd".repeat(32),
    };
    (SamplerRecord::of(&default_sampler()), weights, rtm)
}

/// A `sweep.json` of a 2 × 2 grid, as shard `index` of `count` (`None`: unsharded).
fn plan(shard: Option<Shard>) -> SweepPlan {
    let (sampler, weights, rtm) = records();
    SweepPlan {
        kind: "sweep".to_string(),
        powerpost_version: "0.1.0".to_string(),
        lambdas: vec![ExactF32(0.0), ExactF32(1.0)],
        alphas: vec![ExactF32(0.5), ExactF32(1.0)],
        n: 2,
        seed: 0,
        height: 8,
        width: 16,
        sampler,
        weights,
        rtm,
        rtm_gain: None,
        background: None,
        truth: None,
        shots: None,
        shard,
        sample_residuals: false,
    }
}

/// Seeds (first byte: the reader): a posterior and a prior `sample.json`, a `sweep.json`,
/// a complete set of two shards, a set with a shard missing, and a `cell.json`.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let (sampler, weights, rtm) = records();
    let sidecar = |prior: bool| SampleSidecar {
        kind: "sample".to_string(),
        powerpost_version: "0.1.0".to_string(),
        lambda: if prior { 0.0 } else { 1.0 },
        alpha: 1.0,
        n: 4,
        first: 0,
        seed: 7,
        height: 64,
        width: 128,
        sampler: sampler.clone(),
        network_evaluations_per_sample: 16,
        normalization: weights.normalization,
        weights: weights.clone(),
        rtm: (!prior).then(|| rtm.clone()),
        rtm_gain: (!prior).then_some(ExactF32(0.5)),
        background: None,
        outputs: [("samples.npy".to_string(), "ef".repeat(32))].into(),
    };
    let with = |selector: u8, json: String| {
        let mut out = vec![selector];
        out.extend_from_slice(json.as_bytes());
        out
    };
    let shards = |count: usize, given: &[usize]| {
        let texts: Vec<String> = given
            .iter()
            .map(|&index| pretty(&plan(Some(Shard { index, count }))))
            .collect();
        with(2, texts.join("\0"))
    };
    let cell_json = {
        let p = plan(None);
        let record = serde_json::json!({
            "kind": "sweep-cell",
            "params": p.cell_params(1),
            "metric_inputs": {"truth_sha256": null, "shots_sha256": null, "preset": null},
            "metrics": {"mean_std": 0.25, "rmse": null, "ssim": null, "ssim_data_range": null,
                        "residual": null, "residual_error": "CFL \"limit\""},
            "outputs": {"mean.npy": "00".repeat(32)}
        });
        serde_json::to_string_pretty(&record).unwrap()
    };
    vec![
        (
            "sample_posterior.json".into(),
            with(0, pretty(&sidecar(false))),
        ),
        ("sample_prior.json".into(), with(0, pretty(&sidecar(true)))),
        ("sweep.json".into(), with(1, pretty(&plan(None)))),
        ("merge_complete.bin".into(), shards(2, &[2, 1])),
        ("merge_incomplete.bin".into(), shards(3, &[1, 3])),
        ("cell.json".into(), with(3, cell_json)),
    ]
}

/// Pretty JSON of a record.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("records serialise")
}
