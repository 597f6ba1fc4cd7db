// Sampling options and their CPU reference: the same algorithm as kernels/sample.wgsl, in plain
// TypeScript (float64 sums), so the sampler's logic is testable without a GPU and the generation
// loop can run against a fake forward pass.
import { OptionError } from '../errors.js';

export interface SamplingOptions {
  /** Always take the most likely token. Default: true unless temperature/topK/topP is given. */
  greedy?: boolean;
  temperature?: number;
  /** Keep the k most likely tokens (ties at the k-th value are kept, as transformers does). 0: off. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP. 1: off. */
  topP?: number;
  /** transformers' repetition_penalty: scores of tokens already in the sequence are divided (or, if negative, multiplied) by it. */
  repetitionPenalty?: number;
  /** Same seed, same text. Default: a random seed. */
  seed?: number;
}

export interface ResolvedSampling {
  greedy: boolean;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;
}

export function resolveSampling(o: SamplingOptions, vocabSize: number): ResolvedSampling {
  const num = (name: string, v: unknown, ok: (x: number) => boolean, what: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new OptionError(`${name} must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const sampling = o.greedy === false || o.temperature !== undefined || o.topK !== undefined || o.topP !== undefined;
  const greedy = o.greedy ?? !sampling;
  const temperature = o.temperature === undefined ? 1 : num('temperature', o.temperature, (x) => x >= 0, 'a number >= 0');
  const topK = o.topK === undefined ? 0 : num('topK', o.topK, (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0');
  const topP = o.topP === undefined ? 1 : num('topP', o.topP, (x) => x > 0 && x <= 1, 'in (0, 1]');
  const repetitionPenalty =
    o.repetitionPenalty === undefined ? 1 : num('repetitionPenalty', o.repetitionPenalty, (x) => x > 0, 'a number > 0');
  const seed = o.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : num('seed', o.seed, (x) => Number.isInteger(x), 'an integer');
  return {
    greedy: greedy || temperature === 0, // temperature 0 is the greedy limit
    temperature: temperature === 0 ? 1 : temperature,
    topK: Math.min(topK, vocabSize),
    topP,
    repetitionPenalty,
    seed: seed >>> 0,
  };
}

export function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The uniform draw in [0, 1) for row `row` at history length `n`: the shader's formula. */
export function drawUniform(seed: number, row: number, n: number): number {
  const h = pcg((seed ^ pcg((Math.imul(row, 0x9e3779b9) ^ pcg(n)) >>> 0)) >>> 0);
  return (h >>> 8) / 16777216;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Order-preserving u32 key of a float32. */
export function floatKey(s: number): number {
  f32[0] = s;
  const b = u32[0];
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
}

/** Scores after the repetition penalty and temperature, rounded to float32 as the shader computes them. */
export function scores(logits: ArrayLike<number>, history: readonly number[], o: ResolvedSampling): Float32Array {
  const s = Float32Array.from(logits);
  if (o.repetitionPenalty !== 1) {
    for (const t of new Set(history)) if (t < s.length) s[t] = s[t] < 0 ? s[t] * o.repetitionPenalty : s[t] / o.repetitionPenalty;
  }
  const inv = Math.fround(1 / o.temperature);
  if (!o.greedy) for (let i = 0; i < s.length; i++) s[i] = s[i] * inv;
  return s;
}

/** The tokens the sampler may choose (top-k then top-p), with their unnormalised weights. */
export function keptDistribution(logits: ArrayLike<number>, history: readonly number[], o: ResolvedSampling): Map<number, number> {
  const s = scores(logits, history, o);
  const keys = Array.from(s, floatKey);
  const mx = Math.max(...s);
  let keep = 0;
  if (o.topK > 0 && o.topK < s.length) keep = [...keys].sort((a, b) => b - a)[o.topK - 1];
  const massAbove = (t: number) => {
    let m = 0;
    for (let i = 0; i < s.length; i++) if (keys[i] > t && keys[i] >= keep) m += Math.exp(s[i] - mx);
    return m;
  };
  if (o.topP < 1) {
    const target = o.topP * massAbove(0);
    // largest key t with mass(key > t) >= target: among the kept keys, sorted descending
    const sorted = [...new Set(keys.filter((k) => k >= keep))].sort((a, b) => b - a);
    let t = 0;
    for (const k of sorted) {
      if (massAbove(k) >= target) {
        t = k;
        break;
      }
    }
    keep = Math.max(keep, t + 1);
  }
  const out = new Map<number, number>();
  for (let i = 0; i < s.length; i++) if (keys[i] >= keep) out.set(i, Math.exp(s[i] - mx));
  return out;
}

/** The CPU sampler: the token the GPU sampler picks for this row (up to float summation order). */
export function sampleRow(logits: ArrayLike<number>, history: readonly number[], o: ResolvedSampling, row: number): number {
  if (o.greedy) {
    const s = scores(logits, history, o);
    let best = 0;
    for (let i = 1; i < s.length; i++) if (s[i] > s[best]) best = i;
    return best;
  }
  const kept = keptDistribution(logits, history, o);
  let z = 0;
  for (const w of kept.values()) z += w;
  const target = drawUniform(o.seed, row, history.length) * z;
  let acc = 0;
  let last = -1;
  for (const [i, w] of [...kept].sort((a, b) => a[0] - b[0])) {
    last = i;
    acc += w;
    if (acc > target) return i;
  }
  return last;
}
