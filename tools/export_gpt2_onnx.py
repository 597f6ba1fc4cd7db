"""Exports a GPT-2 (124M shape by default) with random weights to ONNX, for the ONNX Runtime Web peer in
bench/ (`npm run bench:browser` calls this when a file is missing). The model is written here in plain
PyTorch (no transformers), the same computation as src/models/gpt2.ts: pre-norm blocks, tanh GELU,
tied LM head. Weights: N(0, 0.02) like GPT-2's init (the timings do not depend on the values); the same
seed gives the same weights in every graph below.

Three graphs:

- default: input_ids int64 [1, T] (T dynamic, up to n_positions) -> logits of the last position only,
  [1, vocab]: what one generation step needs and what webgen's prefill computes. It has no KV cache, so
  a decode step through it recomputes the whole sequence (as a page using a plain export does).
- --with-past: the decoder with a KV cache, one token a call: input_ids int64 [1, 1] and, per layer i,
  past_key.i / past_value.i float32 [1, n_head, S, head_dim] (S dynamic, 0 for the first token) ->
  logits [1, vocab] and present_key.i / present_value.i [1, n_head, S + 1, head_dim]. A prompt is fed
  token by token (no prefill graph: the benchmark times decode steps only).
- --quantize SRC: no export; ONNX Runtime's own dynamic int8 quantization of the graph SRC
  (onnxruntime.quantization.quantize_dynamic, its defaults: int8 weights per tensor, activations
  quantized at run time: MatMul -> DynamicQuantizeLinear + MatMulInteger, Gather tables int8). The tied
  LM head is a MatMul on a transposed copy of the embedding table in every export here (PyTorch folds
  the transpose), so it is quantized like the other matmuls. Needs the onnx and onnxruntime Python packages (bench/out/pydeps is put on sys.path when it exists);
  then checks the int8 graph against SRC on a few decode steps with onnxruntime.

    /usr/bin/python3 tools/export_gpt2_onnx.py --out bench/out/gpt2-124m.onnx [--shape gpt2] [--opset 17]
    /usr/bin/python3 tools/export_gpt2_onnx.py --with-past --out bench/out/gpt2-124m-past.onnx
    /usr/bin/python3 tools/export_gpt2_onnx.py --quantize bench/out/gpt2-124m-past.onnx --out bench/out/gpt2-124m-past-int8.onnx

The files (~500 MB for 124M in f32, ~130 MB in int8) stay out of git (bench/out/ is ignored).
"""
import argparse
import math
import os
import sys

PYDEPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "out", "pydeps")
if "--quantize" in sys.argv and os.path.isdir(PYDEPS):
    sys.path.insert(0, PYDEPS)  # onnx, onnxruntime and their pure-Python deps, before torch loads the older ones

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SHAPES = {
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768),
    "gpt2-medium": dict(n_layer=24, n_head=16, n_embd=1024),
    "tiny": dict(n_layer=2, n_head=2, n_embd=64),
}


class Block(nn.Module):
    def __init__(self, C, nh):
        super().__init__()
        self.nh = nh
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x, past=None, mask=None):
        B, T, C = x.shape
        nh, hd = self.nh, C // self.nh
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)  # each [B, T, C]
        q = q.view(B, T, nh, hd).transpose(1, 2)  # [B, nh, T, hd]
        k = k.view(B, T, nh, hd).transpose(1, 2)
        v = v.view(B, T, nh, hd).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)  # [B, nh, S, hd]
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))  # [B, nh, T, S]
        if mask is not None:
            att = att.masked_fill(mask, float("-inf"))
        y = F.softmax(att, dim=-1) @ v  # [B, nh, T, hd]
        y = y.transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, present


class GPT2(nn.Module):
    """GPT-2 with an optional KV cache: forward(ids, past) -> (logits of the last position, present)."""

    def __init__(self, n_layer, n_head, n_embd, vocab=50257, n_positions=1024):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(n_positions, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd, eps=1e-5)
        self.register_buffer("causal", torch.ones(n_positions, n_positions, dtype=torch.bool).triu(1), persistent=False)
        self.lm_head = None  # None: the tied F.linear on wte; a benchmark may set a faster module with the same weight

    def init_random(self, seed=1):
        g = torch.Generator().manual_seed(seed)
        for name, p in self.named_parameters():
            with torch.no_grad():
                if name.endswith("bias"):
                    p.normal_(0, 0.02, generator=g)
                elif ".ln_" in name or name.startswith("ln_f"):
                    p.normal_(1, 0.05, generator=g)
                else:
                    p.normal_(0, 0.02, generator=g)
        return self

    def forward(self, ids, past=None):
        B, T = ids.shape
        p0 = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(p0, p0 + T, device=ids.device)
        x = self.wte(ids) + self.wpe(pos)  # [B, T, C]
        mask = self.causal[p0:p0 + T, :p0 + T] if T > 1 else None
        presents = []
        for i, block in enumerate(self.h):
            x, pr = block(x, None if past is None else past[i], mask)
            presents.append(pr)
        x = self.ln_f(x[:, -1, :])  # [B, C]: only the last position feeds the LM head
        logits = F.linear(x, self.wte.weight) if self.lm_head is None else self.lm_head(x)  # [B, vocab]: tied head
        return logits, presents


