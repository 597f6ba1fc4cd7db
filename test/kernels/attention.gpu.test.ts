// attention alone against a float64 causal softmax: prompts (pos0 = 0, T rows) and decode steps
// (T = 1, pos0 > 0, B sequences) over odd head sizes and head counts. The caches are filled directly
// (kv_store is tested on its own); positions past the last row's are NaN, so reading one shows.
import { describe, expect, it } from 'vitest';
import { attention, Plan, STEP, Tensor } from '../../src/kernels/index.js';
import { OptionError } from '../../src/errors.js';
import type { Gpu } from '../../src/runtime/device.js';
import { assertClose, randomArray } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';
import { attentionRef } from '../helpers/reference.js';

const SENTINEL = 4321.5;

interface Case {
  H: number;
  hd: number;
  T: number;
  B: number;
  pos0: number;
  /** cache positions and sequence slots */
  P: number;
  slots?: number;
  /** out holds this many rows more than are written */
  spare?: number;
}

async function runCase(g: Gpu, c: Case): Promise<void> {
  const { H, hd, T, B, pos0, P } = c;
  const slots = c.slots ?? B,
    spare = c.spare ?? 0;
  const C = H * hd,
    R = T * B;
  const seed = H * 1013 + hd * 101 + R * 7 + pos0;
  // q in [-3, 3), k and v in [-1, 1): scores of standard deviation 1 (up to ~5), so the softmax is
  // peaked for some rows and flat for others
  const qkv = randomArray(R * 3 * C, seed, 3);
  const k = randomArray(slots * P * C, seed + 1, 1);
  const v = randomArray(slots * P * C, seed + 2, 1);
  for (let s = 0; s < slots; s++)
    for (let p = pos0 + T; p < P; p++) for (let j = 0; j < C; j++) k[(s * P + p) * C + j] = v[(s * P + p) * C + j] = NaN;
  const tq = Tensor.from(g, qkv, [R, 3 * C], 'f32', 'qkv');
  const tk = Tensor.from(g, k, [slots, P, C], 'f32', 'k');
  const tv = Tensor.from(g, v, [slots, P, C], 'f32', 'v');
  const out = Tensor.from(g, new Float32Array((R + spare) * C).fill(SENTINEL), [R + spare, C], 'f32', 'out');
  const step = g.uniform(STEP.pack({ pos0, T, B }), 'step');
  const plan = new Plan(g, 'attention-test');
  await attention(plan, tq, { k: tk, v: tv }, step, out, R, H);
  await g.checked('attention', () => plan.submit());
  const got = await out.readFloat32();
  const ref = attentionRef(qkv, k, v, R, C, H, P, T, pos0);
  // out is a convex combination of v values in [-1, 1], so an absolute bound: an f32 score (hd
  // products, |score| up to ~5) is off by ~sqrt(hd) * 2^-24 * |score|, which exp turns into the same
  // relative error of its weight; the online rescaling and the sums over <= 66 positions add a few
  // ulp: ~1e-7..1e-6 for these sizes (2e-7 measured on lavapipe and SwiftShader)
  const what = `attention ${JSON.stringify(c)}`;
  assertClose(got.subarray(0, R * C), ref, { atol: 2e-6, rtol: 0, what });
  assertClose(got.subarray(R * C), new Float32Array(spare * C).fill(SENTINEL), { atol: 0, rtol: 0, what: `${what}: rows past R` });
  for (const t of [tq, tk, tv, out]) t.dispose();
  g.destroyBuffer(step);
  plan.dispose();
}

/**
 * Split-context decode (T = 1): the rows' own keys and values come from qkv (the cache holds NaN at
 * their positions, so reading it shows) and are written to the cache.
 */
async function runSplitCase(g: Gpu, c: { H: number; hd: number; B: number; pos0: number; P: number; slots?: number }): Promise<void> {
  const { H, hd, B, pos0, P } = c;
  const slots = c.slots ?? B;
  const C = H * hd,
    R = B;
  const seed = H * 2029 + hd * 17 + R * 5 + pos0;
  const qkv = randomArray(R * 3 * C, seed, 3);
  const k = randomArray(slots * P * C, seed + 1, 1);
  const v = randomArray(slots * P * C, seed + 2, 1);
  for (let s = 0; s < slots; s++)
    for (let p = pos0; p < P; p++) for (let j = 0; j < C; j++) k[(s * P + p) * C + j] = v[(s * P + p) * C + j] = NaN;
  const tq = Tensor.from(g, qkv, [R, 3 * C], 'f32', 'qkv');
  const tk = Tensor.from(g, k, [slots, P, C], 'f32', 'k');
  const tv = Tensor.from(g, v, [slots, P, C], 'f32', 'v');
  const out = Tensor.from(g, new Float32Array(R * C).fill(SENTINEL), [R, C], 'f32', 'out');
  const step = g.uniform(STEP.pack({ pos0, T: 1, B }), 'step');
  const plan = new Plan(g, 'attention-split-test');
  await attention(plan, tq, { k: tk, v: tv }, step, out, R, H, { variant: 'split' });
  await g.checked('attention split', () => plan.submit());
  // the reference sees the rows' keys and values where the kernel put them
  for (let b = 0; b < B; b++)
    for (let j = 0; j < C; j++) {
      k[(b * P + pos0) * C + j] = qkv[b * 3 * C + C + j];
      v[(b * P + pos0) * C + j] = qkv[b * 3 * C + 2 * C + j];
    }
  const what = `attention split ${JSON.stringify(c)}`;
  assertClose(await out.readFloat32(), attentionRef(qkv, k, v, R, C, H, P, 1, pos0), { atol: 2e-6, rtol: 0, what });
  const [gk, gv] = [await tk.readFloat32(), await tv.readFloat32()];
  for (let b = 0; b < B; b++) {
    const at = (b * P + pos0) * C;
    assertClose(gk.subarray(at, at + C), k.subarray(at, at + C), { atol: 0, rtol: 0, what: `${what}: cached key of sequence ${b}` });
    assertClose(gv.subarray(at, at + C), v.subarray(at, at + C), { atol: 0, rtol: 0, what: `${what}: cached value of sequence ${b}` });
  }
  for (const t of [tq, tk, tv, out]) t.dispose();
  g.destroyBuffer(step);
  plan.dispose();
}

