#!/usr/bin/env bash
# The model benchmarks on a real GPU (prepared for a session with an NVIDIA H200; not yet run):
#   1. webgen in Node on Dawn + the NVIDIA Vulkan driver: GPT-2 124M shape (f32, f16) and the GAN
#      generators, with TensorFlow.js WebGPU on the same adapter (bench/node.ts --only gpt2,gan)
#   2. the peer: Hugging Face transformers GPT-2 (eager attention) in PyTorch on CUDA, the same shape
#      with random weights (bench/gpu_torch.py; falls back to tools/export_gpt2_onnx.py's GPT-2 when
#      transformers is missing)
# Needs node_modules (npm ci) and a built bench/out/node.js (npm run bench builds it); writes
# bench/out/node-gpu.json and bench/out/torch-cuda.json and prints both tables.
#   bash bench/gpu.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=${1:-}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "gpu.sh: no nvidia-smi" >&2
if [ -z "${WEBGEN_VULKAN:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export WEBGEN_VULKAN="$icd"; break; fi
  done
fi
echo "gpu.sh: WEBGEN_VULKAN=${WEBGEN_VULKAN:-<unset: Dawn picks the first adapter>}"
if [ ! -d node_modules/webgpu ]; then
  echo "gpu.sh: node_modules/webgpu is missing: run npm ci first (or carry node_modules/webgpu and @tensorflow)" >&2
  exit 1
fi
[ -f bench/out/node.js ] || npx vite build --config bench/vite.config.ts
node bench/out/node.js --only gpt2,gan $QUICK --out bench/out/node-gpu.json
PY=${WEBGEN_PYTHON:-python3}
"$PY" bench/gpu_torch.py $QUICK | tee bench/out/torch-cuda.json
