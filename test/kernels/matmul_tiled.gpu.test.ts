// The GPU-shaped prefill matmul (tiled.wgsl: 64 x 64 tiles of y, x and W copied to workgroup memory 16
// values of K at a time), forced with shape 'gpu' so that it runs on both software drivers, against a
// float64 CPU product: both layouts, every weight format (f32, f16 native and packed, q8 against its
// dequantized weights), ragged M, N and K (partial tiles each way; K shorter than a step, not a multiple
// of 4, a q8 block cut short), epilogues, accumulation, row offsets and chunked [N, K] weights.
import { afterAll, describe, expect, it } from 'vitest';
import { chooseMatmul, matmul } from '../../src/kernels/matmul/index.js';
import type { Activation } from '../../src/kernels/epilogue.js';
import { ChunkedTensor } from '../../src/runtime/chunked.js';
import { Gpu } from '../../src/runtime/device.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/runtime/half.js';
import { Plan } from '../../src/runtime/plan.js';
import { dequantizeQ8, Q8Tensor, quantizeQ8 } from '../../src/runtime/q8.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { assertClose, randomArray } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';
import { activations, matmulRef } from '../helpers/reference.js';

type Format = 'f32' | 'f16 native' | 'f16 packed' | 'q8';

interface Case {
  M: number;
  K: number;
  N: number;
  layout: 'kn' | 'nk';
  format: Format;
  bias?: boolean;
  act?: Activation;
  /** A per-column scale and shift after the activation (a GAN's batch norm). */
  post?: boolean;
  acc?: boolean;
  rowOffset?: number;
  /** Split an [N, K] weight into chunks (needs a device with a small binding limit). */
  chunked?: boolean;
}

/** The largest error against the reference (in units of the tolerance's atol) over the file. */
let worst = { err: 0, what: '' };

async function runCase(g: Gpu, c: Case): Promise<string[]> {
  const { M, K, N, layout, format } = c;
  const rowOffset = c.rowOffset ?? 0;
  const seed = M * 7919 + K * 31 + N;
  const x = randomArray((M + rowOffset) * K, seed, 1);
  const [wr, wc] = layout === 'kn' ? [K, N] : [N, K];
  let w = randomArray(K * N, seed + 1, 1 / Math.sqrt(K));
  let tw: Tensor | ChunkedTensor | Q8Tensor;
  if (format === 'q8') {
    const q = quantizeQ8(w, wr, wc, layout === 'kn' ? 0 : 1, 'w');
    w = dequantizeQ8(q); // the reference sees the stored int8 values times their scales
    tw = Q8Tensor.from(g, q, layout, 'w');
  } else {
    const dtype = format === 'f32' ? 'f32' : 'f16';
    const data = dtype === 'f16' ? f32ArrayToF16(w) : w;
    if (dtype === 'f16') w = f16ArrayToF32(data as Uint16Array); // the reference sees the stored halves
    tw = c.chunked ? ChunkedTensor.from(g, data, wr, wc, dtype, 'w') : Tensor.from(g, data, [wr, wc], dtype, 'w');
  }
  const b = c.bias ? randomArray(N, seed + 2, 0.5) : undefined;
  const post = c.post ? randomArray(2 * N, seed + 4, 1) : undefined;
  const prior = randomArray(M * N, seed + 3, 1);
  const tx = Tensor.from(g, x, [M + rowOffset, K], 'f32', 'x');
  const tb = b ? Tensor.from(g, b, [N], 'f32', 'bias') : undefined;
  const tp = post ? Tensor.from(g, post, [2, N], 'f32', 'post') : undefined;
  const tout = Tensor.from(g, prior, [M, N], 'f32', 'out');
  const plan = new Plan(g, 'matmul-tiled-test');
  try {
    const f16 = format === 'f16 native' ? 'native' : format === 'f16 packed' ? 'packed' : undefined;
    const opts = { layout, bias: tb, act: c.act, post: tp, accumulate: c.acc, xRowOffset: rowOffset, rows: M, f16, shape: 'gpu' } as const;
    await matmul(plan, tx, tw, tout, opts);
    await g.checked('matmul tiled', () => plan.submit());
    const got = await tout.read();
    const ref = matmulRef(x.subarray(rowOffset * K), w, M, K, N, layout, b, activations[c.act ?? 'none']);
    if (post) for (let i = 0; i < ref.length; i++) ref[i] = ref[i] * post[i % N] + post[N + (i % N)];
    if (c.acc) for (let i = 0; i < ref.length; i++) ref[i] += prior[i];
    // f32 sums of K terms of size ~1/sqrt(K) (in another order than the CPU's): error ~ sqrt(K) * 2^-24
    const atol = 2e-6 * Math.sqrt(K);
    const what = `matmul tiled ${JSON.stringify(c)}`;
    const r = assertClose(got, ref, { atol, rtol: 1e-5, what });
    if (r.maxAbsError / atol > worst.err)
      worst = { err: r.maxAbsError / atol, what: `${what}: max |diff| ${r.maxAbsError.toExponential(2)}` };
    return plan.dispatches.map((d) => d.kernel);
  } finally {
    for (const t of [tx, tw, tb, tp, tout]) t?.dispose();
    plan.dispose();
  }
}

