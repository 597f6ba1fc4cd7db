// Generation on the GPU: the sampler kernel against its CPU reference, greedy continuations against
// PyTorch, decode-vs-prefill logits, batches, seeds, abort, and the per-token budget.
import { describe, expect, it } from 'vitest';
import { gatherCapacity, sample, samplerMeta } from '../../src/kernels/sample.js';
import { parseGPT2Config } from '../../src/loaders/gpt2_config.js';
import { OptionError } from '../../src/errors.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { Gpu } from '../../src/runtime/device.js';
import { generateAll, type TextCodec } from '../../src/generation/generate.js';
import { Plan } from '../../src/runtime/plan.js';
import { drawUniform, keptDistribution, resolveSampling, sampleRow, type SamplingOptions } from '../../src/generation/sampling.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { assertClose, maxAbs, randomArray } from '../helpers/assert.js';
import { FIXTURES, loadJson, loadSafetensors } from '../helpers/fixtures.js';
import { useGpu } from '../helpers/gpu.js';

const dir = (name: string) => `${FIXTURES}gpt2/${name}/`;

async function load(
  g: Gpu,
  name: string,
  file = 'model.safetensors',
  dtype: 'f32' | 'f16' = 'f32',
  layout: 'auto' | 'kn' | 'nk' = 'auto',
  kernels: 'auto' | 'gpu' | 'software' = 'auto',
) {
  const config = parseGPT2Config(loadJson(dir(name) + 'config.json'));
  return GPT2.fromSafetensors(loadSafetensors(dir(name) + file), config, { dtype, gpu: g, layout, kernels });
}

/** Ids as text "<id> " so tests on tokenizer-less fixtures can still run the full loop. */
const idCodec: TextCodec = {
  eosTokenId: undefined,
  encode: () => [],
  decode: (ids) =>
    Array.from(ids)
      .map((i) => `${i} `)
      .join(''),
  createStreamDecoder: () => ({ push: (id) => `${id} `, flush: () => '' }),
};

describe('GPU sampler against the CPU reference', () => {
  const gpu = useGpu();
  // the kernel gathers the kept tokens when they are at most 1024 (top-k <= 1024, or V <= 1024; fewer
  // with less workgroup storage) and otherwise bisects over the whole row: cases on both sides, and
  // ties at the top-k threshold
  const levels = (k: number) => (x: number) => Math.floor(x * k); // logits on a few levels: many ties
  const cases: [string, SamplingOptions, number, ((x: number) => number)?][] = [
    ['greedy', {}, 50257],
    ['greedy + penalty', { repetitionPenalty: 1.3 }, 389],
    ['temperature', { temperature: 0.8, seed: 11 }, 300],
    ['top-k 40', { topK: 40, seed: 12 }, 50257],
    ['top-p 0.9', { topP: 0.9, seed: 13 }, 1000],
    ['top-p 0.9, above 1024 tokens: bisection', { topP: 0.9, seed: 15 }, 3000],
    ['top-k + top-p + temperature + penalty', { topK: 20, topP: 0.8, temperature: 1.3, repetitionPenalty: 1.2, seed: 14 }, 777],
    ['top-k 1000 + top-p 0.5', { topK: 1000, topP: 0.5, seed: 16 }, 5000],
    ['top-k 2000 + top-p 0.95: bisection', { topK: 2000, topP: 0.95, seed: 17 }, 5000],
    ['top-k 40, ~190 tied at the threshold', { topK: 40, seed: 18 }, 3000, levels(2)],
    ['top-k 40, ~1500 tied at the threshold: bisection', { topK: 40, topP: 0.9, seed: 19 }, 3000, levels(0.25)],
  ];
  for (const [name, opts, V, shape] of cases) {
    it(`${name} (V=${V})`, async () => runSamplerCase(gpu(), opts, V, shape));
  }
  it("fits WebGPU's guaranteed 16 KiB of workgroup storage: fewer tokens gathered, same choices", async () => {
    expect(gatherCapacity(50257, 256, 32768)).toBe(1024);
    expect(gatherCapacity(50257, 256, 16384)).toBe(576);
    const g = await Gpu.create({ capLimits: { maxComputeWorkgroupStorageSize: 16384 } });
    try {
      await runSamplerCase(g, { topK: 40, topP: 0.9, seed: 21 }, 50257); // gathered (40 <= 576)
      await runSamplerCase(g, { topK: 800, seed: 22 }, 5000); // bisection (800 > 576)
      expect(g.memory().liveBuffers).toBe(0);
    } finally {
      g.dispose();
    }
  });
});

