// embedding alone against the float64 CPU reference: f32, f16 and 8-bit wte (f16 read natively on
// lavapipe, packed two per u32 on SwiftShader; q8 rows dequantized), odd widths, ids at the first and last vocabulary rows,
// a vocabulary split over several buffers, and T x B rows at pos0 > 0.
import { describe, expect, it } from 'vitest';
import { ChunkedTensor, embedding, Plan, STEP, Tensor } from '../../src/kernels/index.js';
import { OptionError } from '../../src/errors.js';
import { Gpu } from '../../src/runtime/device.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/runtime/half.js';
import { dequantizeQ8, Q8Tensor, quantizeQ8 } from '../../src/runtime/q8.js';
import { assertClose, randomArray, rng } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';
import { embeddingRef } from '../helpers/reference.js';

const SENTINEL = -777.25;

interface Case {
  V: number;
  C: number;
  P: number;
  wte: 'f32' | 'f16' | 'q8';
  wpe: 'f32' | 'f16';
  T: number;
  B: number;
  pos0: number;
  /** x holds this many rows more than are written */
  spare?: number;
  /** explicit ids (default: random, with 0 and V-1 among them) */
  ids?: number[];
  /** the chunks ChunkedTensor.from must make on this device (checked) */
  chunks?: number;
}

async function runCase(g: Gpu, c: Case): Promise<void> {
  const { V, C, P, T, B, pos0 } = c;
  const R = T * B,
    spare = c.spare ?? 0;
  const seed = V * 131 + C * 7 + R;
  // the reference sees the values as stored: halves where the table is f16
  const asStored = (a: Float32Array, dtype: 'f32' | 'f16') => (dtype === 'f16' ? f16ArrayToF32(f32ArrayToF16(a)) : a);
  const wteValues = randomArray(V * C, seed, 1);
  const q8 = c.wte === 'q8' ? quantizeQ8(wteValues, V, C, 1, 'wte') : undefined;
  const wte = q8 ? dequantizeQ8(q8) : asStored(wteValues, c.wte as 'f32' | 'f16');
  const wpe = asStored(randomArray(P * C, seed + 1, 0.5), c.wpe);
  let ids = c.ids;
  if (!ids) {
    const r = rng(seed + 2);
    ids = Array.from({ length: R }, () => Math.floor(r() * V));
    ids[0] = V - 1;
    if (R > 1) ids[R - 1] = 0;
  }
  const tids = Tensor.from(g, Uint32Array.from([...ids, ...new Array(spare).fill(1)]), [R + spare], 'u32', 'ids');
  const twte = q8
    ? Q8Tensor.from(g, q8, 'nk', 'wte')
    : ChunkedTensor.from(g, c.wte === 'f16' ? f32ArrayToF16(wte) : wte, V, C, c.wte as 'f32' | 'f16', 'wte');
  if (c.chunks !== undefined) expect(twte.chunks.length, 'wte chunks').toBe(c.chunks);
  const twpe = Tensor.from(g, c.wpe === 'f16' ? f32ArrayToF16(wpe) : wpe, [P, C], c.wpe, 'wpe');
  const x = Tensor.from(g, new Float32Array((R + spare) * C).fill(SENTINEL), [R + spare, C], 'f32', 'x');
  const step = g.uniform(STEP.pack({ pos0, T, B }), 'step');
  const plan = new Plan(g, 'embedding-test');
  await embedding(plan, tids, twte, twpe, step, x, R);
  await g.checked('embedding', () => plan.submit());
  const got = await x.readFloat32();
  // one f32 addition of two exactly representable values (q8: an int8 times an f16 scale is exact in
  // f32): correctly rounded, so within half an ulp (2^-24 relative) of the float64 sum; 2^-23 leaves a
  // factor 2 of margin
  const what = `embedding ${JSON.stringify({ ...c, ids: undefined })}`;
  assertClose(got.subarray(0, R * C), embeddingRef(ids, wte, wpe, C, T, pos0), { atol: 0, rtol: 2 ** -23, what });
  assertClose(got.subarray(R * C), new Float32Array(spare * C).fill(SENTINEL), { atol: 0, rtol: 0, what: `${what}: rows past R` });
  for (const t of [tids, twte, twpe, x]) t.dispose();
  g.destroyBuffer(step);
  plan.dispose();
}

