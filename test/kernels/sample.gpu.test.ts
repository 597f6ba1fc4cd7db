// sample alone against the CPU sampler (src/generation/sampling.ts): greedy with ties, the repetition
// penalty on positive and negative logits, temperature / top-k / top-p / seeded draws on both of the
// kernel's paths (kept tokens gathered in workgroup memory, or bisection over the whole row), rows
// with their own logits or one shared row, and ids, out and history as written.
//
// Sampled choices must equal sampleRow's exactly. The GPU sums in f32 and in another order than the
// CPU, so a draw (or a top-p cut) that lands within float error of a cumulative boundary could go
// either way: each case first checks, on the CPU, that its data keeps every decision well clear of
// its boundary (margins() below), so an inequality is a kernel bug, not a near-tie.
import { describe, expect, it } from 'vitest';
import { Plan, sample, samplerMeta, STEP, Tensor } from '../../src/kernels/index.js';
import { OptionError } from '../../src/errors.js';
import type { Gpu } from '../../src/runtime/device.js';
import {
  drawUniform,
  floatKey,
  keptDistribution,
  resolveSampling,
  sampleRow,
  scores,
  type ResolvedSampling,
  type SamplingOptions,
} from '../../src/generation/sampling.js';
import { randomArray, rng } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';

const HIST_SENTINEL = 0xfffffff0; // >= V: the penalty ignores it
const ID_SENTINEL = 0xeeeeeeee;

interface Case {
  V: number;
  opts: SamplingOptions;
  /** rows x V logits, or one row of V shared by all rows (logitsRowStride 0) */
  logits: Float32Array;
  rows: number;
  /** each row's history, all of length n = pos0 + T */
  hist: number[][];
  /** tokens in this step (the rest of the history is pos0); default 1 */
  T?: number;
  /** history row stride (n_positions) */
  P: number;
}

/** Runs the sampler once; checks ids == out, the history write at n = pos0 + T (if n < P) and that nothing else changed. */
async function runSample(g: Gpu, c: Case): Promise<number[]> {
  const { V, rows, P, hist } = c;
  const T = c.T ?? 1;
  const n = hist[0].length;
  const shared = c.logits.length === V && rows > 1;
  expect(hist.every((h) => h.length === n) && n >= T && hist.length === rows, 'test case: histories of one length n >= T').toBe(true);
  expect(c.logits.length, 'test case: logits size').toBe(shared ? V : rows * V);
  const o = resolveSampling(c.opts, V);
  const history = new Uint32Array(rows * P).fill(HIST_SENTINEL);
  hist.forEach((h, b) => history.set(h, b * P));
  const tl = Tensor.from(g, c.logits, [shared ? 1 : rows, V], 'f32', 'logits');
  const th = Tensor.from(g, history, [rows, P], 'u32', 'history');
  const ids = Tensor.from(g, new Uint32Array(rows + 1).fill(ID_SENTINEL), [rows + 1], 'u32', 'ids');
  const out = Tensor.from(g, new Uint32Array(rows + 1).fill(ID_SENTINEL), [rows + 1], 'u32', 'out');
  const step = g.uniform(STEP.pack({ pos0: n - T, T, B: rows }), 'step');
  const meta = g.uniform(samplerMeta(o, V, P, shared ? 0 : V), 'meta');
  const plan = new Plan(g, 'sample-test');
  await sample(plan, meta, step, tl, th, ids, out, rows, V);
  await g.checked('sample', () => plan.submit());
  const gotOut = Array.from(await out.read());
  const gotIds = Array.from(await ids.read());
  const gotHist = await th.read();
  for (const t of [tl, th, ids, out]) t.dispose();
  g.destroyBuffer(step);
  g.destroyBuffer(meta);
  plan.dispose();
  const chosen = gotOut.slice(0, rows);
  expect(gotIds, 'ids').toEqual([...chosen, ID_SENTINEL]);
  expect(gotOut[rows], 'out past the rows').toBe(ID_SENTINEL);
  const wantHist = history.slice();
  if (n < P) chosen.forEach((id, b) => (wantHist[b * P + n] = id));
  expect(Array.from(gotHist), `history: the choice at pos0 + T = ${n}${n < P ? '' : ' (none: n = P)'}, the rest unchanged`).toEqual(
    Array.from(wantHist),
  );
  return chosen;
}