async function runSamplerCase(g: Gpu, opts: SamplingOptions, V: number, shape?: (x: number) => number): Promise<void> {
  const B = 5,
    P = 64,
    n = 9; // history of 9 tokens per row
  const logits = randomArray(B * V, V, 4);
  if (shape) for (let i = 0; i < logits.length; i++) logits[i] = shape(logits[i]);
  const history = new Uint32Array(B * P);
  const hists: number[][] = [];
  for (let b = 0; b < B; b++) {
    const h = Array.from({ length: n }, (_, i) => (b * 31 + i * 17) % V);
    hists.push(h);
    history.set(h, b * P);
  }
  const o = resolveSampling(opts, V);
  const tl = Tensor.from(g, logits, [B, V], 'f32', 'logits');
  const th = Tensor.from(g, history, [B, P], 'u32', 'history');
  const ids = Tensor.empty(g, [B], 'u32', 'ids'),
    out = Tensor.empty(g, [B], 'u32', 'out');
  const step = g.uniform(new Uint32Array([n - 1, 1, B, 0]), 'step'); // history length = pos0 + T
  const meta = g.uniform(samplerMeta(o, V, P, V), 'meta');
  const plan = new Plan(g, 'sample-test');
  await sample(plan, meta, step, tl, th, ids, out, B, V);
  await g.checked('sample', () => plan.submit());
  const got = Array.from(await out.read());
  expect(Array.from(await ids.read())).toEqual(got);
  const hist = await th.read();
  let nearTies = 0;
  for (let b = 0; b < B; b++) {
    const row = logits.subarray(b * V, (b + 1) * V);
    const want = sampleRow(row, hists[b], o, b);
    expect(hist[b * P + n], 'appended to history').toBe(got[b]);
    if (!o.greedy) expect(keptDistribution(row, hists[b], o).has(got[b]), `row ${b}: ${got[b]} outside the kept set`).toBe(true);
    if (got[b] !== want) {
      // only acceptable when the draw lands within float rounding of a cumulative boundary
      const kept = [...keptDistribution(row, hists[b], o)].sort((a, c) => a[0] - c[0]);
      const z = kept.reduce((s, [, w]) => s + w, 0);
      const u = drawUniform(o.seed, b, n) * z;
      let acc = 0,
        gap = Infinity;
      for (const [, w] of kept) {
        acc += w;
        gap = Math.min(gap, Math.abs(acc - u));
      }
      expect(gap / z, `row ${b}: GPU ${got[b]} vs CPU ${want}`).toBeLessThan(1e-5);
      nearTies++;
    }
  }
  expect(nearTies).toBeLessThanOrEqual(1);
  for (const t of [tl, th, ids, out]) t.dispose();
  g.destroyBuffer(step);
  g.destroyBuffer(meta);
  plan.dispose();
}

