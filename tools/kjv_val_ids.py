"""Writes the default model's validation token stream (test/fixtures/kjv-val/val_ids.safetensors).

The held-out text of tools/train_gpt2.py, tokenized as it tokenizes it: every 20th chapter of the King
James Bible (index % 20 == 19, from Debian's bible-kjv-text through `bible`), each chapter's ids then
<|endoftext|>, encoded with pretrained/gpt2-kjv's vocab.json + merges.txt by tools/bpe.py. The q8
quality test and tools/q8_quality.mjs score the model on it without the `bible` program.

  /usr/bin/python3 tools/kjv_val_ids.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import safetensors_io  # noqa: E402
from train_gpt2 import kjv_chapters  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    chapters = kjv_chapters()
    val_docs = [c for i, c in enumerate(chapters) if i % 20 == 19]
    enc = bpe.Encoder(os.path.join(ROOT, "pretrained/gpt2-kjv"))
    ids = []
    for d in val_docs:
        ids += enc.encode(d) + [enc.eot]
    assert max(ids) < 2 ** 15
    out = os.path.join(ROOT, "test/fixtures/kjv-val/val_ids.safetensors")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    safetensors_io.save({"ids": torch.tensor(ids, dtype=torch.int16)}, out, {
        "source": "bible -f -l100000 Gen1:1-Rev22:21 (Debian bible-kjv-text), chapters with index % 20 == 19",
        "tokenizer": "pretrained/gpt2-kjv (tools/bpe.py)",
        "chapters": len(val_docs),
        "tokens": len(ids),
        "bytes": sum(len(d.encode()) for d in val_docs),
    })
    print(f"{len(val_docs)} chapters, {len(ids)} tokens -> {out}")


if __name__ == "__main__":
    main()