describe('split-context decode attention against a float64 causal softmax', () => {
  const gpu = useGpu();
  // positions inside the first chunk, on chunk edges (31, 32, 63, 64) and past several chunks; odd head sizes and HD > 64
  for (const [H, hd, B, pos0, P] of [
    [1, 3, 1, 0, 8],
    [2, 15, 2, 9, 16],
    [12, 5, 1, 31, 40],
    [3, 17, 2, 32, 70],
    [2, 64, 1, 63, 100],
    [2, 64, 3, 64, 100],
    [1, 80, 1, 150, 200],
    [4, 8, 2, 199, 200],
  ] as const) {
    it(`B=${B} at position ${pos0} of ${P}, ${H} heads of ${hd}`, async () => runSplitCase(gpu(), { H, hd, B, pos0, P }));
  }
  it('decode for 2 of 4 cache slots', async () => runSplitCase(gpu(), { H: 3, hd: 7, B: 2, pos0: 45, P: 50, slots: 4 }));
});

describe('attention against a float64 causal softmax', () => {
  const gpu = useGpu();
  // [heads, head size]: odd sizes (1, 3, 15, 17), multiples of 4, and GPT-2's 64
  const heads: [number, number][] = [
    [1, 3],
    [2, 15],
    [3, 1],
    [4, 8],
    [5, 17],
    [2, 64],
  ];
  for (const T of [1, 5, 17]) {
    for (const [H, hd] of heads) {
      it(`prompt: T=${T}, ${H} heads of ${hd}`, async () => runCase(gpu(), { H, hd, T, B: 1, pos0: 0, P: 20 }));
    }
  }
  it("prompt of 65 rows (more than a workgroup of (row, head) pairs), 1 head of 3; rows < out's rows", async () =>
    runCase(gpu(), { H: 1, hd: 3, T: 65, B: 1, pos0: 0, P: 66, spare: 2 }));
  for (const [H, hd] of [
    [1, 3],
    [2, 15],
    [12, 5],
    [2, 64],
  ] as const) {
    it(`decode: B=2 at pos0=9, ${H} heads of ${hd}`, async () => runCase(gpu(), { H, hd, T: 1, B: 2, pos0: 9, P: 16 }));
  }
  it('decode at the last position of the cache, B=3 in 4 slots', async () =>
    runCase(gpu(), { H: 3, hd: 15, T: 1, B: 3, pos0: 39, P: 40, slots: 4 }));
  it('T=3 rows of each of B=2 sequences at pos0=4', async () => runCase(gpu(), { H: 2, hd: 7, T: 3, B: 2, pos0: 4, P: 10 }));

  it('bad shapes raise OptionError naming the tensor', async () => {
    const g = gpu();
    const qkv = Tensor.empty(g, [3, 24], 'f32', 'blk.qkv');
    const qkv21 = Tensor.empty(g, [3, 21], 'f32', 'blk.qkv21');
    const k = Tensor.empty(g, [1, 5, 8], 'f32', 'k0'),
      v = Tensor.empty(g, [1, 5, 8], 'f32', 'v0');
    const k7 = Tensor.empty(g, [1, 5, 7], 'f32', 'k7');
    const out = Tensor.empty(g, [3, 8], 'f32', 'blk.attn');
    const out2 = Tensor.empty(g, [2, 8], 'f32', 'blk.attn2');
    const step = g.uniform(STEP.pack({ pos0: 0, T: 3, B: 1 }), 'step');
    const plan = new Plan(g, 'bad');
    const rejects = (p: Promise<void>, re: RegExp) => Promise.all([expect(p).rejects.toThrow(OptionError), expect(p).rejects.toThrow(re)]);
    await rejects(attention(plan, qkv21, { k, v }, step, out, 3, 2), /qkv "blk\.qkv21" \[3, 21\] is not \[3, 24\]/);
    await rejects(attention(plan, qkv, { k: k7, v }, step, out, 3, 2), /cache k "k7" \[1, 5, 7\], v "v0" \[1, 5, 8\] is not \[B, P, 8\]/);
    await rejects(attention(plan, qkv, { k, v }, step, out2, 3, 2), /out "blk\.attn2" \[2, 8\] cannot hold 3 rows/);
    await rejects(attention(plan, qkv, { k, v }, step, out, 3, 3), /width 8 is not divisible by 3 heads/);
    await rejects(attention(plan, qkv, { k, v }, step, out, 3, 0), /0 heads/);
    expect(plan.dispatches.length).toBe(0);
    for (const t of [qkv, qkv21, k, v, k7, out, out2]) t.dispose();
    g.destroyBuffer(step);
    plan.dispose();
  });
});