describe('GPT-2 generation on the GPU', () => {
  const gpu = useGpu();

  for (const [folder, file, dtype, variant, layout] of [
    ['base', 'model.safetensors', 'f32', 'f32', 'kn'],
    ['odd', 'model-f16.safetensors', 'f16', 'f16', 'kn'],
    ['base', 'model.safetensors', 'f32', 'f32'],
    ['base', 'model-f16.safetensors', 'f16', 'f16'],
    ['odd', 'model.safetensors', 'f32', 'f32'],
    ['odd', 'model-f16.safetensors', 'f16', 'f16'],
    ['odd', 'model-bf16.safetensors', 'f32', 'bf16'],
    ['tanh', 'model.safetensors', 'f32', 'f32'],
  ] as const) {
    it(`greedy continuation of ${folder}/${file} (${dtype}${layout ? `, ${layout}` : ''}) equals PyTorch's token for token`, async () => {
      const golden = loadSafetensors(dir(folder) + 'golden.safetensors');
      const lm = await load(gpu(), folder, file, dtype, layout ?? 'auto');
      try {
        const prompt = Array.from(golden.ints('greedy_prompt'));
        // prompt + maxNewTokens must fit n_positions (the fixture's last token is never fed back)
        const want = Array.from(golden.ints(`greedy_continuation_${variant}`)).slice(0, lm.config.nPositions - prompt.length);
        const r = await generateAll(lm.stepper, idCodec, prompt, { maxNewTokens: want.length, stopAtEos: false });
        expect(r.sequences[0].ids).toEqual(want);
      } finally {
        lm.dispose();
      }
    });
  }

  for (const [folder, file, dtype, variant, layout] of [
    ['base', 'model.safetensors', 'f32', 'f32', 'auto'],
    ['odd', 'model-f16.safetensors', 'f16', 'f16', 'auto'],
    ['base', 'model.safetensors', 'f32', 'f32', 'kn'], // the layout GPUs get: gemv.wgsl's gemv_kn
  ] as const) {
    it(`the GPU kernel shapes (kernels: 'gpu', layout ${layout}): greedy continuation of ${folder}/${file} equals PyTorch's`, async () => {
      const golden = loadSafetensors(dir(folder) + 'golden.safetensors');
      const lm = await load(gpu(), folder, file, dtype, layout, 'gpu');
      try {
        expect(lm.kernels).toBe('gpu');
        const prompt = Array.from(golden.ints('greedy_prompt'));
        const want = Array.from(golden.ints(`greedy_continuation_${variant}`)).slice(0, lm.config.nPositions - prompt.length);
        const r = await generateAll(lm.stepper, idCodec, prompt, { maxNewTokens: want.length, stopAtEos: false });
        expect(r.sequences[0].ids).toEqual(want);
        // a batch decodes through the split attention too: every greedy sequence is the same
        const b = await generateAll(lm.stepper, idCodec, prompt, { maxNewTokens: 12, stopAtEos: false, numReturnSequences: 3 });
        for (const s of b.sequences) expect(s.ids).toEqual(want.slice(0, 12));
      } finally {
        lm.dispose();
      }
    });
  }

  it('decode logits (KV cache) equal prefill logits at the same position', async () => {
    for (const [file, dtype, kernels] of [
      ['model.safetensors', 'f32', 'software'],
      ['model-f16.safetensors', 'f16', 'software'],
      ['model.safetensors', 'f32', 'gpu'],
    ] as const) {
      const lm = await load(gpu(), 'odd', file, dtype, 'auto', kernels);
      const prompt = [5, 77, 300, 12, 9];
      const o = resolveSampling({}, lm.config.vocabSize);
      const seq = [...prompt];
      seq.push(...(await lm.stepper.start(prompt, 1, o)));
      for (let i = 0; i < 30; i++) {
        const decoded = await lm.stepper.next(); // logits of position seq.length - 1, from the cache
        const fromCache = await lm.stepper.lastLogits();
        const full = await lm.logits(seq);
        const ref = full.subarray((seq.length - 1) * lm.config.vocabSize);
        assertClose(fromCache, ref, { atol: 1e-5 * maxAbs(ref), rtol: 0, what: `decode vs prefill at position ${seq.length - 1}` });
        seq.push(...decoded);
      }
      lm.stepper.end();
      lm.dispose();
    }
  });

  it('per token: one command buffer, no GPU allocation, no pipeline creation', async () => {
    const g = gpu();
    const lm = await load(g, 'base');
    let steps = 0,
      submits = 0,
      created = 0,
      pipelines = 0;
    const stepper = lm.stepper;
    const o = resolveSampling({ topK: 10, topP: 0.9, seed: 3, repetitionPenalty: 1.1 }, lm.config.vocabSize);
    await stepper.start([1, 2, 3], 2, o);
    await stepper.next(); // the first decode records its plan
    for (let i = 0; i < 20; i++) {
      const before = { s: g.submits, b: g.memory().buffersCreated, p: g.pipelines.created };
      await stepper.next();
      steps++;
      submits += g.submits - before.s;
      created += g.memory().buffersCreated - before.b;
      pipelines += g.pipelines.created - before.p;
    }
    stepper.end();
    expect({ steps, submits, created, pipelines }).toEqual({ steps: 20, submits: 20, created: 0, pipelines: 0 });
    lm.dispose();
  });

  it('same seed, same tokens; numReturnSequences decodes a batch of different samples', async () => {
    const lm = await load(gpu(), 'base');
    const opts = { maxNewTokens: 20, topK: 40, temperature: 1.5, seed: 42, numReturnSequences: 3, stopAtEos: false };
    const a = await generateAll(lm.stepper, idCodec, [3, 4, 5], opts);
    const b = await generateAll(lm.stepper, idCodec, [3, 4, 5], opts);
    const c = await generateAll(lm.stepper, idCodec, [3, 4, 5], { ...opts, seed: 43 });
    expect(a.sequences.map((s) => s.ids)).toEqual(b.sequences.map((s) => s.ids));
    expect(a.sequences.map((s) => s.ids)).not.toEqual(c.sequences.map((s) => s.ids));
    expect(new Set(a.sequences.map((s) => s.ids.join())).size).toBe(3);
    // a greedy batch: every sequence is the single greedy continuation
    const g1 = await generateAll(lm.stepper, idCodec, [3, 4, 5], { maxNewTokens: 12, stopAtEos: false });
    const g3 = await generateAll(lm.stepper, idCodec, [3, 4, 5], { maxNewTokens: 12, stopAtEos: false, numReturnSequences: 3 });
    for (const s of g3.sequences) expect(s.ids).toEqual(g1.sequences[0].ids);
    lm.dispose();
  });

  it('aborts mid-stream and the model stays usable', async () => {
    const lm = await load(gpu(), 'base');
    lm.tokenizer = idCodec as any;
    const ac = new AbortController();
    let n = 0;
    const run = async () => {
      for await (const _ of lm.generate([1, 2], { maxNewTokens: 40, signal: ac.signal, stopAtEos: false })) if (++n === 5) ac.abort();
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(n).toBe(5);
    const r = await lm.complete([1, 2], { maxNewTokens: 3, stopAtEos: false });
    expect(r.sequences[0].ids.length).toBe(3);
    lm.dispose();
  });

  it('a second generate() on a busy model waits its turn (FIFO); ifBusy "reject" refuses; an abort while queued never runs', async () => {
    const lm = await load(gpu(), 'base');
    lm.tokenizer = idCodec as any;
    const opts = { maxNewTokens: 8, stopAtEos: false, temperature: 0.9, seed: 3 };
    const alone = (await lm.complete([1, 2], opts)).sequences[0].ids;
    const order: string[] = [];
    const first = lm.complete([1, 2], opts).then((r) => (order.push('first'), r));
    const second = lm.complete([1, 2], { ...opts, maxNewTokens: 4 }).then((r) => (order.push('second'), r));
    const [a, b] = await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
    expect(a.sequences[0].ids).toEqual(alone); // the queue does not disturb either run
    expect(b.sequences[0].ids).toEqual(alone.slice(0, 4));

    const running = lm.complete([1, 2], opts);
    await expect(lm.complete([1, 2], { ...opts, ifBusy: 'reject' })).rejects.toThrow(OptionError);
    const ac = new AbortController();
    const queued = lm.complete([1, 2], { ...opts, signal: ac.signal });
    ac.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    expect((await running).sequences[0].ids).toEqual(alone);
    await expect(lm.complete([1, 2], { ...opts, ifBusy: 'wait' as any })).rejects.toThrow(/ifBusy/);
    lm.dispose();
  });

  it('stepper.seek() moves the next decode step (benchmarks at long contexts) and checks its position', async () => {
    const lm = await load(gpu(), 'base');
    const stepper = lm.stepper;
    expect(() => stepper.seek(5)).toThrow(OptionError); // before start()
    await stepper.start([1, 2, 3], 1, resolveSampling({}, lm.config.vocabSize));
    stepper.seek(20);
    const [id] = await stepper.next();
    expect(id).toBeGreaterThanOrEqual(0);
    expect(id).toBeLessThan(lm.config.vocabSize);
    expect(() => stepper.seek(lm.config.nPositions)).toThrow(/position must be an integer in 1\.\./);
    stepper.end();
    lm.dispose();
  });
});
