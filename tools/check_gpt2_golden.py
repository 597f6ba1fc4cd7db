"""Checks webgen's CLI against an independent GPT-2 golden folder (config.json, model.safetensors,
golden.safetensors with ids_T / logits_T / greedy_prompt / greedy_continuation), e.g.
    /usr/bin/python3 tools/check_gpt2_golden.py ../shared/golden/gpt2-tiny [--dtype f16]
Needs `npm run build` first. Prints max |engine - golden| / max |golden| per T and the greedy match."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    return subprocess.run(["node", os.path.join(ROOT, "dist/node/cli.js"), *args], check=True, capture_output=True, text=True).stdout


def main():
    folder = sys.argv[1]
    dtype = sys.argv[sys.argv.index("--dtype") + 1] if "--dtype" in sys.argv else "f32"
    golden, meta = safetensors_io.load(os.path.join(folder, "golden.safetensors"))
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(k for k in golden if k.startswith("ids_")):
            T = name[4:]
            ids = golden[name].numpy().astype(int).tolist()
            out = os.path.join(tmp, f"l{T}.f32")
            cli("logits", "--model", folder, "--ids", ",".join(map(str, ids)), "--out", out, "--dtype", dtype)
            got = np.fromfile(out, dtype="<f4").reshape(len(ids), -1)
            ref = golden[f"logits_{T}"].numpy()
            rel = float(np.abs(got - ref).max() / np.abs(ref).max())
            worst = max(worst, rel)
            print(f"T={T:>4}: max|err|/max|ref| = {rel:.2e}")
        prompt = golden["greedy_prompt"].numpy().astype(int).tolist()
        want = golden["greedy_continuation"].numpy().astype(int).tolist()
        r = json.loads(cli("generate", "--model", folder, "--prompt-ids", ",".join(map(str, prompt)), "--greedy",
                           "--max-new-tokens", str(len(want)), "--json", "--dtype", dtype))
        got_ids = r["sequences"][0]["ids"]
        # an EOS in the continuation ends generation early; compare the common prefix and say so
        match = got_ids == want[: len(got_ids)]
        print(f"greedy: {len(got_ids)} tokens, {'match' if match else 'MISMATCH'} ({got_ids} vs {want})")
    print(f"worst {worst:.2e} ({dtype})")
    return 0 if match and worst <= (1e-4 if dtype == "f32" else 5e-3) else 1


if __name__ == "__main__":
    sys.exit(main())
