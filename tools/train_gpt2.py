"""Trains the default GPT-2 (pretrained/gpt2-kjv) on the King James Bible from Debian's bible-kjv-text.

Corpus: `bible -f -l100000 Gen1:1-Rev22:21` (one verse per line, "Ge1:1 text"); the references are
dropped, each chapter becomes one document (verses joined by "\n"), and documents are separated by
<|endoftext|> in the token stream. Every 20th chapter (index % 20 == 19) is held out for validation.
Tokenizer: tools/bpe.py trained on the training chapters. Model: GPT-2 (pre-LN, learned positions,
gelu_new, tied head), HF GPT-2 tensor names and Conv1D [in, out] layout. Deterministic on CPU
(fixed seeds, fixed step count).

  nice -n 15 /usr/bin/python3 tools/train_gpt2.py --steps 3000 --out pretrained/gpt2-kjv
  /usr/bin/python3 tools/train_gpt2.py --bench      # tokens/s only
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

# Idle OpenMP threads sleep instead of spinning: on a shared, oversubscribed machine spinning made steps
# 5-10x slower. This changes only scheduling, not results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import safetensors_io  # noqa: E402


def kjv_chapters():
    out = subprocess.run(["bible", "-f", "-l100000", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    chapters, key = [], None
    for line in out.splitlines():
        m = re.match(r"^(\S+?)(\d+):(\d+) (.*)$", line)
        if not m:
            continue
        book, chap, _, text = m.groups()
        if (book, chap) != key:
            chapters.append([])
            key = (book, chap)
        chapters[-1].append(" ".join(text.split()))
    return ["\n".join(vs) for vs in chapters]


# ---------------------------------------------------------------- model (HF GPT-2 names and layout)
# Debian's torch links the reference BLAS (~3 GFLOP/s), but its oneDNN convolutions are fast, so the
# matrix products are written as convolutions (the math is unchanged: y = x @ W + b).
def linear(x, w_in_out, b=None):
    """x [..., in] @ w [in, out] (+ b) as a 1x1 convolution over [N, in, L]."""
    y = F.conv1d(x.reshape(-1, x.shape[-2], x.shape[-1]).transpose(1, 2), w_in_out.t().unsqueeze(-1), b)
    return y.transpose(1, 2).reshape(*x.shape[:-1], -1)


def bmm_nt(a, b):
    """a [G, M, K] @ b[G, N, K]^T -> [G, M, N] as a grouped 1x1 convolution."""
    G, M, K = a.shape
    N = b.shape[1]
    return F.conv1d(b.transpose(1, 2).reshape(1, G * K, N), a.reshape(G * M, K, 1), groups=G).view(G, M, N)


class Conv1D(nn.Module):
    """HF GPT-2's Conv1D: y = x @ W + b with W stored [in, out]."""

    def __init__(self, n_in, n_out, std=0.02):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * std)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return linear(x, self.weight, self.bias)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e, self.nh = cfg["n_embd"], cfg["n_head"]
        self.c_attn = Conv1D(e, 3 * e)
        self.c_proj = Conv1D(e, e, 0.02 / math.sqrt(2 * cfg["n_layer"]))

    def forward(self, x):
        B, T, E = x.shape
        q, k, v = self.c_attn(x).split(E, dim=2)
        hd = E // self.nh
        q, k, v = (t.reshape(B, T, self.nh, hd).transpose(1, 2).reshape(B * self.nh, T, hd) for t in (q, k, v))
        att = bmm_nt(q, k) / math.sqrt(hd)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = bmm_nt(att, v.transpose(1, 2))  # [B*nh, T, hd]
        return self.c_proj(y.view(B, self.nh, T, hd).transpose(1, 2).reshape(B, T, E))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e = cfg["n_embd"]
        self.c_fc = Conv1D(e, 4 * e)
        self.c_proj = Conv1D(4 * e, e, 0.02 / math.sqrt(2 * cfg["n_layer"]))

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # tanh GELU == gelu_new


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        e, eps = cfg["n_embd"], cfg["layer_norm_epsilon"]
        self.ln_1, self.attn = nn.LayerNorm(e, eps=eps), Attention(cfg)
        self.ln_2, self.mlp = nn.LayerNorm(e, eps=eps), MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.h:
            x = b(x)
        return linear(self.ln_f(x), self.wte.weight.t())  # tied head


