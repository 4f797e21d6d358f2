#!/usr/bin/env python3
"""ONNX Runtime peer of powerpost's score network.

Builds an ONNX graph of the EDM-preconditioned U-Net from ``weights.safetensors`` alone
(the block plan is re-derived here from the file's ``powerpost.architecture`` metadata,
following ``core/src/unet/plan.rs``), runs it with ONNX Runtime on the CPU (batch of 2:
item 0 conditional on y, item 1 unconditional with a zero condition and the learned null
embedding), compares with the core's outputs written by ``peers export`` and prints one
JSON line:

    {"peer":"onnxruntime","threads":N,"median_ms":…,"runs_ms":[…],
     "rel_l2_cond":…,"rel_l2_uncond":…,"version":"…"}

Ops: Conv (with bias), group norm as Reshape [B, G, C/G·H·W] → InstanceNormalization
(scale 1, bias 0, eps) → Reshape → per-channel Mul/Add, SiLU as x·Sigmoid(x), AveragePool
2×2, Resize nearest (asymmetric, floor: out(y, x) = in(y/2, x/2)), Concat, Gemm for the
linear layers, Cos/Sin for the Fourier features. The preconditioning is in the graph
(σ is an input).

Threads: SessionOptions.intra_op_num_threads = N, inter_op_num_threads = 1, sequential
execution, graph optimisation level ORT_ENABLE_ALL.

Usage: bench/.venv/bin/python bench/onnx_peer.py --dir bench/out --threads 1 --repeats 10
"""

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors import safe_open

ARCHITECTURE_KEY = "powerpost.architecture"
OPSET = 17


def parse_architecture(text):
    """Parses UNetConfig::describe() (core/src/unet/weights.rs)."""
    m = re.fullmatch(
        r"powerpost-unet-v1 in=(\d+) out=(\d+) base=(\d+) mult=([\d,]+) enc=(\d+) mid=(\d+) dec=(\d+) "
        r"emb=(\d+) fourier=(\d+) groups=(\d+)/(\d+) eps=(\S+) sigma_data=(\S+)",
        text,
    )
    if not m:
        sys.exit(f"weights: unrecognised architecture metadata {text!r}")
    g = m.groups()
    return dict(
        in_channels=int(g[0]), out_channels=int(g[1]), base=int(g[2]), mult=[int(v) for v in g[3].split(",")],
        enc=int(g[4]), mid=int(g[5]), dec=int(g[6]), emb=int(g[7]), fourier=int(g[8]),
        max_groups=int(g[9]), min_group_channels=int(g[10]), eps=float(g[11]), sigma_data=float(g[12]),
    )


