// The GPU-shaped GEMV (gemv.wgsl: 1-2 rows, the reduction over K shared by a workgroup), forced with
// shape 'gpu' so that it runs on both software drivers, against a float64 CPU product: both layouts,
// every weight format (f32, f16 native and packed, q8 against its dequantized weights), ragged N (a
// workgroup past the last column, a [K, N] workgroup's quads cut by the edge), K from 4 to 3072 (fewer
// and more k4 steps than invocations), epilogues, accumulation, row offsets and chunked [N, K] weights.
import { describe, expect, it } from 'vitest';
import { chooseMatmul } from '../../src/kernels/matmul/index.js';
import { Gpu } from '../../src/runtime/device.js';
import { useGpu } from '../helpers/gpu.js';
import { formats, runMatmulCase, type MatmulCase } from '../helpers/matmul_case.js';

/** The kernels that ran (the case checked against float64 on the way). */
const runCase = async (g: Gpu, c: MatmulCase): Promise<string[]> => (await runMatmulCase(g, c)).kernels;

describe("the GPU-shaped GEMV (shape 'gpu') against a float64 CPU reference", () => {
  const gpu = useGpu();
  const shapes: [number, number, number][] = [
    [1, 4, 1],
    [1, 8, 17],
    [2, 64, 769],
    [1, 768, 36],
    [2, 3072, 20],
    [1, 260, 50257],
  ];
  for (const layout of ['kn', 'nk'] as const) {
    for (const [M, K, N] of shapes) {
      it(`${layout} M=${M} K=${K} N=${N}, every weight format`, async () => {
        for (const format of formats(gpu())) {
          const kernels = await runCase(gpu(), { M, K, N, layout, format, bias: true });
          // [K, N] f32/f16 rows must be whole vec4s for gemv.wgsl (else the CPU-shaped kernel runs)
          const gemv = layout === 'nk' || N % 4 === 0 || format === 'q8';
          expect(kernels).toEqual([gemv ? `matmul_gemv_${layout}` : `matmul_${layout}`]);
        }
      });
    }
  }
  for (const act of ['gelu_tanh', 'relu'] as const) {
    it(`fused ${act} epilogue`, async () => {
      for (const layout of ['kn', 'nk'] as const) await runCase(gpu(), { M: 2, K: 40, N: 36, layout, format: 'f32', bias: true, act });
    });
  }
  it('accumulates into out (residual) and reads from a row offset', async () => {
    for (const layout of ['kn', 'nk'] as const) {
      for (const format of formats(gpu())) {
        await runCase(gpu(), { M: 1, K: 96, N: 21, layout, format, bias: true, acc: true, rowOffset: 3 });
        await runCase(gpu(), { M: 2, K: 32, N: 300, layout, format, acc: true, rowOffset: 1 });
      }
    }
  });
  it("normalizes x inside the GEMV (norm: one dispatch), or in a layerNorm dispatch first for shape 'software' and prefills", async () => {
    for (const layout of ['kn', 'nk'] as const) {
      for (const format of formats(gpu())) {
        // (pipelines are compiled per format and row count: few cases keep the test short on lavapipe)
        for (const [M, K, N, rowOffset] of format === 'f32'
          ? [
              [2, 64, 769, 3],
              [1, 3072, 20, 1],
            ]
          : [[2, 768, 36, 1]]) {
          const kernels = await runCase(gpu(), { M, K, N, layout, format, bias: true, norm: true, rowOffset });
          const gemv = layout === 'nk' || N % 4 === 0 || format === 'q8';
          expect(kernels).toEqual(gemv ? [`matmul_gemv_${layout}`] : ['layernorm', `matmul_${layout}`]);
        }
      }
      // the CPU-shaped GEMV of [N, K] weights (16 columns an invocation, 'wide') normalizes x itself too
      const cpuGemv = layout === 'nk' ? ['matmul_wide_nk'] : ['layernorm', 'matmul_kn'];
      expect(await runCase(gpu(), { M: 2, K: 64, N: 36, layout, format: 'f32', norm: true, shape: 'software' })).toEqual(cpuGemv);
      expect(await runCase(gpu(), { M: 5, K: 64, N: 36, layout, format: 'q8', norm: true, rowOffset: 1 })).toHaveLength(2);
    }
  });
  it("the CPU-shaped GEMV (shape 'software', [N, K]) normalizes x itself: every format, 1-2 rows, ragged N, a q8 block cut by K", async () => {
    // (one case a format: each compiles its own unrolled pipeline, slow on lavapipe)
    for (const format of formats(gpu())) {
      const [M, K, N, rowOffset] = format === 'f32' || format === 'q8' ? [2, 100, 300, 1] : [1, 768, 37, 2];
      const kernels = await runCase(gpu(), { M, K, N, layout: 'nk', format, bias: true, norm: true, rowOffset, shape: 'software' });
      expect(kernels).toEqual(['matmul_wide_nk']);
    }
    // K % 4 != 0: x is not read as vec4f, so a layerNorm dispatch first (q8 still takes the wide GEMV)
    expect(await runCase(gpu(), { M: 1, K: 30, N: 20, layout: 'nk', format: 'q8', norm: true, shape: 'software' })).toEqual([
      'layernorm',
      'matmul_wide_nk',
    ]);
  });
  it('splits an [N, K] weight over several buffers when it exceeds the binding limit', async () => {
    const g = await Gpu.create({ capLimits: { maxStorageBufferBindingSize: 4096 } });
    try {
      await runCase(g, { M: 1, K: 16, N: 300, layout: 'nk', format: 'f32', bias: true, chunked: true });
      await runCase(g, { M: 2, K: 36, N: 301, layout: 'nk', format: 'f16 packed', chunked: true });
      await runCase(g, { M: 2, K: 40, N: 301, layout: 'nk', format: 'q8' }); // Q8Tensor.from splits it itself
      expect(g.memory().liveBuffers).toBe(0);
    } finally {
      g.dispose();
    }
  });
  it("is chosen for 1-2 rows with K % 4 == 0 on shape 'gpu' (the default off software adapters), never for 'software'", () => {
    const v = (M: number, K: number, N: number, layout: 'kn' | 'nk', shape?: 'gpu' | 'software') =>
      chooseMatmul(gpu(), { M, K, N, layout, dtype: 'f32', shape }).gemv;
    expect(v(1, 768, 2304, 'kn', 'gpu')).toBe(true);
    expect(v(2, 768, 50257, 'nk', 'gpu')).toBe(true);
    expect(v(3, 768, 768, 'nk', 'gpu')).toBe(false); // a prefill
    expect(v(1, 7, 768, 'nk', 'gpu')).toBe(false); // x not whole vec4s
    expect(v(1, 768, 2303, 'kn', 'gpu')).toBe(false); // [K, N] rows not whole vec4s
    expect(v(1, 768, 768, 'nk', 'software')).toBe(false);
    expect(v(1, 768, 768, 'nk')).toBe(!gpu().isSoftware);
    // the CPU-shaped GEMV of [N, K] weights: 16 columns an invocation (vec4.wgsl's and q8.wgsl's gemv_nk)
    const wide = (M: number, layout: 'kn' | 'nk', dtype: 'f32' | 'f16' | 'q8', shape: 'gpu' | 'software') =>
      chooseMatmul(gpu(), { M, K: 768, N: 768, layout, dtype, shape }).wide;
    for (const dtype of ['f32', 'f16', 'q8'] as const) {
      expect(wide(1, 'nk', dtype, 'software'), dtype).toBe(true);
      expect(wide(2, 'nk', dtype, 'software'), dtype).toBe(true);
      expect(wide(3, 'nk', dtype, 'software'), dtype).toBe(false);
      expect(wide(1, 'kn', dtype, 'software'), dtype).toBe(false);
      expect(wide(1, 'nk', dtype, 'gpu'), dtype).toBe(false);
    }
  });
});
