// One matmul against a float64 CPU product, for the tests of the GPU-shaped kernels (matmul_gemv,
// matmul_tiled): random x and W (stored as f32, f16 or q8, the reference seeing the stored values),
// the epilogue, accumulation, row offsets, chunked [N, K] weights, the layer norm of matmul's `norm`.
import { matmul } from '../../src/kernels/matmul/index.js';
import type { Activation } from '../../src/kernels/epilogue.js';
import { ChunkedTensor } from '../../src/runtime/chunked.js';
import type { Gpu } from '../../src/runtime/device.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/runtime/half.js';
import { Plan } from '../../src/runtime/plan.js';
import { dequantizeQ8, Q8Tensor, quantizeQ8 } from '../../src/runtime/q8.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { assertClose, randomArray } from './assert.js';
import { activations, layerNormRef, matmulRef } from './reference.js';

export type Format = 'f32' | 'f16 native' | 'f16 packed' | 'q8';

/** The weight formats this adapter runs (native f16 where it has shader-f16). */
export function formats(g: Gpu): Format[] {
  return ['f32', ...(g.hasF16 ? (['f16 native'] as const) : []), 'f16 packed', 'q8'];
}

export interface MatmulCase {
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
  /** matmul's `norm`: x is normalized first (LayerNorm with random gamma and beta). */
  norm?: boolean;
  /** Default 'gpu'. */
  shape?: 'gpu' | 'software';
}

/**
 * Runs the case and checks it against the reference within atol 2e-6 sqrt(K), rtol 1e-5 (f32 sums of K
 * terms of size ~1/sqrt(K), in another order than the CPU's: error ~ sqrt(K) 2^-24). Returns the
 * kernels that ran and the largest error.
 */
export async function runMatmulCase(g: Gpu, c: MatmulCase): Promise<{ kernels: string[]; maxAbsError: number; atol: number }> {
  const { M, K, N, layout, format } = c;
  const rowOffset = c.rowOffset ?? 0;
  const seed = M * 7919 + K * 31 + N;
  // with a norm: a residual stream with an offset and a spread of its own per row, as a norm sees it
  const x = c.norm
    ? randomArray((M + rowOffset) * K, seed, 3).map((v, i) => v + 2 * Math.floor(i / K) - 1)
    : randomArray((M + rowOffset) * K, seed, 1);
  const [wr, wc] = layout === 'kn' ? [K, N] : [N, K];
  let w = randomArray(K * N, seed + 1, 1 / Math.sqrt(K));
  let tw: Tensor | ChunkedTensor | Q8Tensor;
  if (format === 'q8') {
    const q = quantizeQ8(w, wr, wc, layout === 'kn' ? 0 : 1, 'w');
    w = dequantizeQ8(q); // the reference sees the stored int8 values times their scales
    tw = Q8Tensor.from(g, q, layout, 'w'); // split by itself past the binding limit
  } else {
    const dtype = format === 'f32' ? 'f32' : 'f16';
    const data = dtype === 'f16' ? f32ArrayToF16(w) : w;
    if (dtype === 'f16') w = f16ArrayToF32(data as Uint16Array); // the reference sees the stored halves
    tw = c.chunked ? ChunkedTensor.from(g, data, wr, wc, dtype, 'w') : Tensor.from(g, data, [wr, wc], dtype, 'w');
  }
  const b = c.bias ? randomArray(N, seed + 2, 0.5) : undefined;
  const post = c.post ? randomArray(2 * N, seed + 4, 1) : undefined;
  const prior = randomArray(M * N, seed + 3, 1);
  const gamma = randomArray(K, seed + 5, 0.5).map((v) => v + 1);
  const beta = randomArray(K, seed + 6, 0.2);
  const tx = Tensor.from(g, x, [M + rowOffset, K], 'f32', 'x');
  const tb = b ? Tensor.from(g, b, [N], 'f32', 'bias') : undefined;
  const tp = post ? Tensor.from(g, post, [2, N], 'f32', 'post') : undefined;
  const tout = Tensor.from(g, prior, [M, N], 'f32', 'out');
  const norm = c.norm
    ? {
        gamma: Tensor.from(g, gamma, [K], 'f32', 'ln.weight'),
        beta: Tensor.from(g, beta, [K], 'f32', 'ln.bias'),
        eps: 1e-5,
        out: Tensor.empty(g, [M + rowOffset, K], 'f32', 'h'),
      }
    : undefined;
  const plan = new Plan(g, 'matmul-case');
  try {
    const f16 = format === 'f16 native' ? ('native' as const) : format === 'f16 packed' ? ('packed' as const) : undefined;
    const shape = c.shape ?? 'gpu';
    const opts = { layout, bias: tb, act: c.act, post: tp, accumulate: c.acc, xRowOffset: rowOffset, rows: M, f16, shape, norm };
    await matmul(plan, tx, tw, tout, opts);
    await g.checked('matmul', () => plan.submit());
    const got = await tout.read();
    const xs = c.norm ? layerNormRef(x, M + rowOffset, K, gamma, beta, 1e-5) : x;
    const ref = matmulRef(xs.subarray(rowOffset * K), w, M, K, N, layout, b, activations[c.act ?? 'none']);
    if (post) for (let i = 0; i < ref.length; i++) ref[i] = ref[i] * post[i % N] + post[N + (i % N)];
    if (c.acc) for (let i = 0; i < ref.length; i++) ref[i] += prior[i];
    const atol = 2e-6 * Math.sqrt(K);
    const r = assertClose(got, ref, { atol, rtol: 1e-5, what: `matmul ${JSON.stringify(c)}` });
    return { kernels: plan.dispatches.map((d) => d.kernel), maxAbsError: r.maxAbsError, atol };
  } finally {
    for (const t of [tx, tw, tb, tp, tout, norm?.gamma, norm?.beta, norm?.out]) t?.dispose();
    plan.dispose();
  }
}
