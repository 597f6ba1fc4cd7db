// Smoke test at the real GPT-2 124M shape (random weights made in memory): it loads under a 256 MiB
// buffer / 128 MiB binding limit (SwiftShader's in Chromium), runs in f32 and f16, and matches a
// float64 CPU forward pass.
import { describe, expect, it } from 'vitest';
import { GPT2 } from '../../src/models/gpt2.js';
import { gpt2Config, randomGPT2 } from '../../src/testing/index.js';
import { Gpu } from '../../src/runtime/device.js';
import { weightBuffers } from '../helpers/gpu.js';
import { f16ArrayToF32 } from '../../src/runtime/half.js';
import { assertClose, maxAbs } from '../helpers/assert.js';
import { gpt2LastLogits, weightsOf } from '../helpers/gpt2_ref.js';

describe('GPT-2 124M shape', () => {
  it('loads and runs a forward pass in f32 and f16 within 256 MiB buffers', async () => {
    const cfg = gpt2Config('gpt2');
    const st = randomGPT2(cfg, 7);
    const ids = [464, 2068, 7586, 21831];
    const g = await Gpu.create({ capLimits: { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 } });
    try {
      for (const dtype of ['f32', 'f16'] as const) {
        const t0 = performance.now();
        const lm = await GPT2.fromSafetensors(st, cfg, { dtype, gpu: g });
        const loadMs = performance.now() - t0;
        expect(weightBuffers(lm, 'wte.weight')).toBe(dtype === 'f32' ? 2 : 1); // 154 MB of f32 wte > 128 MiB
        const t1 = performance.now();
        const logits = await lm.logits(ids);
        const fwdMs = performance.now() - t1;
        const mem = g.memory();
        // the reference sees the weights as stored on the GPU
        const w = weightsOf(st);
        const rounded = new Map<string, Float32Array>();
        const asStored = (name: string) => {
          const v = w(name);
          if (dtype === 'f32' || v.length <= 4 * cfg.nEmbd) return v; // LN params and biases stay f32
          if (!rounded.has(name)) rounded.set(name, f16ArrayToF32(st.f16Bits(name)));
          return rounded.get(name)!;
        };
        const t2 = performance.now();
        const ref = gpt2LastLogits(cfg, asStored, ids);
        const refMs = performance.now() - t2;
        const last = logits.subarray((ids.length - 1) * cfg.vocabSize);
        const r = assertClose(last, ref, { atol: 1e-4 * maxAbs(ref), rtol: 0, what: `124M ${dtype}` });
        console.log(
          `124M ${dtype}: load ${loadMs.toFixed(0)} ms, forward T=${ids.length} ${fwdMs.toFixed(0)} ms, GPU memory ${(mem.liveBytes / 2 ** 20).toFixed(0)} MiB, CPU float64 reference ${refMs.toFixed(0)} ms, max|err|/max|ref| ${(r.maxAbsError / maxAbs(ref)).toExponential(2)}`,
        );
        lm.dispose();
      }
      expect(g.memory().liveBuffers).toBe(0);
    } finally {
      g.dispose();
    }
  });
});
