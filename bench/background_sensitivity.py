#!/usr/bin/env python3
"""How the background-conditioned weights respond to a wrong background model.

The shipped weights are conditioned on the RTM image *and* the background model it was
migrated in. In training that background is always the true model smoothed with sigma = 10
cells; in the field it is the migration velocity, which is wrong by some amount. This
script measures what that costs on the shipped example pair (examples/edge-2016):

1. observed shots from the true model (`powerpost simulate`, edge preset, 10 dB noise);
2. for each background (the training kind, 5 % too slow, 5 % too fast, smoothed twice as
   much, laterally invariant), the RTM image of those shots migrated in it
   (`powerpost migrate`), as a user would have it, muted by the true water layer as the
   training images were (`--mute-model`: a user knows the seabed);
3. 16 posterior samples (lambda = alpha = 1) given that RTM image and background
   (`powerpost sweep --lambda 1 --alpha 1 --n 16`, which scores the posterior mean
   against the true model and forward-models it against the observed shots).

Prints a markdown table: the background's RMSE to the truth, the posterior mean's RMSE
and SSIM, its relative data residual, and the mean posterior std; with RTM_ONLY_WEIGHTS
(weights conditioned on the RTM image alone, e.g. the superseded v3), also their
posterior mean's RMSE and SSIM given the same RTM image.

usage: bench/.venv/bin/python bench/background_sensitivity.py [POWERPOST] [OUT_DIR]
    [RTM_ONLY_WEIGHTS]
(defaults: target/release/powerpost, bench/out/background-sensitivity, none; run from the
repository root).
"""
import csv
import os
import subprocess
import sys

import numpy as np

powerpost = sys.argv[1] if len(sys.argv) > 1 else "target/release/powerpost"
out = sys.argv[2] if len(sys.argv) > 2 else "bench/out/background-sensitivity"
rtm_only = sys.argv[3] if len(sys.argv) > 3 else None
example = "examples/edge-2016"
os.makedirs(out, exist_ok=True)


def run(*args, quiet=True):
    subprocess.run([powerpost, *args, *(["-q"] if quiet else [])], check=True)


truth = np.load(f"{example}/velocity.npy")
reference = np.load(f"{example}/background.npy")  # the truth smoothed with sigma = 10
shots = f"{out}/shots.npy"
if not os.path.exists(shots):
    run("simulate", "--model", f"{example}/velocity.npy", "--preset", "edge", "--out", shots)
smooth20 = f"{out}/bg-sigma20.npy"
if not os.path.exists(smooth20):
    run("smooth", "--model", f"{example}/velocity.npy", "--sigma", "20", "--out", smooth20, quiet=False)

backgrounds = {
    "truth smoothed, sigma = 10 (as in training)": reference,
    "5 % too slow": (reference * np.float32(0.95)).astype(np.float32),
    "5 % too fast": (reference * np.float32(1.05)).astype(np.float32),
    "smoothed with sigma = 20": np.load(smooth20),
    "laterally invariant (row means)": np.repeat(
        reference.mean(axis=1, keepdims=True), reference.shape[1], axis=1
    ).astype(np.float32),
}

extra = " RTM-only weights: RMSE (km/s) | SSIM |" if rtm_only else ""
print("| background | its RMSE (km/s) | posterior mean RMSE (km/s) | SSIM | data residual | mean std (km/s) |" + extra)
print("|---|---|---|---|---|---|" + ("---|---|" if rtm_only else ""))
for k, (name, bg) in enumerate(backgrounds.items()):
    bg_path, rtm_path, sweep = f"{out}/bg{k}.npy", f"{out}/rtm{k}.npy", f"{out}/sweep{k}"
    np.save(bg_path, bg)
    run(
        "migrate", "--shots", shots, "--background", bg_path,
        "--mute-model", f"{example}/velocity.npy", "--preset", "edge", "--out", rtm_path,
    )
    run(
        "sweep", "--rtm", rtm_path, "--background", bg_path, "--lambda", "1", "--alpha", "1",
        "--n", "16", "--truth", f"{example}/velocity.npy", "--shots", shots,
        "--preset", "edge", "--out", sweep,
    )
    with open(f"{sweep}/sweep.csv") as f:
        row = next(csv.DictReader(f))
    compared = ""
    if rtm_only:
        run(
            "sweep", "--rtm", rtm_path, "--weights", rtm_only, "--lambda", "1", "--alpha", "1",
            "--n", "16", "--truth", f"{example}/velocity.npy", "--preset", "edge",
            "--out", f"{sweep}-rtm-only",
        )
        with open(f"{sweep}-rtm-only/sweep.csv") as f:
            other = next(csv.DictReader(f))
        compared = f" {float(other['rmse']):.3f} | {float(other['ssim']):.3f} |"
    bg_rmse = float(np.sqrt(np.mean((bg.astype(np.float64) - truth) ** 2)))
    residual = f"{float(row['residual']):.3f}" if row["residual"] else "– (not modelled)"
    print(
        f"| {name} | {bg_rmse:.3f} | {float(row['rmse']):.3f} | {float(row['ssim']):.3f} | "
        f"{residual} | {float(row['mean_std']):.3f} |{compared}"
    )