def config(vocab_size, n_layer, n_head, n_embd, n_positions, eot):
    return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": vocab_size,
            "n_layer": n_layer, "n_head": n_head, "n_embd": n_embd, "n_positions": n_positions, "n_ctx": n_positions,
            "n_inner": None, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
            "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "initializer_range": 0.02,
            "bos_token_id": eot, "eos_token_id": eot, "tie_word_embeddings": True, "torch_dtype": "float16"}


@torch.no_grad()
def evaluate(model, val, T):
    """Mean nats/token over non-overlapping T-token windows of the validation stream."""
    model.eval()
    n = (len(val) - 1) // T
    x = val[: n * T].view(n, T)
    y = val[1: n * T + 1].view(n, T)
    tot = 0.0
    for i in range(0, n, 16):
        tot += F.cross_entropy(model(x[i:i + 16]).flatten(0, 1), y[i:i + 16].flatten(), reduction="sum").item()
    model.train()
    return tot / (n * T), n * T


@torch.no_grad()
def generate(model, ids, n, temperature=0.0, top_k=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.tensor([ids])
    for _ in range(n):
        logits = model(x[:, -model.wpe.weight.shape[0]:])[0, -1].double()
        if temperature == 0:
            nxt = int(logits.argmax())
        else:
            v, i = (logits / temperature).topk(top_k)
            nxt = int(i[torch.multinomial(v.softmax(-1), 1, generator=g)])
        x = torch.cat([x, torch.tensor([[nxt]])], 1)
    return x[0].tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="pretrained/gpt2-kjv")
    ap.add_argument("--tmp", default="/tmp/gpt2-kjv")
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=6)
    ap.add_argument("--n-embd", type=int, default=192)
    ap.add_argument("--n-positions", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1234)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.tmp, exist_ok=True)
    t0 = time.time()

    chapters = kjv_chapters()
    train_docs = [c for i, c in enumerate(chapters) if i % 20 != 19]
    val_docs = [c for i, c in enumerate(chapters) if i % 20 == 19]
    vocab, merges = bpe.train(train_docs, args.vocab_size)
    bpe.save(vocab, merges, args.out)
    enc = bpe.Encoder(args.out)
    eot = enc.eot
    assert eot == args.vocab_size - 1 == len(vocab) - 1

    def stream(docs):
        ids = []
        for d in docs:
            ids += enc.encode(d) + [eot]
        return torch.tensor(ids, dtype=torch.long)

    train, val = stream(train_docs), stream(val_docs)
    val_bytes = sum(len(d.encode()) for d in val_docs)
    print(f"chapters {len(chapters)} (train {len(train_docs)}, val {len(val_docs)}); tokens train {len(train)} "
          f"val {len(val)}; val bytes {val_bytes}; merges {len(merges)}; prep {time.time() - t0:.1f}s", flush=True)
    checks = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light: and there was light.",
              "And the LORD said unto Moses,", "Jesus wept.\nAmen.<|endoftext|>Hello, world! 1234 don't  x\n\n  y",
              "naïve café — 🙂 日本語", "   leading spaces and trailing   "]
    with open(os.path.join(args.out, "tokenizer-check.json"), "w") as f:
        json.dump([{"text": s, "ids": enc.encode(s)} for s in checks], f, ensure_ascii=False, indent=1)
    for c in checks:
        assert enc.decode(enc.encode(c)) == c

    cfg = config(len(vocab), args.n_layer, args.n_head, args.n_embd, args.n_positions, eot)
    model = GPT2(cfg)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"params {nparams}", flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    T, B = args.n_positions, args.batch
    g = torch.Generator().manual_seed(42)
    steps = 20 if args.bench else args.steps
    t_train = time.time()
    for step in range(steps):
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for grp in opt.param_groups:
            grp["lr"] = lr
        ix = torch.randint(len(train) - T - 1, (B,), generator=g)
        x = torch.stack([train[i:i + T] for i in ix])
        y = torch.stack([train[i + 1:i + T + 1] for i in ix])
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step == 4:
            t5 = time.time()
        if args.bench and step == steps - 1:
            print(f"tokens/s {(steps - 5) * B * T / (time.time() - t5):.0f}")
            return
        if step % 50 == 0:
            el = time.time() - t_train
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {el:.0f}s tok/s {(step + 1) * B * T / el:.0f}", flush=True)
        if (step + 1) % args.eval_every == 0 or step == steps - 1:
            vl, _ = evaluate(model, val, T)
            print(f"step {step + 1} val {vl:.4f} nats/token", flush=True)
    train_s = time.time() - t_train

    # ---- save: F32 copy in tmp, F16 in out
    model.eval()
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    safetensors_io.save(sd, os.path.join(args.tmp, "model-f32.safetensors"), {"format": "pt"})
    safetensors_io.save({k: v.half() for k, v in sd.items()}, os.path.join(args.out, "model.safetensors"), {"format": "pt"})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    # ---- evaluation and references from the stored F16 weights (upcast)
    w16, _ = safetensors_io.load(os.path.join(args.out, "model.safetensors"))
    m16 = GPT2(cfg)  # the stored F16 weights upcast to F32 (val loss, samples)
    m16.load_state_dict({k: v.float() for k, v in w16.items()})
    m64 = GPT2(cfg).double()  # the stored F16 weights upcast to F64 (reference)
    m64.load_state_dict({k: v.double() for k, v in w16.items()})
    m16.eval()
    m64.eval()
    vl32, ntok = evaluate(model, val, T)
    vl16, _ = evaluate(m16, val, T)
    tok_per_byte = len(val) / val_bytes  # includes the EOTs, a slight overestimate of cost per byte
    summary = {"params": nparams, "train_tokens": len(train), "val_tokens": len(val), "val_bytes": val_bytes,
               "tokens_seen": steps * B * T, "train_seconds": round(train_s), "total_seconds": round(time.time() - t0),
               "val_nats_per_token_f32": vl32, "val_nats_per_token_f16": vl16,
               "val_bits_per_byte_f16": vl16 * tok_per_byte / math.log(2), "val_tokens_scored": ntok}
    print(json.dumps(summary), flush=True)

    prompt = enc.encode("And God said")
    with torch.no_grad():
        logits = m64(torch.tensor([prompt]))[0]
    ids, margins = list(prompt), []
    with torch.no_grad():
        for _ in range(20):
            lg = m64(torch.tensor([ids]))[0, -1]
            top = lg.topk(2).values
            margins.append(float(top[0] - top[1]))
            ids.append(int(lg.argmax()))
    cont = ids[len(prompt):]
    safetensors_io.save({"prompt_ids": torch.tensor(prompt, dtype=torch.int32), "logits": logits.float(),
                         "greedy_continuation": torch.tensor(cont, dtype=torch.int32)},
                        os.path.join(args.out, "reference.safetensors"),
                        {"prompt": "And God said", "min_margin": f"{min(margins):.6f}",
                         "note": "float64 forward of the F16 weights upcast; greedy over 20 tokens"})
    print("reference greedy:", repr(enc.decode(cont)), "min_margin", min(margins), flush=True)

    samples = []
    for p, temp, seed in [("In the beginning", 0.0, 0), ("And the LORD said", 0.0, 0),
                          ("And the LORD said", 0.8, 1), ("Blessed are", 0.8, 2)]:
        out = generate(m16, enc.encode(p), 60, temp, 40, seed)
        samples.append({"prompt": p, "temperature": temp, "top_k": 40 if temp else None, "seed": seed, "text": enc.decode(out)})
        print(json.dumps(samples[-1]), flush=True)
    summary["samples"] = samples
    with open(os.path.join(args.tmp, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
