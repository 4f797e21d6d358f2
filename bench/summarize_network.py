#!/usr/bin/env python3
"""Prints bench/out/network.jsonl (written by bench/network.sh) as a markdown table:
median ms per CFG pair (batch 2) for powerpost, candle and ONNX Runtime per thread count,
achieved GFLOP/s, the ratios powerpost/peer (< 1 means powerpost is faster), and the
machine's measured peak."""
import json
import sys

GFLOP_PER_PAIR = 7.578  # 2 × 3.789 GFLOP of convolutions (powerpost info)

rows = [json.loads(line) for line in open(sys.argv[1] if len(sys.argv) > 1 else "bench/out/network.jsonl") if line.strip()]
by = {}
for r in rows:
    by.setdefault(r["threads"], {})[r["peer"]] = r
print("| threads | powerpost ms | candle ms | ONNX Runtime ms | powerpost GFLOP/s | ORT GFLOP/s | powerpost/candle | powerpost/ORT | peak mul+add GFLOP/s | peak FMA GFLOP/s | rel L2 candle | rel L2 ORT |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for t in sorted(by):
    d = by[t]
    pp, ca, ox, pk = d.get("powerpost"), d.get("candle"), d.get("onnxruntime"), d.get("peak")
    def ms(r):
        return f"{r['median_ms']:.1f}" if r else "–"
    def gf(r):
        return f"{GFLOP_PER_PAIR / (r['median_ms'] * 1e-3):.0f}" if r else "–"
    def ratio(a, b):
        return f"{a['median_ms'] / b['median_ms']:.2f}" if a and b else "–"
    def l2(r):
        return f"{max(r.get('rel_l2_cond', 0), r.get('rel_l2_uncond', 0)):.1e}" if r else "–"
    print(f"| {t} | {ms(pp)} | {ms(ca)} | {ms(ox)} | {gf(pp)} | {gf(ox)} | {ratio(pp, ca)} | {ratio(pp, ox)} | "
          f"{pk['peak_mul_add_gflops']:.0f} | {pk['peak_fma_gflops']:.0f} | {l2(ca)} | {l2(ox)} |" if pk else
          f"| {t} | {ms(pp)} | {ms(ca)} | {ms(ox)} | {gf(pp)} | {gf(ox)} | {ratio(pp, ca)} | {ratio(pp, ox)} | – | – | {l2(ca)} | {l2(ox)} |")