/** Row b's logits (row 0 when shared). */
const rowOf = (c: Case, b: number) => (c.logits.length === c.V ? c.logits : c.logits.subarray(b * c.V, (b + 1) * c.V));

/**
 * How far the CPU sampler's decisions for a row are from their boundaries, relative: top (greedy: the
 * best score's lead over the second), k (the k-th score's lead over the next), p (the top-p cut's
 * distance from top_p of the mass) and draw (the draw's distance from the nearest cumulative boundary).
 */
function margins(
  logits: ArrayLike<number>,
  hist: number[],
  o: ResolvedSampling,
  row: number,
): { top: number; k: number; p: number; draw: number } {
  const s = scores(logits, hist, o);
  const sorted = Float64Array.from(s).sort().reverse();
  const gap = (i: number) => (i + 1 < sorted.length ? (sorted[i] - sorted[i + 1]) / Math.max(1, Math.abs(sorted[i])) : Infinity);
  const r = { top: gap(0), k: Infinity, p: Infinity, draw: Infinity };
  if (o.greedy) return r;
  if (o.topK > 0 && o.topK < s.length) r.k = gap(o.topK - 1);
  const keys = Array.from(s, floatKey);
  const keepK = o.topK > 0 && o.topK < s.length ? [...keys].sort((a, b) => b - a)[o.topK - 1] : 0;
  const mx = sorted[0];
  const mass = (t: number) => keys.reduce((m, k, i) => (k > t && k >= keepK ? m + Math.exp(s[i] - mx) : m), 0);
  const kept = keptDistribution(logits, hist, o);
  if (o.topP < 1) {
    const z0 = mass(0),
      target = o.topP * z0;
    const keptKeys = [...kept.keys()].map((i) => keys[i]);
    const lowestKept = Math.min(...keptKeys);
    const dropped = keys.filter((k) => k >= keepK && k < lowestKept);
    r.p = Math.abs(mass(lowestKept) - target) / z0; // the mass above the last kept token: < target
    if (dropped.length) r.p = Math.min(r.p, Math.abs(mass(Math.max(...dropped)) - target) / z0); // above the first dropped: >= target
  }
  const z = [...kept.values()].reduce((a, b) => a + b, 0);
  const u = drawUniform(o.seed, row, hist.length) * z;
  let acc = 0;
  for (const [, w] of [...kept].sort((a, b) => a[0] - b[0])) {
    acc += w;
    r.draw = Math.min(r.draw, Math.abs(acc - u) / z);
  }
  return r;
}

/**
 * The rows' choices equal sampleRow's, each decision being clear of its boundary: masses 1e-5 of the
 * total apart (f32 sums of up to 50257 positive terms err by ~1e-6 relative in any order), and with a
 * repetition penalty scores 1e-6 apart (several f32 ulp: the GPU divides in f32 within 2.5 ulp, the
 * CPU in float64 then rounds). Without one the scores are the same f32 values on both sides (the
 * temperature's multiplication is correctly rounded on both), so ties there are decided alike.
 */
async function expectSampleRow(g: Gpu, c: Case): Promise<number[]> {
  const o = resolveSampling(c.opts, c.V);
  const want = c.hist.map((h, b) => sampleRow(rowOf(c, b), h, o, b));
  c.hist.forEach((h, b) => {
    const m = margins(rowOf(c, b), h, o, b);
    const what = `test data, row ${b}: a near-tie (${JSON.stringify(m)}); pick other logits or another seed`;
    if (o.repetitionPenalty !== 1) expect(Math.min(m.k, ...(o.greedy ? [m.top] : [])), what).toBeGreaterThan(1e-6);
    expect(Math.min(m.p, m.draw), what).toBeGreaterThan(1e-5);
  });
  const got = await runSample(g, c);
  expect(got, `GPU vs sampleRow, ${JSON.stringify(c.opts)} V=${c.V}`).toEqual(want);
  return got;
}

/** Random logits in [-scale, scale). */
const flat = (n: number, seed: number, scale = 3) => randomArray(n, seed, scale);

/**
 * rows x V logits in [-4, 4) with `head` tokens per row raised to [16, 20): the tail holds ~1e-4 of
 * the mass, and the cases using this cut the kept set inside the head (top-k below the head's size,
 * or top-p), so the cuts and the draw happen among the head's well-separated cumulative boundaries,
 * not among 50000 tiny ones (the draw scans in vocabulary order, where a kept tail's boundaries
 * would sit between the head's).
 */
