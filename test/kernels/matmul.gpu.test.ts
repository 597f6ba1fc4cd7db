import { describe, expect, it } from 'vitest';
import { matmul } from '../../src/kernels/matmul/index.js';
import type { Activation } from '../../src/kernels/epilogue.js';
import { ChunkedTensor } from '../../src/runtime/chunked.js';
import { Gpu } from '../../src/runtime/device.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/runtime/half.js';
import { Plan } from '../../src/runtime/plan.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { assertClose, randomArray } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';
import { activations, matmulRef } from '../helpers/reference.js';

interface Case {
  M: number;
  K: number;
  N: number;
  layout: 'kn' | 'nk';
  dtype: 'f32' | 'f16';
  bias?: boolean;
  act?: Activation;
  acc?: boolean;
  rowOffset?: number;
  f16?: 'native' | 'packed';
}

async function runCase(g: Gpu, c: Case, chunkRows?: number): Promise<void> {
  const { M, K, N, layout, dtype } = c;
  const rowOffset = c.rowOffset ?? 0;
  const seed = M * 7919 + K * 31 + N;
  const x = randomArray((M + rowOffset) * K, seed, 1);
  let w = randomArray(K * N, seed + 1, 1 / Math.sqrt(K));
  if (dtype === 'f16') w = f16ArrayToF32(f32ArrayToF16(w)); // the reference sees the stored halves
  const b = c.bias ? randomArray(N, seed + 2, 0.5) : undefined;
  const prior = randomArray(M * N, seed + 3, 1);
  const [wr, wc] = layout === 'kn' ? [K, N] : [N, K];
  const tx = Tensor.from(g, x, [M + rowOffset, K], 'f32', 'x');
  const wdata = dtype === 'f16' ? f32ArrayToF16(w) : w;
  const tw = chunkRows ? ChunkedTensor.from(g, wdata, wr, wc, dtype, 'w') : Tensor.from(g, wdata, [wr, wc], dtype, 'w');
  const tb = b ? Tensor.from(g, b, [N], 'f32', 'bias') : undefined;
  const tout = Tensor.from(g, prior, [M, N], 'f32', 'out');
  const plan = new Plan(g, 'matmul-test');
  await matmul(plan, tx, tw, tout, { layout, bias: tb, act: c.act, accumulate: c.acc, xRowOffset: rowOffset, rows: M, f16: c.f16 });
  await g.checked('matmul', () => plan.submit());
  const got = await tout.read();
  const ref = matmulRef(x.subarray(rowOffset * K), w, M, K, N, layout, b, activations[c.act ?? 'none']);
  if (c.acc) for (let i = 0; i < ref.length; i++) ref[i] += prior[i];
  // f32 accumulation over K terms of size ~1/sqrt(K): error grows like sqrt(K) * 2^-24 relative
  assertClose(got, ref, { atol: 2e-6 * Math.sqrt(K), rtol: 1e-5, what: `matmul ${JSON.stringify(c)}` });
  for (const t of [tx, tw, tb, tout]) t?.dispose();
  plan.dispose();
}

describe('matmul against a float64 CPU reference', () => {
  const gpu = useGpu();
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 3, 17],
    [3, 17, 63],
    [17, 65, 3],
    [2, 64, 769],
    [65, 63, 65],
    [5, 769, 17],
    [1, 64, 50257],
    [1, 32, 8],
    [130, 64, 36],
    [7, 768, 20],
  ];
  for (const layout of ['kn', 'nk'] as const) {
    for (const dtype of ['f32', 'f16'] as const) {
      for (const [M, K, N] of shapes) {
        it(`${layout} ${dtype} M=${M} K=${K} N=${N}`, async () => runCase(gpu(), { M, K, N, layout, dtype, bias: true }));
      }
    }
  }
  // 'auto' reads f16 packed for 1-2 rows on software adapters and natively otherwise (where shader-f16
  // exists): both forced, both sides of that line
  for (const f16 of ['native', 'packed'] as const) {
    for (const [M, K, N] of [
      [1, 3, 17],
      [2, 64, 769],
      [1, 64, 50257],
      [3, 17, 63],
      [130, 64, 36],
    ] as const) {
      for (const layout of ['kn', 'nk'] as const) {
        it(`f16 read ${f16}: ${layout} M=${M} K=${K} N=${N}`, async () =>
          runCase(gpu(), { M, K, N, layout, dtype: 'f16', bias: true, f16 }));
      }
    }
  }
  it('rejects an unknown f16 option', async () => {
    const g = gpu();
    const [tx, tw, to] = [Tensor.empty(g, [1, 4], 'f32', 'x'), Tensor.empty(g, [4, 4], 'f16', 'w'), Tensor.empty(g, [1, 4], 'f32', 'o')];
    const plan = new Plan(g, 'bad');
    await expect(matmul(plan, tx, tw, to, { f16: 'half' as 'native' })).rejects.toThrow(
      /f16 must be 'auto', 'native' or 'packed', got "half"/,
    );
    for (const t of [tx, tw, to]) t.dispose();
    plan.dispose();
  });
  for (const act of ['relu', 'gelu_tanh', 'gelu_erf', 'tanh', 'sigmoid', 'leaky_relu'] as const) {
    it(`fused ${act} epilogue`, async () => runCase(gpu(), { M: 9, K: 40, N: 36, layout: 'kn', dtype: 'f32', bias: true, act }));
  }
  it('accumulates into out (residual) and reads from a row offset', async () => {
    await runCase(gpu(), { M: 6, K: 32, N: 20, layout: 'kn', dtype: 'f16', bias: true, acc: true, rowOffset: 3 });
    await runCase(gpu(), { M: 1, K: 32, N: 21, layout: 'nk', dtype: 'f32', rowOffset: 4 });
  });
  it('splits an [N, K] weight over several buffers when it exceeds the binding limit', async () => {
    const g = await Gpu.create({ capLimits: { maxStorageBufferBindingSize: 4096 } });
    try {
      const w = ChunkedTensor.from(g, new Float32Array(300 * 16), 300, 16, 'f32', 'big');
      expect(w.chunks.length).toBe(5); // 64 rows of 64 bytes per 4 KiB chunk
      w.dispose();
      await runCase(g, { M: 3, K: 16, N: 300, layout: 'nk', dtype: 'f32', bias: true }, 64);
      await runCase(g, { M: 2, K: 36, N: 301, layout: 'nk', dtype: 'f16' }, 1);
      await runCase(g, { M: 1, K: 40, N: 301, layout: 'nk', dtype: 'f16', f16: 'packed' }, 1); // 16 columns an invocation, per chunk
      expect(g.memory().liveBuffers).toBe(0);
    } finally {
      g.dispose();
    }
  });
});
