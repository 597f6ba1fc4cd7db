// GPT-2 forward pass against float64 PyTorch references (test/fixtures/gpt2, tools/make_gpt2_fixtures.py).
import { describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../../src/loaders/gpt2_config.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { Gpu } from '../../src/runtime/device.js';
import { ContextLengthError, ModelFormatError } from '../../src/errors.js';
import { assertClose, maxAbs } from '../helpers/assert.js';
import { FIXTURES, loadJson, loadSafetensors } from '../helpers/fixtures.js';
import { useGpu, weightBuffers } from '../helpers/gpu.js';

const dir = (name: string) => `${FIXTURES}gpt2/${name}/`;

async function load(g: Gpu, name: string, file: string, dtype: 'f32' | 'f16', layout: 'auto' | 'kn' | 'nk' = 'auto') {
  const config = parseGPT2Config(loadJson(dir(name) + 'config.json'));
  return GPT2.fromSafetensors(loadSafetensors(dir(name) + file), config, { dtype, gpu: g, layout });
}

/** max |engine - reference| <= rel * max |reference|: the bound relative to the logits' scale, 1e-4 for every fixture here. */
function checkLogits(got: Float32Array, ref: Float32Array, rel: number, what: string): number {
  const scale = maxAbs(ref);
  const r = assertClose(got, ref, { atol: rel * scale, rtol: 0, what });
  return r.maxAbsError / scale;
}

describe('GPT-2 logits against float64 PyTorch', () => {
  const gpu = useGpu();
  const cases: { folder: string; file: string; dtype: 'f32' | 'f16'; variant: string; rel: number; layout?: 'kn' | 'nk' }[] = [
    // both weight layouts ('auto' picks nk on these software adapters)
    { folder: 'base', file: 'model.safetensors', dtype: 'f32', variant: 'f32', rel: 1e-4, layout: 'kn' },
    { folder: 'odd', file: 'model.safetensors', dtype: 'f32', variant: 'f32', rel: 1e-4, layout: 'kn' },
    { folder: 'odd', file: 'model-f16.safetensors', dtype: 'f16', variant: 'f16', rel: 1e-4, layout: 'kn' },
    { folder: 'odd', file: 'model-f16.safetensors', dtype: 'f16', variant: 'f16', rel: 1e-4, layout: 'nk' },
    { folder: 'base', file: 'model.safetensors', dtype: 'f32', variant: 'f32', rel: 1e-4 },
    { folder: 'base', file: 'model-f16.safetensors', dtype: 'f16', variant: 'f16', rel: 1e-4 },
    { folder: 'base', file: 'model-bf16.safetensors', dtype: 'f32', variant: 'bf16', rel: 1e-4 },
    { folder: 'odd', file: 'model.safetensors', dtype: 'f32', variant: 'f32', rel: 1e-4 },
    { folder: 'odd', file: 'model-f16.safetensors', dtype: 'f16', variant: 'f16', rel: 1e-4 },
    { folder: 'odd', file: 'model-bf16.safetensors', dtype: 'f32', variant: 'bf16', rel: 1e-4 },
    { folder: 'relu', file: 'model.safetensors', dtype: 'f32', variant: 'f32', rel: 1e-4 },
    { folder: 'tanh', file: 'model.safetensors', dtype: 'f32', variant: 'f32', rel: 1e-4 },
    // f32 checkpoint stored as f16 on the GPU: the rounding of the weights is the error (README: ~1.2e-3)
    { folder: 'base', file: 'model.safetensors', dtype: 'f16', variant: 'f32', rel: 5e-3 },
    { folder: 'odd', file: 'model.safetensors', dtype: 'f16', variant: 'f32', rel: 5e-3 },
  ];
  for (const c of cases) {
    it(`${c.folder}/${c.file} as ${c.dtype}${c.layout ? ` (${c.layout})` : ''} matches logits_${c.variant} within ${c.rel} x max|logit|`, async () => {
      const golden = loadSafetensors(dir(c.folder) + 'golden.safetensors');
      const lm = await load(gpu(), c.folder, c.file, c.dtype, c.layout);
      if (c.layout) expect(lm.layout).toBe(c.layout);
      try {
        const lengths: number[] = JSON.parse(golden.metadata.lengths);
        const errs: string[] = [];
        for (const T of lengths) {
          const ids = Array.from(golden.ints(`ids_${T}`));
          const got = await lm.logits(ids);
          const e = checkLogits(got, golden.f32(`logits_${c.variant}_${T}`), c.rel, `${c.folder} ${c.variant} T=${T}`);
          errs.push(`T=${T}: ${e.toExponential(2)}`);
        }
        console.log(
          `${c.folder}/${c.file} dtype=${c.dtype} layout=${lm.layout} vs logits_${c.variant}: max|err|/max|ref| ${errs.join(', ')}`,
        );
      } finally {
        lm.dispose();
      }
    });
  }

  it('matches the hidden states after every block', async () => {
    for (const [folder, layout] of [
      ['base', 'kn'],
      ['odd', 'nk'],
      ['relu', 'auto'],
    ] as const) {
      const golden = loadSafetensors(dir(folder) + 'golden.safetensors');
      const H = Number(golden.metadata.hidden_length);
      const lm = await load(gpu(), folder, 'model.safetensors', 'f32', layout);
      const ids = Array.from(golden.ints(`ids_${H}`));
      for (let L = 0; L <= lm.config.nLayer; L++) {
        const ref = golden.f32(`hidden_${H}_${L}`);
        assertClose(await lm.hidden(ids, L), ref, { atol: 1e-4 * maxAbs(ref), rtol: 0, what: `${folder} hidden_${H}_${L}` });
      }
      lm.dispose();
    }
  });

  it('splits embeddings and the LM head across buffers when they exceed the binding limit', async () => {
    // odd: wte and lm_head are 389 x 90 x 4 = 140 KB; cap bindings at 64 KB -> 3 chunks each
    const g = await Gpu.create({ capLimits: { maxStorageBufferBindingSize: 64 * 1024 } });
    try {
      for (const [file, dtype, variant] of [
        ['model.safetensors', 'f32', 'f32'],
        ['model-f16.safetensors', 'f16', 'f16'],
      ] as const) {
        const lm = await load(g, 'odd', file, dtype);
        expect(weightBuffers(lm, 'transformer.wte.weight')).toBeGreaterThan(1);
        expect(weightBuffers(lm, 'lm_head.weight')).toBeGreaterThan(1);
        const golden = loadSafetensors(dir('odd') + 'golden.safetensors');
        const ids = Array.from(golden.ints('ids_17'));
        checkLogits(await lm.logits(ids), golden.f32(`logits_${variant}_17`), 1e-4, `split odd ${variant}`);
        lm.dispose();
      }
      expect(g.memory().liveBuffers).toBe(0);
    } finally {
      g.dispose();
    }
  });

  it('rejects a checkpoint that does not match its config, naming the tensor', async () => {
    const st = loadSafetensors(dir('base') + 'model.safetensors');
    const cfg = parseGPT2Config({ ...(loadJson(dir('base') + 'config.json') as object), n_embd: 32, n_head: 4 });
    await expect(GPT2.fromSafetensors(st, cfg, { gpu: gpu() })).rejects.toThrow(ModelFormatError);
    await expect(GPT2.fromSafetensors(st, cfg, { gpu: gpu() })).rejects.toThrow(/"wte.weight" has shape \[300, 64\], expected \[300, 32\]/);
    const cfg2 = parseGPT2Config({ ...(loadJson(dir('base') + 'config.json') as object), n_layer: 3 });
    await expect(GPT2.fromSafetensors(st, cfg2, { gpu: gpu() })).rejects.toThrow(/"h.2.ln_1.weight" is missing/);
    expect(gpu().memory().liveBuffers).toBe(0); // nothing leaked by the failed loads
  });

  it('rejects a prompt longer than the context', async () => {
    const lm = await load(gpu(), 'relu', 'model.safetensors', 'f32');
    await expect(lm.logits(new Array(17).fill(1))).rejects.toThrow(ContextLengthError);
    await expect(lm.logits([50])).rejects.toThrow(/outside the vocabulary/);
    lm.dispose();
  });
});

describe('GPT-2 memory and warm-up', () => {
  const gpu = useGpu();

  it('memoryBytes() counts this model only, and equals estimateMemory() once activations and a cache exist', async () => {
    const config = parseGPT2Config(loadJson(dir('base') + 'config.json'));
    for (const dtype of ['f32', 'f16'] as const) {
      const a = await load(gpu(), 'base', dtype === 'f16' ? 'model-f16.safetensors' : 'model.safetensors', dtype);
      await a.logits([1, 2, 3]); // activations for n_positions rows and the one-sequence cache
      const own = a.memoryBytes();
      expect(own).toBe(GPT2.estimateMemory(config, { dtype })); // base ties its head to wte
      const b = await load(gpu(), 'base', 'model.safetensors', 'f32');
      expect(a.memoryBytes()).toBe(own); // another model on the same device is not counted
      b.dispose();
      a.dispose();
    }
  });

  it('warmup() compiles what generation needs: the first generate() then creates no pipeline', async () => {
    const g = await Gpu.create();
    try {
      const lm = await load(g, 'base', 'model.safetensors', 'f32');
      const before = g.pipelines.created;
      await lm.warmup();
      expect(g.pipelines.created).toBeGreaterThan(before); // a fresh device: warm-up compiled them
      const created = g.pipelines.created;
      for (const prompt of [[1, 2, 3, 4, 5, 6, 7], [4], [3, 9]]) {
        await lm.complete(prompt, { maxNewTokens: 4, stopAtEos: false, temperature: 0.7, topK: 5, seed: 1 });
      }
      expect(g.pipelines.created).toBe(created);
      lm.dispose();
    } finally {
      g.dispose();
    }
  });
});
