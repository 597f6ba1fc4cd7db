"""The native reference for bench/: GPT-2 (124M shape, random weights, f32) in PyTorch on the CPU, the same
model as tools/export_gpt2_onnx.py. Measures, after a warm-up, with a bounded number of repeats:
  prefill      one forward pass over 128 (and 512) prompt tokens that fills the KV cache
  decode       one cached step (one new token) at contexts 128 and 512
  recompute    one step without a cache at T=129 (what ONNX Runtime Web does with a plain export)
and prints one JSON object (milliseconds: median, min, max, samples) on stdout.

    /usr/bin/python3 tools/pytorch_decode_bench.py [--threads 2] [--quick] [--shape gpt2]
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.utils.mkldnn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_gpt2_onnx import build  # noqa: E402


def measure(fn, reps, budget_s):
    """Median over up to `reps` runs (at least 2), stopping early when the budget is spent."""
    fn()  # warm-up: oneDNN picks and caches its kernels on the first call of a shape
    samples = []
    t_end = time.perf_counter() + budget_s
    while len(samples) < reps and (len(samples) < 2 or time.perf_counter() < t_end):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples), "samples": samples}


class FastLinear(nn.Module):
    """y = x W^T + b, each shape on its fastest path here. Debian's PyTorch links the reference BLAS, so
    rows > 1 (prefill) go through oneDNN's inner product, as a tuned build would run them; one row (a
    decode step) is a GEMV on the transposed weight, since oneDNN reorders the weight on every call there."""

    def __init__(self, weight, bias=None):
        super().__init__()
        lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
        with torch.no_grad():
            lin.weight.copy_(weight)
            if bias is not None:
                lin.bias.copy_(bias)
        self.onednn = torch.utils.mkldnn.MkldnnLinear(lin, torch.float)
        self.wt = weight.detach().t().contiguous()  # [K, N]
        self.bias = None if bias is None else bias.detach().clone()

    def forward(self, x):
        K = self.wt.shape[0]
        if x.numel() // K > 1:
            return self.onednn(x)
        y = x.reshape(1, K) @ self.wt
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], -1)


def to_fast(model):
    for block in model.h:
        for name in ["c_attn", "c_proj", "c_fc", "mlp_proj"]:
            lin = getattr(block, name)
            setattr(block, name, FastLinear(lin.weight, lin.bias))
    model.lm_head = FastLinear(model.wte.weight)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--shape", default="gpt2")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no context 512")
    ap.add_argument("--linear", default="fast", choices=["fast", "default"], help="fast: oneDNN for prefill, GEMV for one row (see FastLinear)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = build(a.shape)
    if a.linear == "fast":
        model = to_fast(model)
    build_ms = (time.perf_counter() - t0) * 1000
    reps, budget = (3, 4.0) if a.quick else (7, 10.0)
    out = {
        "engine": "pytorch-cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "linear": a.linear,
        "cpu": platform.processor() or platform.machine(),
        "build_ms": build_ms,
        "figures": {},
    }
    contexts = [128] if a.quick else [128, 512]
    with torch.inference_mode():
        for ctx in contexts:
            ids = torch.randint(0, 50257, (1, ctx))
            out["figures"][f"prefill T={ctx}"] = measure(lambda: model(ids), reps, budget)
            _, past = model(ids)
            nxt = torch.randint(0, 50257, (1, 1))
            # the step reads the cache of `ctx` positions and appends one: what one generated token costs
            out["figures"][f"decode ctx={ctx}"] = measure(lambda: model(nxt, past), reps * 3, budget)
        ids = torch.randint(0, 50257, (1, 129))
        out["figures"]["recompute T=129"] = measure(lambda: model(ids), reps, budget)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