def groups(cfg, channels):
    """min(max_groups, channels / min_group_channels), at least 1."""
    return min(max(channels // max(cfg["min_group_channels"], 1), 1), max(cfg["max_groups"], 1))


def plan(cfg):
    """The block plan of core/src/unet/plan.rs as a list of tuples."""
    levels = len(cfg["mult"])
    ch_of = lambda level: cfg["base"] * cfg["mult"][level]
    blocks = [("conv_in", cfg["base"])]
    ch = cfg["base"]
    skip = {}
    for level in range(levels):
        if level > 0:
            blocks.append(("down", level))
        for index in range(cfg["enc"]):
            out = ch_of(level)
            blocks.append(("res", f"enc.{level}.{index}.", level, ch, 0, out, index + 1 == cfg["enc"]))
            ch = out
        skip[level] = ch
    for index in range(cfg["mid"]):
        blocks.append(("res", f"mid.{index}.", levels - 1, ch, 0, ch, False))
    for level in reversed(range(levels)):
        for index in range(cfg["dec"]):
            out = ch_of(level)
            blocks.append(("res", f"dec.{level}.{index}.", level, ch, skip[level] if index == 0 else 0, out, False))
            ch = out
        if level > 0:
            blocks.append(("up", level))
    blocks.append(("out", ch))
    return blocks


class Builder:
    """Accumulates nodes and initialisers with unique names."""

    def __init__(self, weights):
        self.weights = weights
        self.used = set()
        self.nodes = []
        self.inits = []
        self.count = 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint="c"):
        n = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), n))
        return n

    def const_i64(self, value, hint="shape"):
        n = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.int64), n))
        return n

    def weight(self, name, shape=None):
        if name not in self.weights:
            sys.exit(f"weights: missing tensor {name}")
        self.used.add(name)
        w = self.weights[name].astype(np.float32)
        if shape is not None:
            w = w.reshape(shape)
        return self.const(w, name.replace(".", "_"))

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def silu(self, x):
        return self.op("Mul", [x, self.op("Sigmoid", [x])], "silu")

    def linear(self, x, prefix):
        return self.op("Gemm", [x, self.weight(prefix + "weight"), self.weight(prefix + "bias")], "linear", transB=1)

    def conv(self, x, prefix):
        w = self.weights[prefix + "weight"]
        k = w.shape[2]
        r = k // 2
        return self.op("Conv", [x, self.weight(prefix + "weight"), self.weight(prefix + "bias")], "conv",
                       kernel_shape=[k, k], pads=[r, r, r, r])

    def norm_silu(self, x, prefix, channels, cfg):
        g = groups(cfg, channels)
        shape = self.op("Shape", [x], "shape")
        grouped = self.op("Reshape", [x, self.const_i64([0, g, -1])], "grouped")
        normed = self.op("InstanceNormalization", [grouped, self.const(np.ones(g)), self.const(np.zeros(g))],
                         "inorm", epsilon=cfg["eps"])
        back = self.op("Reshape", [normed, shape], "ungrouped")
        scaled = self.op("Mul", [back, self.weight(prefix + "weight", (1, channels, 1, 1))])
        shifted = self.op("Add", [scaled, self.weight(prefix + "bias", (1, channels, 1, 1))])
        return self.silu(shifted)


