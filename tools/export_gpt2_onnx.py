"""Exports a GPT-2 (124M shape by default) with random weights to ONNX, for the ONNX Runtime Web peer in
bench/ (`npm run bench:browser` calls this when the file is missing). The model is written here in plain
PyTorch (no transformers), the same computation as src/models/gpt2.ts: pre-norm blocks, tanh GELU,
tied LM head. Weights: N(0, 0.02) like GPT-2's init (the timings do not depend on the values).

The graph takes input_ids int64 [1, T] (T dynamic, up to n_positions) and returns the logits of the
last position only, [1, vocab]: what one generation step needs and what webgen's prefill computes.
It has no KV cache, so a decode step through it recomputes the whole sequence (as a page using ONNX
Runtime Web with a plain export does).

    /usr/bin/python3 tools/export_gpt2_onnx.py --out bench/out/gpt2-124m.onnx [--shape gpt2] [--opset 17]

The file (~500 MB for 124M in f32) stays out of git (bench/out/ is ignored).
"""
import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

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


def build(shape="gpt2", seed=1):
    return GPT2(**SHAPES[shape]).init_random(seed).eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/out/gpt2-124m.onnx")
    ap.add_argument("--shape", default="gpt2", choices=sorted(SHAPES))
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    t0 = time.time()
    model = LastLogits(build(a.shape, a.seed))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    ids = torch.randint(0, 50257, (1, 8))
    tmp = a.out + ".partial"
    with torch.no_grad():
        torch.onnx.export(
            model, (ids,), tmp, opset_version=a.opset, input_names=["input_ids"], output_names=["logits"],
            dynamic_axes={"input_ids": {1: "T"}}, do_constant_folding=True,
        )
    os.replace(tmp, a.out)  # never leave a half-written file under the final name
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {a.out}: {os.path.getsize(a.out) / 2**20:.0f} MiB, {n / 1e6:.1f}M parameters, opset {a.opset}, {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
