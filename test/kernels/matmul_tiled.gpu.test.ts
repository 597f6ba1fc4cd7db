// The GPU-shaped prefill matmul (tiled.wgsl: 64 x 64 tiles of y, x and W copied to workgroup memory 16
// values of K at a time), forced with shape 'gpu' so that it runs on both software drivers, against a
// float64 CPU product: both layouts, every weight format (f32, f16 native and packed, q8 against its
// dequantized weights), ragged M, N and K (partial tiles each way; K shorter than a step, not a multiple
// of 4, a q8 block cut short), epilogues, accumulation, row offsets and chunked [N, K] weights.
import { afterAll, describe, expect, it } from 'vitest';
import { chooseMatmul } from '../../src/kernels/matmul/index.js';
import { Gpu } from '../../src/runtime/device.js';
import { useGpu } from '../helpers/gpu.js';
import { formats, runMatmulCase, type MatmulCase } from '../helpers/matmul_case.js';

/** The largest error against the reference (in units of the tolerance's atol) over the file. */
let worst = { err: 0, what: '' };

/** The kernels that ran (the case checked against float64 on the way). */
async function runCase(g: Gpu, c: MatmulCase): Promise<string[]> {
  const r = await runMatmulCase(g, c);
  if (r.maxAbsError / r.atol > worst.err)
    worst = { err: r.maxAbsError / r.atol, what: `matmul tiled ${JSON.stringify(c)}: max |diff| ${r.maxAbsError.toExponential(2)}` };
  return r.kernels;
}

describe("the GPU-shaped prefill matmul (shape 'gpu') against a float64 CPU reference", () => {
  const gpu = useGpu();
  afterAll(() => console.info(`largest error: ${worst.err.toFixed(3)} x atol (${worst.what})`));
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
