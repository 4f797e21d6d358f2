#!/usr/bin/env python3
"""How accurate Winograd F(2x2,3x3) and F(4x4,3x3) are in float32, against the direct 3x3
convolution in float64: the question before moving the network's 3x3 convolutions from
F(2x2) (shipped since session 14) to F(4x4) (2.25x fewer products than F(2x2), 4x fewer
than direct).

Random inputs N(0,1) and weights N(0, 1/(9*C)) (He-like scale) for C input channels;
one output channel per trial, 64x64 output map. Transforms in float32 with the standard
Lavin-Gray matrices; products summed over channels in float32 in channel order. Prints the
relative L2 and max errors of the float32 direct convolution and both Winograd forms.
(numpy's float32 matrix products may use FMA and other orders than powerpost's kernels; the
magnitudes, not the bits, are the point.)

usage: bench/.venv/bin/python bench/winograd_accuracy.py
"""
import numpy as np

rng = np.random.default_rng(0)
F2 = dict(
    BT=np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float),
    G=np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], float),
    AT=np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float),
    m=2,
)
F4 = dict(
    BT=np.array(
        [
            [4, 0, -5, 0, 1, 0],
            [0, -4, -4, 1, 1, 0],
            [0, 4, -4, -1, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0],
            [0, 4, 0, -5, 0, 1],
        ],
        float,
    ),
    G=np.array(
        [
            [1 / 4, 0, 0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0, 0, 1],
        ],
        float,
    ),
    AT=np.array(
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
        float,
    ),
    m=4,
)


def direct(x, w, dtype):
    c, h, wd = x.shape[0], x.shape[1] - 2, x.shape[2] - 2
    x, w = x.astype(dtype), w.astype(dtype)
    y = np.zeros((h, wd), dtype)
    for i in range(c):
        for ky in range(3):
            for kx in range(3):
                y += w[i, ky, kx] * x[i, ky : ky + h, kx : kx + wd]
    return y


def winograd(x, w, f):
    m, n = f["m"], f["m"] + 2
    bt, g, at = (f[k].astype(np.float32) for k in ("BT", "G", "AT"))
    c, hp, wp = x.shape
    h, wd = hp - 2, wp - 2
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    u = np.einsum("ab,ibc,dc->iad", g, w32, g).astype(np.float32)  # C x n x n
    y = np.zeros((h, wd), np.float32)
    for ty in range(0, h, m):
        for tx in range(0, wd, m):
            d = x32[:, ty : ty + n, tx : tx + n]
            v = np.einsum("ab,ibc,dc->iad", bt, d, bt).astype(np.float32)
            acc = np.zeros((n, n), np.float32)
            for i in range(c):  # channel order, float32
                acc = acc + u[i] * v[i]
            y[ty : ty + m, tx : tx + m] = at @ acc @ at.T
    return y


print("| input channels | direct f32 rel L2 | F(2x2) f32 rel L2 | F(4x4) f32 rel L2 | direct max rel | F(2x2) max rel | F(4x4) max rel |")
print("|---|---|---|---|---|---|---|")
for c in (8, 32, 128):
    x = rng.standard_normal((c, 66, 66))
    w = rng.standard_normal((c, 3, 3)) / np.sqrt(9 * c)
    ref = direct(x, w, np.float64)
    norm, peak = np.linalg.norm(ref), np.abs(ref).max()
    errs = [direct(x, w, np.float32), winograd(x, w, F2), winograd(x, w, F4)]
    l2 = [np.linalg.norm(e - ref) / norm for e in errs]
    mx = [np.abs(e - ref).max() / peak for e in errs]
    print(f"| {c} | " + " | ".join(f"{v:.1e}" for v in l2 + mx) + " |")