describe("the GPU-shaped prefill matmul (shape 'gpu') against a float64 CPU reference", () => {
  const gpu = useGpu();
  afterAll(() => console.info(`largest error: ${worst.err.toFixed(3)} x atol (${worst.what})`));
  const formats = (g: Gpu): Format[] => ['f32', ...(g.hasF16 ? (['f16 native'] as const) : []), 'f16 packed', 'q8'];
  // M across 1-3 row tiles of 64, N across 1-37 column tiles, K from 1 (less than a step of 16) to 768
  const shapes: [number, number, number][] = [
    [3, 1, 1],
    [5, 7, 5],
    [17, 33, 63],
    [65, 1, 5],
    [17, 7, 769],
    [65, 768, 769],
    [130, 33, 2304],
    [3, 768, 2304],
    [130, 768, 63],
  ];
  for (const layout of ['kn', 'nk'] as const) {
    for (const [M, K, N] of shapes) {
      it(`${layout} M=${M} K=${K} N=${N}, every weight format, runs tiled.wgsl`, async () => {
        for (const format of formats(gpu())) {
          const kernels = await runCase(gpu(), { M, K, N, layout, format, bias: true });
          expect(kernels).toEqual([`matmul_tiled_${layout}`]);
        }
      });
    }
  }
  // (few pipelines: on lavapipe each one costs seconds to compile)
  it('fused GELU, and a scale-shift after a leaky ReLU (a GAN layer)', async () => {
    await runCase(gpu(), { M: 9, K: 40, N: 36, layout: 'kn', format: 'f32', bias: true, act: 'gelu_tanh' });
    await runCase(gpu(), { M: 70, K: 96, N: 130, layout: 'nk', format: 'q8', bias: true, act: 'gelu_tanh' });
    for (const layout of ['kn', 'nk'] as const) {
      await runCase(gpu(), { M: 16, K: 100, N: 67, layout, format: 'f32', bias: true, act: 'leaky_relu', post: true });
    }
  });
  it('accumulates into out (residual) and reads from a row offset', async () => {
    for (const layout of ['kn', 'nk'] as const) {
      for (const format of formats(gpu())) {
        await runCase(gpu(), { M: 6, K: 96, N: 21, layout, format, bias: true, acc: true, rowOffset: 3 });
      }
      for (const format of ['f32', 'q8'] as const) {
        await runCase(gpu(), { M: 65, K: 33, N: 300, layout, format, bias: true, acc: true, rowOffset: 1 });
      }
    }
  });
  it('splits an [N, K] weight over several buffers when it exceeds the binding limit: a dispatch per chunk', async () => {
    const g = await Gpu.create({ capLimits: { maxStorageBufferBindingSize: 4096 } });
    try {
      // 64 rows of 16 f32 per 4 KiB chunk: 5 chunks, the last ragged
      const k1 = await runCase(g, { M: 17, K: 16, N: 300, layout: 'nk', format: 'f32', bias: true, chunked: true });
      expect(k1).toEqual(Array(5).fill('matmul_tiled_nk'));
      await runCase(g, { M: 5, K: 36, N: 301, layout: 'nk', format: 'f16 packed', bias: true, act: 'relu', chunked: true });
      await runCase(g, { M: 3, K: 7, N: 301, layout: 'nk', format: 'f16 packed', acc: true, rowOffset: 2, chunked: true });
      const k3 = await runCase(g, { M: 65, K: 40, N: 301, layout: 'nk', format: 'q8', bias: true }); // Q8Tensor.from splits it itself
      expect(k3.length).toBeGreaterThan(1);
      expect(g.memory().liveBuffers).toBe(0);
    } finally {
      g.dispose();
    }
  });
  it("is chosen for more than 2 rows on shape 'gpu' (the default off software adapters), never for 'software'", () => {
    const v = (M: number, K: number, N: number, layout: 'kn' | 'nk', shape?: 'gpu' | 'software') =>
      chooseMatmul(gpu(), { M, K, N, layout, dtype: 'f32', shape }).tiled;
    expect(v(3, 768, 2304, 'kn', 'gpu')).toBe(true);
    expect(v(128, 7, 769, 'nk', 'gpu')).toBe(true); // any K and N
    expect(v(2, 768, 768, 'nk', 'gpu')).toBe(false); // a GEMV
    expect(v(128, 768, 768, 'kn', 'software')).toBe(false);
    expect(v(128, 768, 768, 'kn')).toBe(!gpu().isSoftware);
  });
});