def build_model(weights, cfg, frequencies):
    b = Builder(weights)
    sd = cfg["sigma_data"]
    # Preconditioning from σ (input of shape [1]).
    sigma = "sigma"
    total = b.op("Add", [b.op("Mul", [sigma, sigma]), b.const([sd * sd])], "total")
    root = b.op("Sqrt", [total], "root")
    c_skip = b.op("Div", [b.const([sd * sd]), total], "c_skip")
    c_out = b.op("Div", [b.op("Mul", [sigma, b.const([sd])]), root], "c_out")
    c_in = b.op("Div", [b.const([1.0]), root], "c_in")
    c_noise = b.op("Mul", [b.op("Log", [sigma]), b.const([0.25])], "c_noise")
    # Noise embedding.
    angles = b.op("Mul", [b.op("Reshape", [c_noise, b.const_i64([1, 1])]), b.const(frequencies.reshape(1, -1))], "angles")
    features = b.op("Concat", [b.op("Cos", [angles]), b.op("Sin", [angles])], "features", axis=1)
    hidden = b.silu(b.linear(features, "emb.fc0."))
    e = b.linear(hidden, "emb.fc1.")
    e_null = b.op("Add", [e, b.weight("emb.null", (1, -1))], "e_null")
    emb = b.silu(b.op("Concat", [e, e_null], "emb", axis=0))  # [2, E]
    # Input batch.
    xin = b.op("Mul", ["x", c_in], "xin")
    zeros = b.op("Mul", ["y", b.const([0.0])], "zeros")
    cond = b.op("Concat", [xin, "y"], "cond", axis=1)
    uncond = b.op("Concat", [xin, zeros], "uncond", axis=1)
    cur = b.op("Concat", [cond, uncond], "batch", axis=0)
    skips = {}
    out = None
    for block in plan(cfg):
        kind = block[0]
        if kind == "conv_in":
            cur = b.conv(cur, "conv_in.")
        elif kind == "res":
            _, p, level, cin, cskip, cout, saves = block
            xcat = b.op("Concat", [cur, skips[level]], "xcat", axis=1) if cskip else cur
            total_in = cin + cskip
            t = b.norm_silu(xcat, p + "norm0.", total_in, cfg)
            proj = b.op("Reshape", [b.linear(emb, p + "emb."), b.const_i64([2, cout, 1, 1])], "proj")
            u = b.op("Add", [b.conv(t, p + "conv0."), proj], "u")
            t = b.norm_silu(u, p + "norm1.", cout, cfg)
            s = b.conv(xcat, p + "skip.") if total_in != cout else xcat
            o = b.op("Mul", [b.op("Add", [b.conv(t, p + "conv1."), s]), b.const([np.float32(np.sqrt(0.5))])], "res")
            if saves:
                skips[level] = o
            cur = o
        elif kind == "down":
            cur = b.op("AveragePool", [cur], "down", kernel_shape=[2, 2], strides=[2, 2])
        elif kind == "up":
            cur = b.op("Resize", [cur, "", b.const([1.0, 1.0, 2.0, 2.0])], "up", mode="nearest",
                       coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        elif kind == "out":
            t = b.norm_silu(cur, "out.norm.", block[1], cfg)
            out = b.conv(t, "out.conv.")
    denoised = b.op("Add", [b.op("Mul", ["x", c_skip]), b.op("Mul", [out, c_out])], "denoised")
    b.nodes.append(helper.make_node("Identity", [denoised], ["denoised"]))
    unused = sorted(set(weights) - b.used)
    if unused:
        sys.exit(f"weights: tensors not used by the plan: {unused[:5]}")
    graph = helper.make_graph(
        b.nodes, "powerpost_unet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "H", "W"]),
         helper.make_tensor_value_info("sigma", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("denoised", TensorProto.FLOAT, [2, 1, "H", "W"])],
        initializer=b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="powerpost-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def rel_l2(a, b):
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="bench/out", type=Path)
    ap.add_argument("--threads", default=1, type=int)
    ap.add_argument("--repeats", default=10, type=int)
    ap.add_argument("--save", type=Path, help="also write the ONNX model here")
    args = ap.parse_args()

    path = args.dir / "weights.safetensors"
    with safe_open(str(path), "np") as f:
        meta = f.metadata() or {}
        weights = {k: f.get_tensor(k) for k in f.keys()}
    if ARCHITECTURE_KEY not in meta:
        sys.exit(f"{path}: no {ARCHITECTURE_KEY} metadata")
    cfg = parse_architecture(meta[ARCHITECTURE_KEY])
    for k, v in weights.items():
        if v.dtype != np.float16:
            sys.exit(f"{path}: tensor {k} is {v.dtype}, expected float16")
    frequencies = (2.0 ** (np.arange(cfg["fourier"] // 2) / 4.0)).astype(np.float32)
    model = build_model(weights, cfg, frequencies)
    if args.save:
        onnx.save(model, str(args.save))

    x = np.load(args.dir / "x.npy").astype(np.float32)
    y = np.load(args.dir / "y.npy").astype(np.float32)
    sigma = float((args.dir / "sigma.txt").read_text().strip())
    core_cond = np.load(args.dir / "core_cond.npy")
    core_uncond = np.load(args.dir / "core_uncond.npy")
    h, w = x.shape
    feeds = {"x": x.reshape(1, 1, h, w), "y": y.reshape(1, 1, h, w), "sigma": np.array([sigma], dtype=np.float32)}

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

    out = sess.run(None, feeds)[0]  # warm-up
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        out = sess.run(None, feeds)[0]
        runs.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({
        "peer": "onnxruntime",
        "threads": args.threads,
        "median_ms": statistics.median(runs),
        "runs_ms": runs,
        "rel_l2_cond": rel_l2(out[0, 0], core_cond),
        "rel_l2_uncond": rel_l2(out[1, 0], core_uncond),
        "version": ort.__version__,
    }))


if __name__ == "__main__":
    main()
