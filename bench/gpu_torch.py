"""The PyTorch CUDA peer of bench/gpu.sh: GPT-2 124M shape, random weights, Hugging Face transformers with
eager attention (or, without transformers, the plain GPT-2 of tools/export_gpt2_onnx.py), f32 and f16:
prefill of 128 tokens and decode steps with the KV cache at contexts 128 and 512, timed with CUDA events
after a warm-up. Prints one JSON object.

    python3 bench/gpu_torch.py [--quick]
"""
import json
import os
import statistics
import sys
import time

import torch


def timed(fn, reps):
    fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) * 1000)
    return {"median": statistics.median(out), "min": min(out), "max": max(out), "n": len(out), "samples": out}


def main():
    quick = "--quick" in sys.argv
    reps = 5 if quick else 20
    assert torch.cuda.is_available(), "no CUDA device"
    res = {"engine": "pytorch-cuda", "torch": torch.__version__, "device": torch.cuda.get_device_name(0), "figures": {}}
    try:
        from transformers import GPT2Config, GPT2LMHeadModel

        def make(dtype):
            cfg = GPT2Config()
            try:
                m = GPT2LMHeadModel(cfg, attn_implementation="eager")
            except TypeError:
                cfg._attn_implementation = "eager"
                m = GPT2LMHeadModel(cfg)
            return m.to("cuda", dtype).eval()

        def prefill(m, ids):
            o = m(ids, use_cache=True)
            return o.logits[:, -1], o.past_key_values

        def step(m, tok, past):
            o = m(tok, past_key_values=past, use_cache=True)
            return o.logits[:, -1], o.past_key_values

        res["model"] = "transformers GPT2LMHeadModel (eager attention)"
    except ImportError:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
        from export_gpt2_onnx import build

        def make(dtype):
            return build("gpt2").to("cuda", dtype).eval()

        def prefill(m, ids):
            return m(ids)

        def step(m, tok, past):
            return m(tok, past)

        res["model"] = "tools/export_gpt2_onnx.py GPT-2 (transformers not installed)"
    with torch.inference_mode():
        for dtype, name in [(torch.float32, "f32"), (torch.float16, "f16")]:
            m = make(dtype)
            ids = torch.randint(0, 50257, (1, 128), device="cuda")
            res["figures"][f"prefill T=128 {name}"] = timed(lambda: prefill(m, ids), reps)
            for ctx in [128, 512]:
                ids = torch.randint(0, 50257, (1, ctx), device="cuda")
                _, past = prefill(m, ids)
                tok = torch.randint(0, 50257, (1, 1), device="cuda")
                # transformers' DynamicCache grows by one position per call: the steps see ctx .. ctx + reps positions
                res["figures"][f"decode step ctx={ctx} {name}"] = timed(lambda: step(m, tok, past), reps * 2)
            del m
            torch.cuda.empty_cache()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
