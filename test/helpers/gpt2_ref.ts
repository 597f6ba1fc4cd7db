// A float64 GPT-2 forward pass on the CPU, written from the Hugging Face definition, independent of
// the kernels: for checks of shapes the committed fixtures do not cover (the 124M smoke test).
import type { GPT2Config } from '../../src/loaders/gpt2_config.js';
import type { SafeTensors } from '../../src/loaders/safetensors.js';
import { gelu_erf, gelu_tanh } from './reference.js';

/** Logits of the last position of `ids`, [vocab]. `weight` maps a tensor name to its values. */
export function gpt2LastLogits(cfg: GPT2Config, weight: (name: string) => Float32Array, ids: number[]): Float64Array {
  const { nLayer, nHead, nEmbd: C, nInner: F, layerNormEpsilon: eps } = cfg;
  const T = ids.length,
    hd = C / nHead;
  const act = cfg.activation === 'relu' ? (x: number) => Math.max(0, x) : cfg.activation === 'gelu' ? gelu_erf : gelu_tanh;
  const wte = weight('wte.weight'),
    wpe = weight('wpe.weight');
  let x = Array.from({ length: T }, (_, t) => Float64Array.from({ length: C }, (_, c) => wte[ids[t] * C + c] + wpe[t * C + c]));
  const ln = (v: Float64Array, g: Float32Array, b: Float32Array) => {
    const m = v.reduce((a, z) => a + z, 0) / C;
    const va = v.reduce((a, z) => a + (z - m) ** 2, 0) / C;
    return v.map((z, c) => ((z - m) / Math.sqrt(va + eps)) * g[c] + b[c]);
  };
  const lin = (v: Float64Array, w: Float32Array, b: Float32Array, n: number) => {
    const out = Float64Array.from(b.subarray(0, n));
    for (let k = 0; k < v.length; k++) {
      const vk = v[k],
        row = k * n;
      for (let j = 0; j < n; j++) out[j] += vk * w[row + j];
    }
    return out;
  };
  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    const qkv = x.map((v) =>
      lin(
        ln(v, weight(p + 'ln_1.weight'), weight(p + 'ln_1.bias')),
        weight(p + 'attn.c_attn.weight'),
        weight(p + 'attn.c_attn.bias'),
        3 * C,
      ),
    );
    const att = x.map(() => new Float64Array(C));
    for (let h = 0; h < nHead; h++) {
      for (let t = 0; t < T; t++) {
        const s = Array.from({ length: t + 1 }, (_, u) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += qkv[t][h * hd + i] * qkv[u][C + h * hd + i];
          return d / Math.sqrt(hd);
        });
        const mx = Math.max(...s);
        const e = s.map((z) => Math.exp(z - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let u = 0; u <= t; u++) for (let i = 0; i < hd; i++) att[t][h * hd + i] += (e[u] / z) * qkv[u][2 * C + h * hd + i];
      }
    }
    x = x.map((v, t) => {
      const o = lin(att[t], weight(p + 'attn.c_proj.weight'), weight(p + 'attn.c_proj.bias'), C);
      return v.map((z, c) => z + o[c]);
    });
    x = x.map((v) => {
      const hmid = lin(
        ln(v, weight(p + 'ln_2.weight'), weight(p + 'ln_2.bias')),
        weight(p + 'mlp.c_fc.weight'),
        weight(p + 'mlp.c_fc.bias'),
        F,
      ).map(act);
      const o = lin(hmid, weight(p + 'mlp.c_proj.weight'), weight(p + 'mlp.c_proj.bias'), C);
      return v.map((z, c) => z + o[c]);
    });
  }
  const hf = ln(x[T - 1], weight('ln_f.weight'), weight('ln_f.bias'));
  const V = cfg.vocabSize;
  const out = new Float64Array(V);
  for (let n = 0; n < V; n++) {
    let d = 0;
    for (let c = 0; c < C; c++) d += hf[c] * wte[n * C + c];
    out[n] = d;
  }
  return out;
}

export const weightsOf = (st: SafeTensors) => {
  const cache = new Map<string, Float32Array>();
  return (name: string) => {
    let w = cache.get(name);
    if (!w) cache.set(name, (w = st.f32(name)));
    return w;
  };
};
