// matmul with 8-bit weights (q8.wgsl) against a float64 CPU product of the dequantized weights: GEMV and
// prefill row counts, both GPU layouts, both quantization axes (a Conv1D weight [K, N], an embedding
// [N, K]), ragged K (blocks that are not whole, K % 4 != 0) and N, chunks, epilogues, row offsets.
import { describe, expect, it } from 'vitest';
import { chooseMatmul, matmul } from '../../src/kernels/matmul/index.js';
import type { Activation } from '../../src/kernels/epilogue.js';
import { Gpu } from '../../src/runtime/device.js';
import { Plan } from '../../src/runtime/plan.js';
import { dequantizeQ8, Q8Tensor, quantizeQ8 } from '../../src/runtime/q8.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { assertClose, randomArray } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';
import { activations, matmulRef } from '../helpers/reference.js';

interface Case {
  M: number;
  K: number;
  N: number;
  layout: 'kn' | 'nk';
  /** The quantization axis: 0 for a Conv1D weight stored [K, N], 1 for a weight stored [N, K]. */
  axis: 0 | 1;
  bias?: boolean;
  act?: Activation;
  acc?: boolean;
  rowOffset?: number;
}

async function runCase(g: Gpu, c: Case): Promise<void> {
  const { M, K, N, layout, axis } = c;
  const rowOffset = c.rowOffset ?? 0;
  const seed = M * 7919 + K * 31 + N + axis;
  const x = randomArray((M + rowOffset) * K, seed, 1);
  const [rows, cols] = axis === 0 ? [K, N] : [N, K];
  const q = quantizeQ8(randomArray(K * N, seed + 1, 1 / Math.sqrt(K)), rows, cols, axis, 'w');
  const w = dequantizeQ8(q); // the reference sees the stored int8 values times their scales
  const b = c.bias ? randomArray(N, seed + 2, 0.5) : undefined;
  const prior = randomArray(M * N, seed + 3, 1);
  const tx = Tensor.from(g, x, [M + rowOffset, K], 'f32', 'x');
  const tw = Q8Tensor.from(g, q, layout, 'w');
  const tb = b ? Tensor.from(g, b, [N], 'f32', 'bias') : undefined;
  const tout = Tensor.from(g, prior, [M, N], 'f32', 'out');
  const plan = new Plan(g, 'matmul-q8-test');
  try {
    await matmul(plan, tx, tw, tout, { layout, bias: tb, act: c.act, accumulate: c.acc, xRowOffset: rowOffset, rows: M });
    await g.checked('matmul q8', () => plan.submit());
    const got = await tout.read();
    const ref = matmulRef(x.subarray(rowOffset * K), w, M, K, N, axis === 0 ? 'kn' : 'nk', b, activations[c.act ?? 'none']);
    if (c.acc) for (let i = 0; i < ref.length; i++) ref[i] += prior[i];
    assertClose(got, ref, { atol: 2e-6 * Math.sqrt(K), rtol: 1e-5, what: `matmul q8 ${JSON.stringify(c)}` });
  } finally {
    for (const t of [tx, tw, tb, tout]) t?.dispose();
    plan.dispose();
  }
}

describe('matmul with q8 weights against a float64 CPU reference', () => {
  const gpu = useGpu();
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 3, 17],
    [2, 64, 769],
    [3, 17, 63],
    [17, 65, 3],
    [65, 63, 65],
    [5, 769, 17],
    [1, 90, 389],
    [9, 360, 90],
    [1, 64, 50257],
    [130, 64, 36],
    [7, 768, 20],
  ];
  for (const layout of ['kn', 'nk'] as const) {
    for (const axis of [0, 1] as const) {
      for (const [M, K, N] of shapes) {
        it(`${layout} axis ${axis} M=${M} K=${K} N=${N}`, async () => runCase(gpu(), { M, K, N, layout, axis, bias: true }));
      }
    }
  }
  it('runs the GEMV and prefill shapes it is chosen for', () => {
    const v = (M: number, K: number) => chooseMatmul(gpu(), { M, K, N: 64, layout: 'nk', dtype: 'q8' });
    expect(v(1, 768)).toMatchObject({ weight: 'q8', vec4: true, rowsPerInvocation: 1 });
    expect(v(2, 768)).toMatchObject({ weight: 'q8', vec4: true, rowsPerInvocation: 2 }); // a GEMV: every row in each invocation
    expect(v(128, 768)).toMatchObject({ weight: 'q8', vec4: true, rowsPerInvocation: 8 });
    expect(v(128, 90)).toMatchObject({ weight: 'q8', vec4: false, rowsPerInvocation: 4 });
  });
  for (const act of ['gelu_tanh', 'relu'] as const) {
    it(`fused ${act} epilogue`, async () => runCase(gpu(), { M: 9, K: 40, N: 36, layout: 'kn', axis: 0, bias: true, act }));
  }
  it('accumulates into out (residual) and reads from a row offset', async () => {
    await runCase(gpu(), { M: 6, K: 96, N: 20, layout: 'kn', axis: 0, bias: true, acc: true, rowOffset: 3 });
    await runCase(gpu(), { M: 1, K: 33, N: 21, layout: 'nk', axis: 1, rowOffset: 4, acc: true });
    // GEMVs (every row in each invocation): no invocation past the columns may add twice
    for (const layout of ['kn', 'nk'] as const) {
      await runCase(gpu(), { M: 1, K: 64, N: 21, layout, axis: 0, bias: true, acc: true });
      await runCase(gpu(), { M: 2, K: 96, N: 300, layout, axis: 1, acc: true, rowOffset: 1 });
    }
  });
  it('splits an [N, K] weight over several buffers when it exceeds the binding limit', async () => {
    const g = await Gpu.create({ capLimits: { maxStorageBufferBindingSize: 4096 } });
    try {
      const q = quantizeQ8(randomArray(300 * 40, 5, 0.1), 300, 40, 1, 'big');
      const w = Q8Tensor.from(g, q, 'nk', 'big');
      expect(w.chunks.length).toBe(5); // rows of 64 bytes (40 values padded to a block of 32 each): 64 rows per 4 KiB
      w.dispose();
      await runCase(g, { M: 3, K: 40, N: 300, layout: 'nk', axis: 1, bias: true });
      await runCase(g, { M: 1, K: 40, N: 301, layout: 'nk', axis: 0 });
      expect(g.memory().liveBuffers).toBe(0);
    } finally {
      g.dispose();
    }
  });
  it('refuses a q8 weight packed for the other layout', async () => {
    const g = gpu();
    const w = Q8Tensor.from(g, quantizeQ8(new Float32Array(32), 8, 4, 0), 'kn', 'w');
    const [tx, to] = [Tensor.empty(g, [1, 4], 'f32', 'x'), Tensor.empty(g, [1, 8], 'f32', 'o')]; // read as [N, K] = [8, 4]
    const plan = new Plan(g, 'bad');
    await expect(matmul(plan, tx, w, to, { layout: 'nk' })).rejects.toThrow(/packed for layout 'kn', not 'nk'/);
    for (const t of [tx, w, to]) t.dispose();
    plan.dispose();
  });
});
