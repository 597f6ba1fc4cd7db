#!/usr/bin/python3
"""Writes the small GPT-2 reference fixtures under test/fixtures/gpt2/.

Run with Debian's PyTorch:  /usr/bin/python3 tools/make_gpt2_fixtures.py  [--check]

Every fixture is a folder in the Hugging Face layout (config.json + model*.safetensors) plus a
golden.safetensors computed here in float64 by an independent reimplementation of HF GPT2LMHeadModel,
from the weights exactly as stored (F16/BF16 variants are evaluated from their rounded values).
--check only verifies the float64 model against /work/shared/golden/gpt2-tiny and writes nothing.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "gpt2")
REFERENCE = "/work/shared/golden/gpt2-tiny"
VARIANTS = {"f32": ("model.safetensors", torch.float32),
            "f16": ("model-f16.safetensors", torch.float16),
            "bf16": ("model-bf16.safetensors", torch.bfloat16)}
GREEDY_PROMPT_LEN, GREEDY_STEPS = 5, 12
MIN_MARGIN = 0.05      # retry prompts until every variant's greedy path keeps at least this top-1/top-2 gap
MIN_DISTINCT = 6       # ... and produces at least this many distinct tokens (no degenerate repeats)

FIXTURES = [
    # name, seed, config, variants, prefix, untied head, mask buffers
    dict(name="base", seed=1001, variants=["f32", "f16", "bf16"], prefix="", untied=False, buffers=False,
         config=dict(n_layer=2, n_head=4, n_embd=64, n_positions=64, vocab_size=300,
                     activation_function="gelu_new", layer_norm_epsilon=1e-5)),
    dict(name="odd", seed=2002, variants=["f32", "f16", "bf16"], prefix="transformer.", untied=True, buffers=True,
         config=dict(n_layer=3, n_head=6, n_embd=90, n_positions=40, vocab_size=389,
                     activation_function="gelu", layer_norm_epsilon=1e-5)),
    dict(name="relu", seed=3003, variants=["f32"], prefix="", untied=False, buffers=False,
         config=dict(n_layer=1, n_head=2, n_embd=32, n_positions=16, vocab_size=50,
                     activation_function="relu", layer_norm_epsilon=1e-5)),
    dict(name="tanh", seed=4004, variants=["f32"], prefix="", untied=False, buffers=False,
         config=dict(n_layer=1, n_head=2, n_embd=32, n_positions=16, vocab_size=50,
                     activation_function="gelu_pytorch_tanh", layer_norm_epsilon=1e-5)),
]


# ----------------------------------------------------------------------------- float64 GPT-2

def act(x, name):
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "relu":
        return torch.clamp(x, min=0.0)
    raise ValueError(f"unknown activation_function {name}")


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mean) / torch.sqrt(var + eps) * w + b


def normalize(tensors):
    """HF checkpoint dict -> float64 dict with plain names; drops the attention mask buffers."""
    out = {}
    for name, t in tensors.items():
        if name.startswith("transformer."):
            name = name[len("transformer."):]
        if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
            continue
        out[name] = t.to(torch.float64)
    return out


def forward(w, cfg, ids):
    """Returns (logits [T, vocab], [residual stream after embeddings, after block 1, ...]) in float64."""
    T, C, H = len(ids), cfg["n_embd"], cfg["n_head"]
    D, eps, fn = C // H, cfg["layer_norm_epsilon"], cfg["activation_function"]
    assert T <= cfg["n_positions"]
    x = w["wte.weight"][ids] + w["wpe.weight"][:T]
    hidden = [x]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(cfg["n_layer"]):
        p = lambda n: w[f"h.{i}.{n}"]  # noqa: E731
        h = layer_norm(x, p("ln_1.weight"), p("ln_1.bias"), eps)
        q, k, v = (h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")).split(C, dim=-1)
        q, k, v = (t.view(T, H, D).transpose(0, 1) for t in (q, k, v))   # [H, T, D]
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~causal, float("-inf")).softmax(-1)
        a = (s @ v).transpose(0, 1).reshape(T, C)
        x = x + a @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = layer_norm(x, p("ln_2.weight"), p("ln_2.bias"), eps)
        m = act(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"), fn)
        x = x + m @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
        hidden.append(x)
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    head = w["lm_head.weight"] if "lm_head.weight" in w else w["wte.weight"]
    return x @ head.T, hidden


def greedy(w, cfg, prompt, steps):
    """Greedy decoding with a full recompute per step; returns (tokens, smallest top1-top2 gap)."""
    seq, out, margin = list(prompt), [], float("inf")
    for _ in range(steps):
        if len(seq) > cfg["n_positions"]:
            break
        logits = forward(w, cfg, torch.tensor(seq))[0][-1]
        top = torch.topk(logits, 2).values
        margin = min(margin, (top[0] - top[1]).item())
        tok = int(torch.argmax(logits))
        seq.append(tok)
        out.append(tok)
    return out, margin


# ----------------------------------------------------------------------------- reference check

def check_reference():
    """Compares the float64 model with the independent golden in /work/shared/golden/gpt2-tiny."""
    cfg = json.load(open(os.path.join(REFERENCE, "config.json")))
    w = normalize(safetensors_io.load(os.path.join(REFERENCE, "model.safetensors"))[0])
    g, meta = safetensors_io.load(os.path.join(REFERENCE, "golden.safetensors"))
    worst_rel, worst_f32_ulps = 0.0, 0
    for T in json.loads(meta["lengths"]):
        logits, hidden = forward(w, cfg, g[f"ids_{T}"].long())
        pairs = [(logits, g[f"logits_{T}"])] + [(h, g[f"hidden_{T}_{L}"]) for L, h in enumerate(hidden)]
        for ours, ref in pairs:
            err = (ours - ref.double()).abs().max().item()
            worst_rel = max(worst_rel, err / ref.double().abs().max().item())
            # after rounding our float64 result to float32 the stored float32 values should reappear
            diff = (ours.float().view(torch.int32) - ref.view(torch.int32)).abs().max().item()
            worst_f32_ulps = max(worst_f32_ulps, diff)
        print(f"  T={T:4d}  max|logits - golden| = {(logits - g[f'logits_{T}'].double()).abs().max():.3e}")
    cont, margin = greedy(w, cfg, g["greedy_prompt"].tolist(), len(g["greedy_continuation"]))
    assert cont == g["greedy_continuation"].tolist(), (cont, g["greedy_continuation"].tolist())
    print(f"  worst error / max|ref| = {worst_rel:.3e}; float64->float32 rounding differs from the stored "
          f"float32 by at most {worst_f32_ulps} ulp; greedy continuation equal (min margin {margin:.4f}, "
          f"reference says {meta.get('greedy_min_margin')})")
    assert worst_rel < 1e-6 and worst_f32_ulps <= 1
    return worst_rel, worst_f32_ulps


# ----------------------------------------------------------------------------- fixture generation

def make_weights(cfg, gen, untied):
    """Random weights in HF names (plain), float32. Scales chosen so that every parameter matters:
    logits O(1-10), non-uniform attention, blocks that move the residual stream as much as the embeddings."""
    C, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    normal = lambda shape, std: torch.randn(shape, generator=gen, dtype=torch.float64) * std  # noqa: E731
    w = {"wte.weight": normal((V, C), 0.3), "wpe.weight": normal((P, C), 0.2)}
    for i in range(cfg["n_layer"]):
        for ln in ("ln_1", "ln_2"):
            w[f"h.{i}.{ln}.weight"] = 1.0 + normal((C,), 0.1)
            w[f"h.{i}.{ln}.bias"] = normal((C,), 0.05)
        for name, fan_in, fan_out, gain in (("attn.c_attn", C, 3 * C, 1.5), ("attn.c_proj", C, C, 1.5),
                                            ("mlp.c_fc", C, 4 * C, 3.0), ("mlp.c_proj", 4 * C, C, 2.0)):
            w[f"h.{i}.{name}.weight"] = normal((fan_in, fan_out), gain / math.sqrt(fan_in))
            w[f"h.{i}.{name}.bias"] = normal((fan_out,), 0.05)
    w["ln_f.weight"] = 1.0 + normal((C,), 0.1)
    w["ln_f.bias"] = normal((C,), 0.05)
    if untied:
        w["lm_head.weight"] = normal((V, C), 0.5)
    return {k: v.float() for k, v in w.items()}


def checkpoint(w, cfg, fx, dtype):
    """The tensors of one stored file: dtype-cast weights with the fixture's naming and extra buffers."""
    out = {}
    for name, t in w.items():
        full = name if name == "lm_head.weight" else fx["prefix"] + name  # HF keeps lm_head unprefixed
        out[full] = t.to(dtype)
        if fx["buffers"] and name.endswith(".ln_1.bias"):  # HF order: ln_1, then the mask buffers
            i = name.split(".")[1]
            P = cfg["n_positions"]
            mask = torch.ones(P, P).tril().view(1, 1, P, P)
            # old HF checkpoints store the mask as float, newer as bool: one of each across the variants
            out[f"{fx['prefix']}h.{i}.attn.bias"] = mask.bool() if dtype == torch.bfloat16 else mask.to(dtype)
            out[f"{fx['prefix']}h.{i}.attn.masked_bias"] = torch.tensor(-1e4, dtype=dtype)
    return out