class LastLogits(nn.Module):
    """The export wrapper: no cache in, no cache out."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward(self, input_ids):
        return self.gpt(input_ids)[0]


class WithPast(nn.Module):
    """The decoder-with-past wrapper: (input_ids [1, 1], past_key.0, past_value.0, ...) -> (logits, present_key.0, ...)."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward(self, input_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, presents = self.gpt(input_ids, past)
        return (logits, *[t for kv in presents for t in kv])


def build(shape="gpt2", seed=1):
    return GPT2(**SHAPES[shape]).init_random(seed).eval()


def past_names(n_layer, prefix):
    return [f"{prefix}_{kv}.{i}" for i in range(n_layer) for kv in ("key", "value")]


def export(a):
    gpt = build(a.shape, a.seed)
    tmp = a.out + ".partial"
    with torch.no_grad():
        if not a.with_past:
            ids = torch.randint(0, 50257, (1, 8))
            torch.onnx.export(
                LastLogits(gpt), (ids,), tmp, opset_version=a.opset, input_names=["input_ids"], output_names=["logits"],
                dynamic_axes={"input_ids": {1: "T"}}, do_constant_folding=True,
            )
        else:
            L, nh, C = len(gpt.h), gpt.h[0].nh, gpt.wte.weight.shape[1]
            S = 8  # traced with a past of 8 positions; S is a dynamic axis of the graph
            ids = torch.randint(0, 50257, (1, 1))
            past = [torch.randn(1, nh, S, C // nh) for _ in range(2 * L)]
            ins, outs = past_names(L, "past"), past_names(L, "present")
            dyn = {n: {2: "S"} for n in ins}
            dyn.update({n: {2: "S1"} for n in outs})
            # the traced graph must equal the module: the cached step against the full forward
            ref_ids = torch.randint(0, 50257, (1, 5))
            full = gpt(ref_ids)[0]
            _, pres = gpt(ref_ids[:, :4])
            step = gpt(ref_ids[:, 4:], pres)[0]
            assert torch.allclose(full, step, atol=1e-4), f"cached step differs from the full forward: {(full - step).abs().max()}"
            torch.onnx.export(
                WithPast(gpt), (ids, *past), tmp, opset_version=a.opset, input_names=["input_ids", *ins],
                output_names=["logits", *outs], dynamic_axes=dyn, do_constant_folding=True,
            )
    os.replace(tmp, a.out)  # never leave a half-written file under the final name
    n = sum(p.numel() for p in gpt.parameters())
    what = "decoder with past (KV cache)" if a.with_past else "no cache"
    print(f"wrote {a.out}: {os.path.getsize(a.out) / 2**20:.0f} MiB, {n / 1e6:.1f}M parameters, {what}, opset {a.opset}")


def quantize(a):
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        print(
            f"export_gpt2_onnx.py --quantize: {e}: needs the onnx and onnxruntime Python packages, e.g.\n"
            f"  {sys.executable} -m pip install --no-deps --target bench/out/pydeps onnxruntime==1.30.0 onnx protobuf "
            "flatbuffers packaging ml_dtypes typing_extensions",
            file=sys.stderr,
        )
        sys.exit(3)
    tmp = a.out + ".partial"
    quantize_dynamic(a.quantize, tmp, weight_type=QuantType.QInt8)
    # the int8 graph against the f32 one: a few decode steps from an empty cache
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s32 = ort.InferenceSession(a.quantize, so, providers=["CPUExecutionProvider"])
    s8 = ort.InferenceSession(tmp, so, providers=["CPUExecutionProvider"])
    ins = [i for i in s32.get_inputs() if i.name != "input_ids"]
    rng = np.random.default_rng(1)
    feeds = {i.name: np.zeros([1, i.shape[1], 0, i.shape[3]], np.float32) for i in ins}
    agree, err, steps = 0, 0.0, 6
    for _ in range(steps):
        feeds["input_ids"] = rng.integers(0, 50257, (1, 1), dtype=np.int64)
        o32 = s32.run(None, feeds)
        o8 = s8.run(None, feeds)
        agree += int(o32[0].argmax() == o8[0].argmax())
        err = max(err, float(np.abs(o32[0] - o8[0]).max() / np.abs(o32[0]).max()))
        feeds.update({i.name: o32[k + 1] for k, i in enumerate(ins)})
    ops = {}
    for n in onnx.load(tmp, load_external_data=False).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    os.replace(tmp, a.out)
    print(
        f"wrote {a.out}: {os.path.getsize(a.out) / 2**20:.0f} MiB, onnxruntime {ort.__version__} quantize_dynamic (int8 weights, "
        f"per tensor) of {a.quantize}; ops: "
        + ", ".join(f"{k} {v}" for k, v in sorted(ops.items()) if k in ("MatMulInteger", "DynamicQuantizeLinear", "MatMul", "Gemm", "Gather", "DequantizeLinear"))
        + f"; against f32 over {steps} cached steps: same argmax {agree}/{steps}, max |logit diff| / max |logit| {err:.3f}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/out/gpt2-124m.onnx")
    ap.add_argument("--shape", default="gpt2", choices=sorted(SHAPES))
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--with-past", action="store_true", help="the decoder with a KV cache (one token a call)")
    ap.add_argument("--quantize", metavar="SRC", help="write ONNX Runtime's dynamic int8 quantization of SRC to --out")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    if a.quantize:
        quantize(a)
    else:
        export(a)


if __name__ == "__main__":
    main()
