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

Prints a markdown table per set of weights: the background's RMSE to the truth, the
posterior mean's RMSE and SSIM, its relative data residual, the mean posterior std and the
fraction of the true model inside the samples' range; with --rtm-only WEIGHTS (weights
conditioned on the RTM image alone, e.g. the superseded v3), also their posterior mean's
RMSE and SSIM given the same RTM image.

usage: bench/.venv/bin/python bench/background_sensitivity.py [--powerpost BIN]
    [--out DIR] [--weights W [W ...]] [--rtm-only WEIGHTS]
(defaults: target/release/powerpost, bench/out/background-sensitivity, the shipped
weights, none; run from the repository root).
"""
import argparse
import csv
import os
import subprocess

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--powerpost", default="target/release/powerpost")
ap.add_argument("--out", default="bench/out/background-sensitivity")
ap.add_argument("--weights", nargs="+", default=["weights/powerpost-edge.safetensors"])
ap.add_argument("--rtm-only", default=None)
args = ap.parse_args()
powerpost, out, rtm_only = args.powerpost, args.out, args.rtm_only
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

rows = {w: [] for w in args.weights}
for k, (name, bg) in enumerate(backgrounds.items()):
    bg_path, rtm_path = f"{out}/bg{k}.npy", f"{out}/rtm{k}.npy"
    np.save(bg_path, bg)
    if not os.path.exists(rtm_path):
        run(
            "migrate", "--shots", shots, "--background", bg_path,
            "--mute-model", f"{example}/velocity.npy", "--preset", "edge", "--out", rtm_path,
        )
    compared = ""
    if rtm_only:
        sweep = f"{out}/sweep{k}-rtm-only"
        run(
            "sweep", "--rtm", rtm_path, "--weights", rtm_only, "--lambda", "1", "--alpha", "1",
            "--n", "16", "--truth", f"{example}/velocity.npy", "--preset", "edge",
            "--out", sweep,
        )
        with open(f"{sweep}/sweep.csv") as f:
            other = next(csv.DictReader(f))
        compared = f" {float(other['rmse']):.3f} | {float(other['ssim']):.3f} |"
    bg_rmse = float(np.sqrt(np.mean((bg.astype(np.float64) - truth) ** 2)))
    for j, weights in enumerate(args.weights):
        sweep = f"{out}/sweep{k}-w{j}"
        run(
            "sweep", "--rtm", rtm_path, "--background", bg_path, "--weights", weights,
            "--lambda", "1", "--alpha", "1", "--n", "16", "--truth", f"{example}/velocity.npy",
            "--shots", shots, "--preset", "edge", "--out", sweep,
        )
        with open(f"{sweep}/sweep.csv") as f:
            row = next(csv.DictReader(f))
        samples = np.load(f"{sweep}/cells/l1_a1/samples.npy")
        inside = float(np.mean((samples.min(axis=0) <= truth) & (truth <= samples.max(axis=0))))
        residual = f"{float(row['residual']):.3f}" if row["residual"] else "– (not modelled)"
        rows[weights].append(
            f"| {name} | {bg_rmse:.3f} | {float(row['rmse']):.3f} | {float(row['ssim']):.3f} | "
            f"{residual} | {float(row['mean_std']):.3f} | {inside:.2f} |{compared}"
        )

extra = " RTM-only weights: RMSE (km/s) | SSIM |" if rtm_only else ""
for weights, lines in rows.items():
    print(f"\n{weights}\n")
    print("| background | its RMSE (km/s) | posterior mean RMSE (km/s) | SSIM | data residual | mean std (km/s) | truth inside the samples' range |" + extra)
    print("|---|---|---|---|---|---|---|" + ("---|---|" if rtm_only else ""))
    for line in lines:
        print(line)
