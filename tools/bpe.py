"""Byte-level BPE in GPT-2's exact file format (vocab.json + merges.txt): trainer and encoder.

Trainer: count GPT-2 pre-tokens (regex below) once, then merge the most frequent adjacent pair
repeatedly, updating pair counts incrementally over the words that contain the merged pair
(a lazy max-heap finds the best pair; ties go to the lexicographically smallest pair).
Encoder: the standard GPT-2 algorithm (per pre-token, apply the lowest-rank merge until none applies).
"<|endoftext|>" in the text is matched as the special token (last id); everything else is plain bytes.

  python3 tools/bpe.py train corpus.txt out_dir --vocab-size 4096
  python3 tools/bpe.py encode out_dir "some text"
"""
import argparse
import heapq
import json
import os
from collections import Counter, defaultdict

import regex

PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"


def bytes_to_unicode():
    """GPT-2's reversible map of the 256 bytes to printable unicode characters (in GPT-2's order)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENC = bytes_to_unicode()
BYTE_DEC = {c: b for b, c in BYTE_ENC.items()}


def pretokens(text):
    """GPT-2 pre-tokens of text, each mapped to its byte-level unicode string."""
    return ["".join(BYTE_ENC[b] for b in t.encode("utf-8")) for t in PAT.findall(text)]


def train(texts, vocab_size):
    """Returns (vocab dict token->id, merges list of (a, b)) with vocab_size entries incl. EOT."""
    counts = Counter()
    for t in texts:
        counts.update(pretokens(t))
    words = [list(w) for w in counts]
    freqs = list(counts.values())
    pair_count = defaultdict(int)
    where = defaultdict(set)  # pair -> indices of words containing it
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_count[p] += freqs[i]
            where[p].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    tokens = set(BYTE_ENC.values())  # a merge may rebuild an existing token string: still a merge, no new id
    while len(tokens) < vocab_size - 1 and heap:
        negc, p = heapq.heappop(heap)
        if pair_count.get(p, 0) != -negc or negc == 0:
            continue  # stale entry
        merges.append(p)
        a, b = p
        new = a + b
        tokens.add(new)
        changed = set()
        for i in list(where[p]):
            w, f = words[i], freqs[i]
            for q in zip(w, w[1:]):
                pair_count[q] -= f
                changed.add(q)
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            for q in zip(w, w[1:]):
                where[q].discard(i)
            for q in zip(out, out[1:]):
                pair_count[q] += f
                where[q].add(i)
                changed.add(q)
            words[i] = out
        for q in changed:
            if pair_count[q] > 0:
                heapq.heappush(heap, (-pair_count[q], q))
            else:
                pair_count.pop(q, None)
                where.pop(q, None)
    vocab = {BYTE_ENC[b]: i for i, b in enumerate(BYTE_ENC)}  # ids 0..255 in bytes_to_unicode order
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab[EOT] = len(vocab)
    return vocab, merges


def save(vocab, merges, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


class Encoder:
    """The standard GPT-2 BPE encoder over vocab.json + merges.txt."""

    def __init__(self, out_dir):
        with open(os.path.join(out_dir, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        with open(os.path.join(out_dir, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")[1:]
        self.ranks = {tuple(l.split(" ")): r for r, l in enumerate(lines) if l}
        self.inv = {i: t for t, i in self.vocab.items()}
        self.eot = self.vocab[EOT]
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        w = list(word)
        while len(w) > 1:
            pairs = set(zip(w, w[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            a, b = best
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            w = out
        self.cache[word] = w
        return w

    def encode(self, text):
        ids = []
        for k, part in enumerate(text.split(EOT)):
            if k:
                ids.append(self.eot)
            for t in pretokens(part):
                ids.extend(self.vocab[s] for s in self.bpe(t))
        return ids

    def decode(self, ids):
        out, buf = [], bytearray()
        for i in ids:
            if i == self.eot:
                out.append(buf.decode("utf-8", errors="replace") + EOT)
                buf = bytearray()
            else:
                buf.extend(BYTE_DEC[c] for c in self.inv[i])
        return "".join(out) + buf.decode("utf-8", errors="replace")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("corpus")
    t.add_argument("out_dir")
    t.add_argument("--vocab-size", type=int, default=4096)
    e = sub.add_parser("encode")
    e.add_argument("out_dir")
    e.add_argument("text")
    args = ap.parse_args()
    if args.cmd == "train":
        with open(args.corpus, encoding="utf-8") as f:
            docs = f.read().split(EOT)
        v, m = train(docs, args.vocab_size)
        save(v, m, args.out_dir)
        print(f"vocab {len(v)} merges {len(m)}")
    else:
        print(Encoder(args.out_dir).encode(args.text))