def hf_config(cfg, untied):
    V = cfg["vocab_size"]
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "n_layer": cfg["n_layer"], "n_head": cfg["n_head"], "n_embd": cfg["n_embd"],
            "n_positions": cfg["n_positions"], "n_ctx": cfg["n_positions"], "vocab_size": V,
            "layer_norm_epsilon": cfg["layer_norm_epsilon"], "activation_function": cfg["activation_function"],
            "bos_token_id": V - 1, "eos_token_id": V - 1, "tie_word_embeddings": not untied,
            "torch_dtype": "float32"}


def make_fixture(fx):
    cfg, name = fx["config"], fx["name"]
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    gen = torch.Generator().manual_seed(fx["seed"])
    w32 = make_weights(cfg, gen, fx["untied"])
    P, V = cfg["n_positions"], cfg["vocab_size"]
    lengths = sorted({T for T in (1, 3, 17, P) if T <= P})
    hidden_T = max(T for T in lengths if T <= 17)   # 17, or n_positions when the context is shorter

    files, models = {}, {}
    for v in fx["variants"]:
        fname, dtype = VARIANTS[v]
        files[v] = checkpoint(w32, cfg, fx, dtype)
        safetensors_io.save(files[v], os.path.join(folder, fname), {"format": "pt"})
        models[v] = normalize(safetensors_io.load(os.path.join(folder, fname))[0])  # exactly as stored
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(hf_config(cfg, fx["untied"]), f, indent=2)
        f.write("\n")

    golden = {}
    for T in lengths:
        golden[f"ids_{T}"] = torch.randint(0, V, (T,), generator=gen, dtype=torch.int32)
        for v in fx["variants"]:
            logits, hidden = forward(models[v], cfg, golden[f"ids_{T}"].long())
            golden[f"logits_{v}_{T}"] = logits.float()
            if v == "f32" and T == hidden_T:
                for L, h in enumerate(hidden):
                    golden[f"hidden_{T}_{L}"] = h.float()

    meta = {"generator": "tools/make_gpt2_fixtures.py (float64 reimplementation of HF GPT2LMHeadModel)",
            "torch_version": torch.__version__, "seed": fx["seed"], "lengths": json.dumps(lengths),
            "hidden_length": hidden_T, "variants": json.dumps(fx["variants"])}
    for attempt in range(100):
        pgen = torch.Generator().manual_seed(fx["seed"] * 1000 + attempt)
        prompt = torch.randint(0, V, (GREEDY_PROMPT_LEN,), generator=pgen, dtype=torch.int32)
        runs = {v: greedy(models[v], cfg, prompt.tolist(), GREEDY_STEPS) for v in fx["variants"]}
        if all(m >= MIN_MARGIN and len(set(c)) >= MIN_DISTINCT for c, m in runs.values()):
            break
    else:
        raise RuntimeError(f"{name}: no greedy prompt with margin >= {MIN_MARGIN} in 100 attempts")
    golden["greedy_prompt"] = prompt
    meta["greedy_prompt_attempt"] = attempt
    for v, (cont, margin) in runs.items():
        golden[f"greedy_continuation_{v}"] = torch.tensor(cont, dtype=torch.int32)
        meta[f"min_margin_{v}"] = f"{margin:.6f}"

    path = os.path.join(folder, "golden.safetensors")
    safetensors_io.save(golden, path, meta)

    # round trips: what we wrote is what loaders will read
    back, back_meta = safetensors_io.load(path)
    assert list(back) == list(golden) and back_meta == {k: str(x) for k, x in meta.items()}
    for k, t in golden.items():
        assert back[k].dtype == t.dtype and torch.equal(back[k], t), k
    for v in fx["variants"]:
        stored = safetensors_io.load(os.path.join(folder, VARIANTS[v][0]))[0]
        assert list(stored) == list(files[v])
        assert all(stored[k].dtype == t.dtype and torch.equal(stored[k], t) for k, t in files[v].items())
    return golden, meta, models