describe('embedding against a float64 CPU reference', () => {
  const gpu = useGpu();
  const dtypes = [
    ['f32', 'f32'],
    ['f16', 'f16'],
    ['f16', 'f32'],
    ['f32', 'f16'],
    ['q8', 'f32'],
    ['q8', 'f16'],
  ] as const;
  const shapes: [number, number][] = [
    [1, 1],
    [7, 3],
    [300, 17],
    [65, 63],
    [50, 769],
  ];
  for (const [wte, wpe] of dtypes) {
    for (const [V, C] of shapes) {
      it(`wte ${wte}, wpe ${wpe}: V=${V} C=${C}, prompt of 5`, async () => runCase(gpu(), { V, C, P: 9, wte, wpe, T: 5, B: 1, pos0: 0 }));
    }
    it(`wte ${wte}, wpe ${wpe}: T=3 x B=4 rows at pos0=6, ids 0 and V-1`, async () =>
      runCase(gpu(), { V: 300, C: 17, P: 10, wte, wpe, T: 3, B: 4, pos0: 6, ids: [0, 299, 5, 299, 0, 0, 17, 298, 1, 299, 150, 0] }));
    it(`wte ${wte}, wpe ${wpe}: decode, B=3 rows at pos0=20, the last position`, async () =>
      runCase(gpu(), { V: 1000, C: 65, P: 21, wte, wpe, T: 1, B: 3, pos0: 20, ids: [999, 0, 512] }));
  }
  it("65 and 17 rows (more than a workgroup of values), rows < x's rows", async () => {
    await runCase(gpu(), { V: 7, C: 1, P: 70, wte: 'f32', wpe: 'f32', T: 65, B: 1, pos0: 0, spare: 3 });
    await runCase(gpu(), { V: 300, C: 63, P: 40, wte: 'f16', wpe: 'f16', T: 17, B: 1, pos0: 21, spare: 2 });
  });

  it("a vocabulary split over several buffers: every chunk's first and last row", async () => {
    // 4 KiB bindings: 60 rows of 17 f32 per chunk (68 bytes a row, kept even), 120 rows of 17 halves
    const g = await Gpu.create({ capLimits: { maxStorageBufferBindingSize: 4096 } });
    try {
      const V = 301,
        C = 17;
      const f32Ids = [0, 59, 60, 119, 120, 179, 180, 239, 240, 299, 300, 7, 133];
      await runCase(g, { V, C, P: 20, wte: 'f32', wpe: 'f32', T: 13, B: 1, pos0: 0, ids: f32Ids, chunks: 6 });
      const f16Ids = [300, 0, 119, 120, 239, 240, 1, 77, 299, 121];
      await runCase(g, { V, C, P: 20, wte: 'f16', wpe: 'f16', T: 5, B: 2, pos0: 3, ids: f16Ids, chunks: 3 });
      await runCase(g, { V, C, P: 20, wte: 'f16', wpe: 'f32', T: 1, B: 4, pos0: 19, ids: [240, 119, 300, 0], chunks: 3 });
      // one row per buffer: 769 f32 (3076 bytes), and 2047 halves (4094 bytes, an odd count of halves)
      await runCase(g, { V: 5, C: 769, P: 3, wte: 'f32', wpe: 'f32', T: 2, B: 2, pos0: 1, ids: [4, 0, 2, 3], chunks: 5 });
      await runCase(g, { V: 3, C: 2047, P: 2, wte: 'f16', wpe: 'f16', T: 1, B: 4, pos0: 1, ids: [2, 1, 0, 2], chunks: 3 });
      // q8: rows of 17 int8 padded to a block of 32 bytes, 128 rows a chunk; 2047 values are 2048 bytes, 2 rows a chunk
      const q8Ids = [0, 127, 128, 255, 256, 300, 5, 299];
      await runCase(g, { V, C, P: 20, wte: 'q8', wpe: 'f32', T: 4, B: 2, pos0: 2, ids: q8Ids, chunks: 3 });
      await runCase(g, { V: 5, C: 2047, P: 2, wte: 'q8', wpe: 'f16', T: 1, B: 4, pos0: 1, ids: [4, 1, 0, 2], chunks: 3 });
      expect(g.memory().liveBuffers).toBe(0);
    } finally {
      g.dispose();
    }
  });

  it('bad shapes raise OptionError naming the tensor', async () => {
    const g = gpu();
    const wte = ChunkedTensor.from(g, new Float32Array(10 * 8), 10, 8, 'f32', 'wte');
    const wpe = Tensor.empty(g, [6, 8], 'f32', 'wpe');
    const wpe7 = Tensor.empty(g, [6, 7], 'f32', 'wpe7');
    const ids = Tensor.empty(g, [4], 'u32', 'tok.ids');
    const idsF = Tensor.empty(g, [4], 'f32', 'tok.idsF');
    const x = Tensor.empty(g, [4, 8], 'f32', 'emb.x');
    const x3 = Tensor.empty(g, [3, 8], 'f32', 'emb.x3');
    const step = g.uniform(STEP.pack({ pos0: 0, T: 4, B: 1 }), 'step');
    const plan = new Plan(g, 'bad');
    const rejects = (p: Promise<void>, re: RegExp) => Promise.all([expect(p).rejects.toThrow(OptionError), expect(p).rejects.toThrow(re)]);
    await rejects(embedding(plan, idsF, wte, wpe, step, x, 4), /ids "tok\.idsF" must be u32, got f32/);
    await rejects(embedding(plan, ids, wte, wpe, step, x, 5), /5 rows do not fit ids "tok\.ids" or x "emb\.x"/);
    await rejects(embedding(plan, ids, wte, wpe, step, x3, 4), /4 rows do not fit .*"emb\.x3"/);
    // the width check names the tables by role and shape, not by label
    await rejects(embedding(plan, ids, wte, wpe7, step, x, 4), /wpe "wpe7" \[6, 7\] and wte "wte" \[10, 8\] differ in width/);
    expect(plan.dispatches.length).toBe(0);
    for (const t of [wte, wpe, wpe7, ids, idsF, x, x3]) t.dispose();
    g.destroyBuffer(step);
    plan.dispose();
  });
});