function peaked(V: number, rows: number, head: number, seed: number): Float32Array {
  const l = randomArray(rows * V, seed, 4);
  const r = rng(seed + 1);
  for (let b = 0; b < rows; b++) for (let i = 0; i < head; i++) l[b * V + Math.floor(r() * V)] = 16 + 4 * r();
  return l;
}

/** rows histories of length n of tokens in [0, V). */
function histories(rows: number, n: number, V: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: n }, () => Math.floor(r() * V)));
}

describe('sample against the CPU sampler', () => {
  const gpu = useGpu();

  describe('greedy', () => {
    for (const V of [1, 7, 300, 1000, 50257]) {
      it(`argmax of 3 rows, V=${V}`, async () => {
        await expectSampleRow(gpu(), { V, opts: {}, logits: flat(3 * V, V), rows: 3, hist: histories(3, 5, V, V), P: 8 });
      });
    }

    it('ties go to the lowest index, in one lane of the workgroup or across lanes', async () => {
      const V = 1000;
      const logits = flat(4 * V, 77);
      const ties = [
        [45, 300, 556, 999],
        [999, 0],
        [301, 557, 813],
        [44, 300],
      ]; // v % 256: the invocation that scans v
      ties.forEach((t, b) => t.forEach((i) => (logits[b * V + i] = 10)));
      const got = await runSample(gpu(), { V, opts: {}, logits, rows: 4, hist: histories(4, 3, V, 1), P: 4 });
      expect(got).toEqual([45, 0, 301, 44]);
    });

    it('ties: a constant row picks 0; V=50257 picks the lowest of three', async () => {
      expect(await runSample(gpu(), { V: 7, opts: {}, logits: new Float32Array(7).fill(0.5), rows: 1, hist: [[3]], P: 2 })).toEqual([0]);
      const V = 50257;
      const logits = flat(V, 5);
      for (const i of [50256, 40000, 12345]) logits[i] = 9;
      expect(await runSample(gpu(), { V, opts: {}, logits, rows: 1, hist: [[1, 2]], P: 10 })).toEqual([12345]);
    });

    it('greedy ignores an explicit temperature (scaling could merge near-equal logits)', async () => {
      // 1.5000009536743164 and 1.500001072883606 are neighbouring floats: times 1/3 they round to one value
      const logits = Float32Array.from([1.5000009536743164, 1.500001072883606, 0]);
      expect(await runSample(gpu(), { V: 3, opts: { greedy: true, temperature: 3 }, logits, rows: 1, hist: [[2]], P: 4 })).toEqual([1]);
    });

    it('a row without a finite score still yields a token of the vocabulary (0, as the CPU sampler)', async () => {
      const logits = Float32Array.from([-Infinity, -Infinity, -Infinity, NaN]);
      for (const opts of [{}, { temperature: 1, seed: 1 }, { topP: 0.9, seed: 1 }, { topK: 2, seed: 3 }]) {
        const [id] = await runSample(gpu(), { V: 4, opts, logits, rows: 1, hist: [[1]], P: 4 });
        expect(id, JSON.stringify(opts)).toBeLessThan(4);
      }
      expect(await runSample(gpu(), { V: 4, opts: {}, logits, rows: 1, hist: [[1]], P: 4 })).toEqual([0]);
    });

    it('temperature 0 is greedy', async () => {
      const V = 300;
      await expectSampleRow(gpu(), {
        V,
        opts: { temperature: 0, topK: 5, seed: 1 },
        logits: flat(2 * V, 3),
        rows: 2,
        hist: histories(2, 4, V, 2),
        P: 6,
      });
    });
  });

  describe('repetition penalty', () => {
    it('divides a positive score of a seen token and multiplies a negative one', async () => {
      const V = 7;
      const logits = Float32Array.from([
        // row 0: the best (3) is seen: 3 / 1.5 = 2 < 2.5
        3, 2.5, 1, -1, 0, -2, 0.5,
        // row 1: all negative, the best (-1) is seen: -1 * 1.5 = -1.5 < -1.2
        -1, -1.2, -2, -3, -1.6, -4, -5,
        // row 2: the seen -0.5 becomes -0.75, still above -1 (dividing it would have given -0.33)
        -1, -1, -1, -0.5, -2, -1.1, -3,
        // row 3: token 6 is seen twice, penalised once: 2 / 1.5 = 1.33 > 1.3; a history id >= V is ignored
        1.3, 0, 0, 0, 0, 0, 2,
      ]);
      const hist = [
        [0, 5, 3],
        [0, 3, 4],
        [3, 6, 5],
        [6, 6, 1000],
      ];
      const got = await expectSampleRow(gpu(), { V, opts: { repetitionPenalty: 1.5 }, logits, rows: 4, hist, P: 5 });
      expect(got).toEqual([1, 1, 3, 6]);
    });

    it('a penalty < 1 raises seen tokens', async () => {
      const V = 7;
      const logits = Float32Array.from([1, 1.5, 0, 0, 0, 0, 0, /**/ -1, -0.4, -0.5, -0.3, -2, -3, -4]);
      // row 0: 1 / 0.5 = 2 > 1.5; row 1: -0.4 * 0.5 = -0.2 > -0.3
      const got = await expectSampleRow(gpu(), {
        V,
        opts: { repetitionPenalty: 0.5 },
        logits,
        rows: 2,
        hist: [
          [0, 2],
          [1, 5],
        ],
        P: 3,
      });
      expect(got).toEqual([0, 1]);
    });

    it('over 40 seen tokens of V=1000 (the history as a bitmap), with a shared logits row', async () => {
      const V = 1000;
      const logits = flat(V, 8);
      const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
      // row b has seen the best 10 b tokens (and some others): the pick moves down the ranking
      const hist = [0, 1, 2, 3].map((b) => [...order.slice(0, 10 * b), ...histories(1, 40 - 10 * b, V, b)[0]]);
      await expectSampleRow(gpu(), { V, opts: { repetitionPenalty: 1.3 }, logits, rows: 4, hist, P: 48 });
      await expectSampleRow(gpu(), { V, opts: { repetitionPenalty: 1.3, temperature: 0.9, seed: 4 }, logits, rows: 4, hist, P: 48 });
    });
  });

  describe('temperature, top-k, top-p and seeded draws', () => {
    const cases: [string, SamplingOptions, number, (rows: number, V: number) => Float32Array][] = [
      ['temperature only (every token kept)', { temperature: 0.7, seed: 1 }, 300, (R, V) => flat(R * V, 21)],
      ['top-k 5 of 7', { topK: 5, seed: 2 }, 7, (R, V) => flat(R * V, 22)],
      ['top-k 1: the argmax', { topK: 1, temperature: 2, seed: 3 }, 1000, (R, V) => flat(R * V, 23)],
      [
        'top-p 0.3 + temperature 0.5 + penalty 1.3',
        { topP: 0.3, temperature: 0.5, repetitionPenalty: 1.3, seed: 4 },
        1000,
        (R, V) => flat(R * V, 24),
      ],
      [
        'top-k 40 + top-p 0.9 + temperature 0.8 (gathered)',
        { topK: 40, topP: 0.9, temperature: 0.8, seed: 5 },
        50257,
        (R, V) => peaked(V, R, 30, 25),
      ],
      ['top-p 0.8 alone (V > 1024: bisection)', { topP: 0.8, seed: 6 }, 50257, (R, V) => peaked(V, R, 30, 26)],
      [
        'top-k 1500 of a 2000-token head + temperature 1.5 (k > 1024: radix select, bisection)',
        { topK: 1500, temperature: 1.5, seed: 7 },
        50257,
        (R, V) => peaked(V, R, 2000, 27),
      ],
      [
        'top-k 2000 of a 3000-token head + top-p 0.6 + penalty (bisection)',
        { topK: 2000, topP: 0.6, repetitionPenalty: 1.2, seed: 8 },
        50257,
        (R, V) => peaked(V, R, 3000, 31),
      ],
      ['V = 1', { temperature: 1.3, topP: 0.5, seed: 9 }, 1, (R, V) => flat(R * V, 29)],
    ];
    for (const [name, opts, V, make] of cases) {
      it(`${name}, V=${V}, 3 rows`, async () => {
        const rows = 3;
        await expectSampleRow(gpu(), { V, opts, logits: make(rows, V), rows, hist: histories(rows, 6, V, V + 1), P: 9 });
      });
    }

    it('the seed, the row and the history length change the draw', async () => {
      const V = 300,
        rows = 4;
      const logits = flat(V, 31, 0.5); // near-uniform: the draw decides
      const hist = histories(rows, 5, V, 32);
      const runs: number[][] = [];
      for (const [seed, n] of [
        [100, 5],
        [101, 5],
        [100, 4],
      ] as const) {
        runs.push(
          await expectSampleRow(gpu(), { V, opts: { temperature: 1, seed }, logits, rows, hist: hist.map((h) => h.slice(0, n)), P: 8 }),
        );
      }
      expect(new Set(runs[0]).size, 'rows of one shared logits row draw apart').toBeGreaterThan(1);
      expect(runs[1]).not.toEqual(runs[0]);
      expect(runs[2]).not.toEqual(runs[0]);
    });
  });

  describe('rows, logits row stride and history', () => {
    it('a prompt (pos0 = 0, T = 6) shared by 4 rows: logitsRowStride 0', async () => {
      const V = 1000;
      const prompt = histories(1, 6, V, 41)[0];
      const hist = [prompt, prompt, prompt, prompt];
      await expectSampleRow(gpu(), { V, opts: { topK: 50, temperature: 1.2, seed: 12 }, logits: flat(V, 42), rows: 4, hist, T: 6, P: 10 });
      // greedy: one choice for all
      const got = await expectSampleRow(gpu(), { V, opts: {}, logits: flat(V, 43), rows: 4, hist, T: 6, P: 10 });
      expect(new Set(got).size).toBe(1);
    });

    it('65 rows of their own logits (stride V), decode at pos0 = 11', async () => {
      const V = 300,
        rows = 65;
      await expectSampleRow(gpu(), {
        V,
        opts: { topK: 20, topP: 0.9, seed: 13 },
        logits: flat(rows * V, 44),
        rows,
        hist: histories(rows, 12, V, 45),
        P: 16,
      });
    });

    it('a full history (pos0 + T = P) is not written past its end; ids and out still are', async () => {
      const V = 7;
      await expectSampleRow(gpu(), {
        V,
        opts: { seed: 14, temperature: 1 },
        logits: flat(2 * V, 46),
        rows: 2,
        hist: histories(2, 7, V, 47),
        P: 7,
      });
      await expectSampleRow(gpu(), { V, opts: {}, logits: flat(2 * V, 48), rows: 2, hist: histories(2, 7, V, 49), P: 7, T: 7 });
    });
  });

  it('bad shapes raise OptionError naming the tensor', async () => {
    const g = gpu();
    const logits = Tensor.empty(g, [2, 9], 'f32', 'lm.logits');
    const history = Tensor.empty(g, [2, 8], 'u32', 'history');
    const history1 = Tensor.empty(g, [1, 8], 'u32', 'history1');
    const ids = Tensor.empty(g, [2], 'u32', 'ids'),
      out = Tensor.empty(g, [2], 'u32', 'out');
    const ids1 = Tensor.empty(g, [1], 'u32', 'ids1');
    const step = g.uniform(STEP.pack({ pos0: 0, T: 1, B: 2 }), 'step');
    const meta = g.uniform(samplerMeta(resolveSampling({}, 9), 9, 8, 9), 'meta');
    const plan = new Plan(g, 'bad');
    const rejects = (p: Promise<void>, re: RegExp) => Promise.all([expect(p).rejects.toThrow(OptionError), expect(p).rejects.toThrow(re)]);
    await rejects(sample(plan, meta, step, logits, history, ids, out, 2, 10), /logits "lm\.logits" \[2, 9\] do not have 10 columns/);
    await rejects(sample(plan, meta, step, logits, history, ids1, out, 2, 9), /2 rows do not fit "ids1" \[1\]/);
    await rejects(sample(plan, meta, step, logits, history, ids, ids1, 2, 9), /2 rows do not fit "ids1" \[1\]/);
    await rejects(sample(plan, meta, step, logits, history1, ids, out, 2, 9), /2 rows do not fit "history1" \[1, 8\]/);
    expect(plan.dispatches.length).toBe(0);
    for (const t of [logits, history, history1, ids, out, ids1]) t.dispose();
    g.destroyBuffer(step);
    g.destroyBuffer(meta);
    plan.dispose();
  });
});
