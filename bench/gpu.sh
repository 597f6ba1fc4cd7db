#!/usr/bin/env bash
# The model benchmarks on a real GPU (prepared for a session with an NVIDIA H200), in three steps:
#   1. webgen in Node on Dawn + the NVIDIA Vulkan driver: GPT-2 124M shape (f32, f16) and the GAN
#      generators, with TensorFlow.js WebGPU on the same adapter (bench/node.ts --only gpt2,gan)
#   2. the peer: Hugging Face transformers GPT-2 (eager attention) in PyTorch on CUDA, the same shape
#      with random weights (bench/gpu_torch.py; falls back to tools/export_gpt2_onnx.py's GPT-2 when
#      transformers is missing)
#   3. `webgen plan --kernels gpu` at contexts 128 and 1023: each dispatch of a decode step with the
#      bytes it reads and writes, and its cost at an H200's bandwidth (4800 GB/s, 5 us a dispatch):
#      figures worked out from the plan, not measured, so this step runs on any machine
# Without an NVIDIA GPU (no nvidia-smi, or it finds no device) steps 1 and 2 are skipped with a message
# and step 3 still runs; the script exits 0 unless a step that ran failed.
# Needs node_modules (npm ci); builds bench/out/node.js and dist/node/cli.js when they are missing;
# writes bench/out/node-gpu.json and bench/out/torch-cuda.json and prints the tables.
#   bash bench/gpu.sh [--quick]
set -uo pipefail
cd "$(dirname "$0")/.."
QUICK=${1:-}
PY=${WEBGEN_PYTHON:-python3}
BANDWIDTH=${WEBGEN_PLAN_BANDWIDTH:-4800} # GB/s: an H200's HBM3e
FAILED=()
SKIPPED=()
step() { printf '\n== gpu.sh: %s\n' "$*"; }
fail() {
  echo "gpu.sh: FAILED: $1" >&2
  FAILED+=("$1")
}
skip() {
  echo "gpu.sh: SKIPPED: $1: $2"
  SKIPPED+=("$1")
}

GPU=""
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
else
  echo "gpu.sh: no NVIDIA GPU on this machine ($(command -v nvidia-smi >/dev/null 2>&1 && echo 'nvidia-smi finds no device' || echo 'no nvidia-smi')):"
  echo "        steps 1 (webgen on the GPU) and 2 (PyTorch CUDA) are skipped; step 3 (webgen plan figures) runs"
fi
if [ ! -d node_modules/webgpu ]; then
  echo "gpu.sh: node_modules/webgpu is missing: run npm ci first (or carry node_modules/webgpu and @tensorflow)" >&2
  exit 1
fi

step "1. webgen in Node on the GPU (bench/node.ts --only gpt2,gan)"
if [ -z "$GPU" ]; then
  skip "1. webgen on the GPU" "no NVIDIA GPU"
else
  if [ -z "${WEBGEN_VULKAN:-}" ]; then
    for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
      if [ -f "$icd" ]; then
        export WEBGEN_VULKAN="$icd"
        break
      fi
    done
  fi
  echo "gpu.sh: $GPU; WEBGEN_VULKAN=${WEBGEN_VULKAN:-<unset: Dawn picks the first adapter>}"
  if { [ -f bench/out/node.js ] || npx vite build --config bench/vite.config.ts; } &&
    node bench/out/node.js --only gpt2,gan $QUICK --out bench/out/node-gpu.json; then
    echo "gpu.sh: wrote bench/out/node-gpu.json"
  else
    fail "1. webgen on the GPU"
  fi
fi

step "2. PyTorch on CUDA (bench/gpu_torch.py)"
if [ -z "$GPU" ]; then
  skip "2. PyTorch CUDA" "no NVIDIA GPU"
elif ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  skip "2. PyTorch CUDA" "$PY has no PyTorch with CUDA (set WEBGEN_PYTHON)"
else
  # the JSON goes to the file whole or not at all
  if "$PY" bench/gpu_torch.py $QUICK >bench/out/torch-cuda.json.partial; then
    mv bench/out/torch-cuda.json.partial bench/out/torch-cuda.json
    cat bench/out/torch-cuda.json
  else
    fail "2. PyTorch CUDA"
  fi
fi

step "3. webgen plan: a GPT-2 124M decode step with the GPU kernel shapes, at ${BANDWIDTH} GB/s"
if [ -n "$GPU" ]; then
  echo "gpu.sh: the plan is recorded on $GPU; the times are the bytes at ${BANDWIDTH} GB/s plus 5 us a dispatch, not measured"
else
  echo "gpu.sh: no GPU: the plan is recorded on the software adapter Dawn finds (the same dispatches and bytes);"
  echo "        the times are the bytes at ${BANDWIDTH} GB/s (an H200) plus 5 us a dispatch, not measured"
fi
if [ ! -f dist/node/cli.js ]; then
  npx vite build --config vite.node.config.ts || fail "3. build dist/node/cli.js"
fi
for ctx in 128 1023; do
  echo
  if ! node dist/node/cli.js plan --shape gpt2 --kernels gpu --context "$ctx" --bandwidth "$BANDWIDTH"; then
    fail "3. webgen plan --context $ctx"
  fi
done

printf '\n== gpu.sh: done: %s skipped, %s failed\n' "${#SKIPPED[@]}" "${#FAILED[@]}"
for s in "${SKIPPED[@]}"; do echo "  skipped: $s"; done
for f in "${FAILED[@]}"; do echo "  failed: $f"; done
[ ${#FAILED[@]} -eq 0 ]