def report(fx, golden, meta, models):
    cfg = fx["config"]
    lg = golden["logits_f32_" + str(cfg["n_positions"])].double()
    print(f"{fx['name']}: logits std {lg.std():.2f}, max |logit| {lg.abs().max():.2f}; "
          f"greedy prompt attempt {meta['greedy_prompt_attempt']}; "
          + ", ".join(f"min_margin_{v} {meta['min_margin_' + v]}" for v in fx["variants"]))
    for v in fx["variants"]:
        print(f"    greedy_continuation_{v} = {golden['greedy_continuation_' + v].tolist()}")
    # how far a wrong reading of the config / weights would land (should be far above float32 error)
    T = max(json.loads(meta["lengths"]))
    ids, scale = golden[f"ids_{T}"].long(), lg.abs().max().item()
    for other in ("gelu_new", "gelu", "relu"):
        if act(torch.tensor(1.0), other) != act(torch.tensor(1.0), cfg["activation_function"]):
            alt = forward(models["f32"], dict(cfg, activation_function=other), ids)[0]
            print(f"    with {other:9s}: max |dlogits| / max|logit| = {(alt - lg).abs().max() / scale:.2e}")
    for v in fx["variants"][1:]:
        print(f"    {v} vs f32 weights: max |dlogits| / max|logit| = "
              f"{(golden[f'logits_{v}_{T}'].double() - lg).abs().max() / scale:.2e}")


def main():
    print("float64 model vs", REFERENCE)
    check_reference()
    if "--check" in sys.argv:
        return
    for fx in FIXTURES:
        report(fx, *make_fixture(fx))
    total = 0
    for dirpath, _, names in sorted(os.walk(OUT)):
        for n in sorted(names):
            size = os.path.getsize(os.path.join(dirpath, n))
            total += size
            print(f"  {os.path.relpath(os.path.join(dirpath, n), ROOT):48s} {size:9d}")
    print(f"  total {total} bytes")


if __name__ == "__main__":
    main()
