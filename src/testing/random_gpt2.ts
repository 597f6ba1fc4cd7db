// GPT-2 checkpoints with random weights, made in memory: for benchmarks of real model shapes
// (gpt2 124M, medium, ...) and tests, where no trained weights may be downloaded.
import type { GPT2Config } from '../loaders/gpt2_config.js';
import { SafeTensors, writeSafetensors, type TensorToWrite } from '../loaders/safetensors.js';
import { mulberry32 } from '../util.js';

/** The shapes of the published checkpoints (weights not included). */
export const GPT2_SHAPES = {
  gpt2: { nLayer: 12, nHead: 12, nEmbd: 768 },
  'gpt2-medium': { nLayer: 24, nHead: 16, nEmbd: 1024 },
  'gpt2-large': { nLayer: 36, nHead: 20, nEmbd: 1280 },
  'gpt2-xl': { nLayer: 48, nHead: 25, nEmbd: 1600 },
} as const;

export function gpt2Config(shape: keyof typeof GPT2_SHAPES, overrides: Partial<GPT2Config> = {}): GPT2Config {
  const s = GPT2_SHAPES[shape];
  return {
    ...s,
    nPositions: 1024,
    vocabSize: 50257,
    nInner: 4 * s.nEmbd,
    layerNormEpsilon: 1e-5,
    activation: 'gelu_new',
    eosTokenId: 50256,
    ...overrides,
  };
}

/** N(mean, std^2)-like values: a sum of two uniforms, scaled to the variance std^2. */
function randn(n: number, seed: number, std: number, mean = 0): Float32Array {
  const r = mulberry32(seed);
  const out = new Float32Array(n);
  const k = std * Math.sqrt(6); // u1 + u2 - 1 has variance 1/6
  for (let i = 0; i < n; i++) out[i] = mean + (r() + r() - 1) * k;
  return out;
}

/** A checkpoint in the Hugging Face layout with GPT-2-like random weights (std 0.02, LN near 1). */
export function randomGPT2(config: GPT2Config, seed = 1, dtype: 'F32' | 'F16' = 'F32'): SafeTensors {
  const { nLayer, nEmbd: C, nPositions: P, vocabSize: V, nInner: F } = config;
  const t: Record<string, TensorToWrite> = {};
  let k = seed * 1000;
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    t[name] = {
      data: randn(
        shape.reduce((a, b) => a * b, 1),
        ++k,
        std,
        mean,
      ),
      shape,
      dtype,
    };
  };
  add('wte.weight', [V, C], 0.02);
  add('wpe.weight', [P, C], 0.01);
  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    add(p + 'ln_1.weight', [C], 0.05, 1);
    add(p + 'ln_1.bias', [C], 0.02);
    add(p + 'attn.c_attn.weight', [C, 3 * C], 0.02);
    add(p + 'attn.c_attn.bias', [3 * C], 0.02);
    add(p + 'attn.c_proj.weight', [C, C], 0.02 / Math.sqrt(2 * nLayer));
    add(p + 'attn.c_proj.bias', [C], 0.02);
    add(p + 'ln_2.weight', [C], 0.05, 1);
    add(p + 'ln_2.bias', [C], 0.02);
    add(p + 'mlp.c_fc.weight', [C, F], 0.02);
    add(p + 'mlp.c_fc.bias', [F], 0.02);
    add(p + 'mlp.c_proj.weight', [F, C], 0.02 / Math.sqrt(2 * nLayer));
    add(p + 'mlp.c_proj.bias', [C], 0.02);
  }
  add('ln_f.weight', [C], 0.05, 1);
  add('ln_f.bias', [C], 0.02);
  return SafeTensors.fromBytes(writeSafetensors(t), `random-gpt2-${nLayer}x${C}.safetensors`);
}
