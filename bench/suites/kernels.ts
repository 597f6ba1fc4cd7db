// Kernel benchmarks: webgen's kernels at the shapes GPT-2 124M and the GAN generators run them, next
// to TensorFlow.js WebGPU's ops on the same adapter and a copy kernel's bandwidth (the ceiling).
import copySource from '../kernels/copy.wgsl?raw';
import { attention } from '../../src/kernels/attention/index.js';
import { chooseConvTranspose, convTranspose2d } from '../../src/kernels/conv_transpose2d/index.js';
import { padChannels } from '../../src/kernels/conv_transpose2d/weights.js';
import type { KvCache } from '../../src/kernels/kv_store.js';
import { chooseMatmul } from '../../src/kernels/matmul/index.js';
import { view4 } from '../../src/kernels/view.js';
import { randomArray, transpose } from '../../src/util.js';
import { layerNorm } from '../../src/kernels/layernorm.js';
import { matmul } from '../../src/kernels/matmul/index.js';
import { sample, samplerMeta } from '../../src/kernels/sample.js';
import { ChunkedTensor } from '../../src/runtime/chunked.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/runtime/half.js';
import { dequantizeQ8, Q8Tensor, quantizeQ8, type Q8Matrix } from '../../src/runtime/q8.js';
import { grid1d } from '../../src/runtime/plan.js';
import type { Kernel } from '../../src/runtime/pipelines.js';
import { resolveSampling } from '../../src/generation/sampling.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { checkSampled, matmulAt, samplePositions } from '../lib/check.js';
import { compete, tfContender, webgenContender, wanted, type BenchContext, type Contender } from '../lib/compete.js';
import type * as TF from '@tensorflow/tfjs-core';

const copyKernel: Kernel<{ wg: number }> = { name: 'bench_copy', source: () => copySource, constants: (p) => ({ WG: p.wg }) };

const tfOr = (ctx: BenchContext, make: () => Contender): Contender[] => (ctx.tf ? [make()] : []);

export async function runKernels(ctx: BenchContext): Promise<void> {
  await copyCase(ctx);
  await matmulCases(ctx);
  await layerNormCases(ctx);
  await attentionCases(ctx);
  await softmaxCases(ctx);
  await convTransposeCases(ctx);
}

// ---------------------------------------------------------------------------------------------
// Bandwidth ceiling

async function copyCase(ctx: BenchContext): Promise<void> {
  const n = (ctx.quick ? 8 : 32) * 2 ** 20; // floats: 32 Mi -> 128 MiB, one binding everywhere
  const bytes = n * 4;
  let src: Tensor | undefined, dst: Tensor | undefined;
  await compete(ctx, 'bandwidth', `copy ${bytes / 2 ** 20} MiB`, { bytes: 2 * bytes }, [
    webgenContender(
      ctx,
      'copy',
      async (plan) => {
        src = Tensor.from(ctx.gpu, randomArray(n, 1), [n], 'f32', 'copy.src');
        dst = Tensor.empty(ctx.gpu, [n], 'f32', 'copy.dst');
        await plan.add(
          copyKernel,
          { wg: 256 },
          [src, dst],
          grid1d(Math.ceil(n / 4 / 256), ctx.gpu.limits.maxComputeWorkgroupsPerDimension),
        );
      },
      {
        dispose: () => {
          src?.dispose();
          dst?.dispose();
        },
        note: 'reads and writes every byte once (GB/s counts both)',
      },
    ),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Matmul at GPT-2 124M's shapes

/**
 * GPT-2 124M's matmuls. `K x N` is the product's shape; the three block matmuls are Conv1D weights,
 * stored [in, out] = [K, N] in the checkpoint, and the tied LM head is wte, [N, K].
 */
export const MATMUL_SHAPES = [
  { name: 'attn.c_attn', K: 768, N: 2304, conv1d: true },
  { name: 'mlp.c_fc', K: 768, N: 3072, conv1d: true },
  { name: 'mlp.c_proj', K: 3072, N: 768, conv1d: true },
  { name: 'lm_head (wte)', K: 768, N: 50257, conv1d: false },
];

async function matmulCases(ctx: BenchContext): Promise<void> {
  // webgen runs the weight layout GPT2 picks on this adapter ('auto': the Conv1D weights transposed
  // to [N, K] at load on software adapters, kept [K, N] on GPUs); TF.js runs both and the faster is
  // its figure for the targets
  const modelLayout = ctx.gpu.isSoftware ? ('nk' as const) : ('kn' as const);
  for (const M of [1, 128]) {
    for (const s of MATMUL_SHAPES) {
      const { K, N } = s;
      const caseName = `${M === 1 ? 'decode' : 'prefill'} ${M}x${K}x${N} ${s.name}`;
      if (!wanted(ctx, `matmul ${caseName}`) || (ctx.quick && M > 2 && N > 10000)) continue; // quick: no prefill LM head (seconds to a minute an iteration)
      const x = randomArray(M * K, M * 7 + K, 1);
      const wKN = s.conv1d ? randomArray(K * N, K + N, 1 / Math.sqrt(K)) : undefined; // [K, N]
      const wNK = s.conv1d ? transpose(wKN!, K, N) : randomArray(K * N, K + N, 1 / Math.sqrt(K)); // [N, K]
      const layout = s.conv1d ? modelLayout : ('nk' as const);
      const w = layout === 'kn' ? wKN! : wNK;
      const wHalf = f32ArrayToF16(w);
      const wRounded = f16ArrayToF32(wHalf);
      const positions = samplePositions(M * N, 48);
      const refOf = (ww: Float32Array) => (i: number) => matmulAt(x, ww, K, N, layout, Math.floor(i / N), i % N);
      const contenders: Contender[] = [];
      // the prefill LM head takes seconds to a minute an iteration on a software adapter: f32 only
      const dtypes = M > 2 && N > 10000 ? (['f32'] as const) : (['f32', 'f16'] as const);
      // "webgen f16 native": the shader-f16 read that 'auto' passes over for a GEMV on a software adapter
      const runs = [
        ...dtypes.map((d) => ({ dtype: d, f16: undefined as 'native' | undefined })),
        ...(ctx.variants && ctx.gpu.hasF16 && ctx.gpu.isSoftware && M <= 2 ? [{ dtype: 'f16' as const, f16: 'native' as const }] : []),
      ];
      for (const { dtype, f16 } of runs) {
        let tx: Tensor | undefined, tw: Tensor | ChunkedTensor | undefined, tout: Tensor | undefined;
        const packed = chooseMatmul(ctx.gpu, { M, K, N, layout, dtype, f16 }).weight === 'f16packed';
        contenders.push(
          webgenContender(
            ctx,
            `webgen ${dtype}${f16 ? ` ${f16}` : ''}`,
            async (plan) => {
              tx = Tensor.from(ctx.gpu, x, [M, K], 'f32', 'x');
              const wdata = dtype === 'f16' ? wHalf : w;
              // [N, K] weights may exceed one binding (wte in f32): split by rows, as GPT2 does
              tw =
                layout === 'nk'
                  ? ChunkedTensor.from(ctx.gpu, wdata, N, K, dtype, s.name)
                  : Tensor.from(ctx.gpu, wdata, [K, N], dtype, s.name);
              tout = Tensor.empty(ctx.gpu, [M, N], 'f32', 'out');
              await matmul(plan, tx, tw, tout, { layout, f16 });
            },
            {
              check: async () => checkSampled(await tout!.read(), positions, refOf(dtype === 'f16' ? wRounded : w)),
              dispose: () => [tx, tw, tout].forEach((t) => t?.dispose()),
              note: [
                `weights ${layout === 'nk' ? '[N, K]' : '[K, N]'}`,
                dtype === 'f16' ? (packed ? 'f16 read as packed u32 pairs' : 'f16 read natively (shader-f16)') : '',
              ]
                .filter(Boolean)
                .join(', '),
            },
          ),
        );
      }
      // 8-bit weights (Q8_0: int8 four per word, an f16 scale per 32 values of K), quantized outside the timing
      const [qr, qc, axis] = layout === 'kn' ? [K, N, 0 as const] : [N, K, 1 as const];
      const q8 = quantizeQ8(w, qr, qc, axis, s.name);
      contenders.push(q8Contender(ctx, 'webgen q8', q8, x, M, layout, positions));
      const refNK = (i: number) => matmulAt(x, wNK, K, N, 'nk', Math.floor(i / N), i % N);
      if (s.conv1d)
        contenders.push(...tfOr(ctx, () => tfMatmul(ctx, 'tfjs', x, wKN!, M, K, N, 'kn', (out) => checkSampled(out, positions, refNK))));
      contenders.push(
        ...tfOr(ctx, () =>
          tfMatmul(ctx, s.conv1d ? 'tfjs nk' : 'tfjs', x, wNK, M, K, N, 'nk', (out) => checkSampled(out, positions, refNK)),
        ),
      );
      await compete(ctx, 'matmul', caseName, { flops: 2 * M * K * N, bytes: 4 * (M * K + K * N + M * N) }, contenders);
    }
  }
}

/** webgen's matmul on a q8 weight (checked against the dequantized weights). */
function q8Contender(
  ctx: BenchContext,
  engine: string,
  q8: Q8Matrix,
  x: Float32Array,
  M: number,
  layout: 'kn' | 'nk',
  positions: number[],
): Contender {
  const [K, N] = q8.axis === 0 ? [q8.rows, q8.cols] : [q8.cols, q8.rows];
  const wq = dequantizeQ8(q8); // [K, N] for axis 0, [N, K] for axis 1
  let tx: Tensor | undefined, tw: Q8Tensor | undefined, tout: Tensor | undefined;
  return webgenContender(
    ctx,
    engine,
    async (plan) => {
      tx = Tensor.from(ctx.gpu, x, [M, K], 'f32', 'x');
      tw = Q8Tensor.from(ctx.gpu, q8, layout, 'w');
      tout = Tensor.empty(ctx.gpu, [M, N], 'f32', 'out');
      await matmul(plan, tx, tw, tout, { layout });
    },
    {
      check: async () =>
        checkSampled(await tout!.read(), positions, (i) => matmulAt(x, wq, K, N, q8.axis === 0 ? 'kn' : 'nk', Math.floor(i / N), i % N)),
      dispose: () => [tx, tw, tout].forEach((t) => t?.dispose()),
      note: `weights ${layout === 'nk' ? '[N, K]' : '[K, N]'}, int8 four per u32 word, an f16 scale per 32 values of K`,
    },
  );
}

function tfMatmul(
  ctx: BenchContext,
  engine: string,
  x: Float32Array,
  w: Float32Array,
  M: number,
  K: number,
  N: number,
  layout: 'kn' | 'nk',
  check: (out: Float32Array) => ReturnType<typeof checkSampled>,
): Contender {
  const limit = Math.min(ctx.tf!.device.limits.maxStorageBufferBindingSize, ctx.tf!.device.limits.maxBufferSize);
  const rowsPer = layout === 'nk' ? Math.floor(limit / (K * 4)) : N;
  const parts = Math.ceil(N / rowsPer);
  return tfContender(
    ctx,
    engine,
    (tf) => {
      const tx = tf.tensor2d(x, [M, K]);
      const tw: TF.Tensor2D[] = [];
      if (layout === 'kn') tw.push(tf.tensor2d(w, [K, N]));
      else
        for (let r = 0; r < N; r += rowsPer)
          tw.push(tf.tensor2d(w.subarray(r * K, Math.min(N, r + rowsPer) * K), [Math.min(rowsPer, N - r), K]));
      return { tx, tw };
    },
    (tf, { tx, tw }) =>
      tw.length === 1
        ? tf.matMul(tx, tw[0], false, layout === 'nk')
        : tf.tidy(() => {
            // timed: the parts; the concat only serves the check and is cheap next to them
            const outs = tw.map((p) => tf.matMul(tx, p, false, true));
            return tf.concat(outs, 1);
          }),
    {
      check,
      note: [
        layout === 'nk' ? 'weights [N, K] (matMul transposeB)' : 'weights [K, N]',
        parts > 1 ? `split in ${parts} parts (binding limit), concat included` : '',
      ]
        .filter(Boolean)
        .join(', '),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Layer norm

async function layerNormCases(ctx: BenchContext): Promise<void> {
  const C = 768;
  const eps = 1e-5;
  for (const R of [1, 128]) {
    const x = randomArray(R * C, R + 3, 2);
    const gamma = randomArray(C, 5, 0.1).map((v) => v + 1);
    const beta = randomArray(C, 6, 0.1);
    const stats: [number, number][] = [];
    for (let r = 0; r < R; r++) {
      let m = 0;
      for (let c = 0; c < C; c++) m += x[r * C + c];
      m /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (x[r * C + c] - m) ** 2;
      stats.push([m, 1 / Math.sqrt(v / C + eps)]);
    }
    const ref = (i: number) => {
      const r = Math.floor(i / C),
        c = i % C;
      return (x[i] - stats[r][0]) * stats[r][1] * gamma[c] + beta[c];
    };
    const positions = samplePositions(R * C, 48);
    let tx: Tensor | undefined, tg: Tensor | undefined, tb: Tensor | undefined, to: Tensor | undefined;
    await compete(ctx, 'layer norm', `${R}x${C}`, { flops: 8 * R * C, bytes: 4 * (2 * R * C + 2 * C) }, [
      webgenContender(
        ctx,
        'webgen',
        async (plan) => {
          tx = Tensor.from(ctx.gpu, x, [R, C], 'f32', 'x');
          tg = Tensor.from(ctx.gpu, gamma, [C], 'f32', 'ln.weight');
          tb = Tensor.from(ctx.gpu, beta, [C], 'f32', 'ln.bias');
          to = Tensor.empty(ctx.gpu, [R, C], 'f32', 'out');
          await layerNorm(plan, tx, tg, tb, to, eps, R);
        },
        { check: async () => checkSampled(await to!.read(), positions, ref), dispose: () => [tx, tg, tb, to].forEach((t) => t?.dispose()) },
      ),
      ...tfOr(ctx, () =>
        tfContender(
          ctx,
          'tfjs',
          (tf) => ({ x: tf.tensor2d(x, [R, C]), g: tf.tensor1d(gamma), b: tf.tensor1d(beta) }),
          (tf, t) =>
            tf.tidy(() => {
              // the formula, as a TF.js model without a fused layer-norm op computes it
              const mean = tf.mean(t.x, -1, true);
              const d = tf.sub(t.x, mean);
              const variance = tf.mean(tf.square(d), -1, true);
              return tf.add(tf.mul(tf.mul(d, tf.rsqrt(tf.add(variance, eps))), t.g), t.b);
            }),
          { check: (out) => checkSampled(out, positions, ref), note: 'mean, sub, square, mean, add, rsqrt, mul, mul, add' },
        ),
      ),
    ]);
  }
}

// ---------------------------------------------------------------------------------------------
// Attention (QK^T, causal softmax, AV) against the KV cache, GPT-2 124M: 12 heads of 64

async function attentionCases(ctx: BenchContext): Promise<void> {
  const H = 12,
    hd = 64,
    C = H * hd,
    P = 1024;
  const cases = [
    { name: 'prefill T=128', T: 128, pos0: 0 },
    { name: 'decode ctx=128', T: 1, pos0: 128 },
    { name: 'decode ctx=512', T: 1, pos0: 512 },
  ];
  for (const cs of cases) {
    const { T, pos0 } = cs;
    const S = pos0 + T; // keys seen by the last query
    const qkv = randomArray(T * 3 * C, 11 + T, 1);
    const kc = randomArray(P * C, 12, 1);
    const vc = randomArray(P * C, 13, 1);
    // the step's own k, v are in the cache at pos0.. (kv_store ran before attention in the model)
    for (let t = 0; t < T; t++) {
      kc.set(qkv.subarray(t * 3 * C + C, t * 3 * C + 2 * C), (pos0 + t) * C);
      vc.set(qkv.subarray(t * 3 * C + 2 * C, t * 3 * C + 3 * C), (pos0 + t) * C);
    }
    const scale = 1 / Math.sqrt(hd);
    const refRow = new Map<number, Float64Array>();
    // out[t, h*hd + d] (webgen layout [T, C])
    const refAt = (i: number) => {
      const t = Math.floor(i / C),
        h = Math.floor((i % C) / hd),
        d = i % hd;
      const key = t * H + h;
      let o = refRow.get(key);
      if (!o) {
        const pos = pos0 + t;
        const scores = new Float64Array(pos + 1);
        let m = -Infinity;
        for (let s = 0; s <= pos; s++) {
          let a = 0;
          for (let e = 0; e < hd; e++) a += qkv[t * 3 * C + h * hd + e] * kc[s * C + h * hd + e];
          scores[s] = a * scale;
          m = Math.max(m, scores[s]);
        }
        let l = 0;
        for (let s = 0; s <= pos; s++) l += scores[s] = Math.exp(scores[s] - m);
        o = new Float64Array(hd);
        for (let s = 0; s <= pos; s++) for (let e = 0; e < hd; e++) o[e] += (scores[s] / l) * vc[s * C + h * hd + e];
        refRow.set(key, o);
      }
      return o[d];
    };
    const positions = samplePositions(T * C, 48);
    // QK^T and AV over the causal half, 2 flops per multiply-add
    let pairs = 0;
    for (let t = 0; t < T; t++) pairs += pos0 + t + 1;
    const flops = 4 * H * hd * pairs;
    const bytes = 4 * (T * C * 2 + 2 * S * C);
    let tqkv: Tensor | undefined, cache: KvCache | undefined, tout: Tensor | undefined, step: GPUBuffer | undefined;
    await compete(ctx, 'attention', cs.name, { flops, bytes }, [
      webgenContender(
        ctx,
        'webgen',
        async (plan) => {
          tqkv = Tensor.from(ctx.gpu, qkv, [T, 3 * C], 'f32', 'qkv');
          cache = { k: Tensor.from(ctx.gpu, kc, [1, P, C], 'f32', 'k'), v: Tensor.from(ctx.gpu, vc, [1, P, C], 'f32', 'v') };
          tout = Tensor.empty(ctx.gpu, [T, C], 'f32', 'out');
          step = ctx.gpu.uniform(new Uint32Array([pos0, T, 1, 0]), 'step');
          await attention(plan, tqkv, cache, step, tout, T, H);
        },
        {
          check: async () => checkSampled(await tout!.read(), positions, refAt),
          dispose: () => {
            [tqkv, cache?.k, cache?.v, tout].forEach((t) => t?.dispose());
            if (step) ctx.gpu.destroyBuffer(step);
          },
          note: 'one kernel: scores, online softmax and AV in registers',
        },
      ),
      ...tfOr(ctx, () =>
        tfContender(
          ctx,
          'tfjs',
          (tf) => {
            // q [H, T, hd], k and v [H, S, hd]: a TF.js model holding its cache per head
            const q = tf.tidy(() =>
              tf.transpose(tf.reshape(tf.slice(tf.tensor3d(qkv, [T, 3, C]), [0, 0, 0], [T, 1, C]), [T, H, hd]), [1, 0, 2]),
            );
            const k = tf.tidy(() => tf.transpose(tf.reshape(tf.tensor2d(kc.subarray(0, S * C), [S, C]), [S, H, hd]), [1, 0, 2]));
            const v = tf.tidy(() => tf.transpose(tf.reshape(tf.tensor2d(vc.subarray(0, S * C), [S, C]), [S, H, hd]), [1, 0, 2]));
            let mask: TF.Tensor | undefined;
            if (T > 1) {
              const m = new Float32Array(T * S);
              for (let t = 0; t < T; t++) for (let s = pos0 + t + 1; s < S; s++) m[t * S + s] = -1e9;
              mask = tf.tensor2d(m, [T, S]);
            }
            return { q, k, v, mask };
          },
          (tf, t) =>
            tf.tidy(() => {
              let s = tf.mul(tf.matMul(t.q, t.k, false, true), scale); // [H, T, S]
              if (t.mask) s = tf.add(s, t.mask);
              return tf.matMul(tf.softmax(s), t.v); // [H, T, hd]
            }),
          {
            // TF.js output is [H, T, hd]: map webgen's [T, C] positions onto it
            check: (out) => {
              const mapped = new Float32Array(T * C);
              for (let h = 0; h < H; h++)
                for (let t = 0; t < T; t++) for (let d = 0; d < hd; d++) mapped[t * C + h * hd + d] = out[(h * T + t) * hd + d];
              return checkSampled(mapped, positions, refAt);
            },
            note: `matMul, mul, ${T > 1 ? 'add (mask), ' : ''}softmax, matMul`,
          },
        ),
      ),
    ]);
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax: webgen fuses it (attention above; the sampler over the vocabulary here)

async function softmaxCases(ctx: BenchContext): Promise<void> {
  const V = 50257;
  const logits = randomArray(V, 21, 8);
  const P = 1024;
  let tl: Tensor | undefined,
    hist: Tensor | undefined,
    ids: Tensor | undefined,
    out: Tensor | undefined,
    meta: GPUBuffer | undefined,
    step: GPUBuffer | undefined;
  const sampling = resolveSampling({ temperature: 0.8, topK: 40, topP: 0.95, seed: 1 }, V);
  let maxL = -Infinity;
  for (const v of logits) maxL = Math.max(maxL, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - maxL);
  const positions = samplePositions(V, 48);
  await compete(ctx, 'softmax', `1x${V} (vocabulary)`, { bytes: 4 * 2 * V }, [
    webgenContender(
      ctx,
      'webgen sampler',
      async (plan) => {
        tl = Tensor.from(ctx.gpu, logits, [1, V], 'f32', 'logits');
        hist = Tensor.empty(ctx.gpu, [1, P], 'u32', 'history');
        ids = Tensor.empty(ctx.gpu, [P], 'u32', 'ids');
        out = Tensor.empty(ctx.gpu, [1], 'u32', 'sampled');
        meta = ctx.gpu.uniform(samplerMeta(sampling, V, P, V), 'sampler meta');
        step = ctx.gpu.uniform(new Uint32Array([0, 1, 1, 0]), 'step');
        await sample(plan, meta, step, tl, hist, ids, out, 1, V);
      },
      {
        dispose: () => {
          [tl, hist, ids, out].forEach((t) => t?.dispose());
          for (const b of [meta, step]) if (b) ctx.gpu.destroyBuffer(b);
        },
        note: 'temperature 0.8, top-k 40, top-p 0.95 and a draw: more work than a softmax',
      },
    ),
    ...tfOr(ctx, () =>
      tfContender(
        ctx,
        'tfjs',
        (tf) => tf.tensor2d(logits, [1, V]),
        (tf, t) => tf.softmax(t),
        {
          check: (o) => checkSampled(o, positions, (i) => Math.exp(logits[i] - maxL) / sum),
          note: 'softmax only',
        },
      ),
    ),
  ]);
  const H = 12,
    T = 128;
  const scores = randomArray(H * T * T, 22, 4);
  const rowStats = new Map<number, [number, number]>();
  const ref = (i: number) => {
    const r = Math.floor(i / T);
    let st = rowStats.get(r);
    if (!st) {
      let m = -Infinity;
      for (let j = 0; j < T; j++) m = Math.max(m, scores[r * T + j]);
      let l = 0;
      for (let j = 0; j < T; j++) l += Math.exp(scores[r * T + j] - m);
      rowStats.set(r, (st = [m, l]));
    }
    return Math.exp(scores[i] - st[0]) / st[1];
  };
  const pos2 = samplePositions(H * T * T, 48);
  await compete(ctx, 'softmax', `${H}x${T}x${T} (attention scores)`, { bytes: 4 * 2 * H * T * T }, [
    ...tfOr(ctx, () =>
      tfContender(
        ctx,
        'tfjs',
        (tf) => tf.tensor3d(scores, [H, T, T]),
        (tf, t) => tf.softmax(t),
        {
          check: (o) => checkSampled(o, pos2, ref),
          note: 'webgen has no separate pass here: the softmax is fused into its attention kernel (see attention prefill T=128)',
        },
      ),
    ),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Transposed convolutions of the GAN generators, NHWC

export interface ConvLayer {
  cin: number;
  cout: number;
  hin: number;
  k: number;
  s: number;
  p: number;
}

/** The canonical DCGAN's generator layers: nz -> ngf*2^(n-1) at 4x4, doubling to `size`, then nc. */
export function dcganLayers(nz: number, ngf: number, nc: number, size: number): ConvLayer[] {
  const steps = Math.log2(size / 4); // stride-2 layers after the first
  const layers: ConvLayer[] = [];
  let c = ngf * 2 ** (steps - 1);
  layers.push({ cin: nz, cout: c, hin: 1, k: 4, s: 1, p: 0 });
  let h = 4;
  for (let i = 1; i < steps; i++) {
    layers.push({ cin: c, cout: c / 2, hin: h, k: 4, s: 2, p: 1 });
    c /= 2;
    h *= 2;
  }
  layers.push({ cin: c, cout: nc, hin: h, k: 4, s: 2, p: 1 });
  return layers;
}

export const GENERATORS = [
  { name: 'default generator (emoji DCGAN 32x32)', short: 'default 32x32', nz: 64, ngf: 64, nc: 3, size: 32 },
  { name: 'DCGAN 64x64', short: 'DCGAN 64x64', nz: 100, ngf: 64, nc: 3, size: 64 },
];

async function convTransposeCases(ctx: BenchContext): Promise<void> {
  const B = 16;
  for (const g of GENERATORS) {
    const layers = dcganLayers(g.nz, g.ngf, g.nc, g.size);
    for (const [li, L] of layers.entries()) {
      const { cin, cout, hin, k, s, p } = L;
      const hout = (hin - 1) * s - 2 * p + k;
      const caseName = `${g.short} layer ${li + 1}: ${cin}x${hin}x${hin} -> ${cout}x${hout}x${hout}, batch ${B}`;
      if (!wanted(ctx, `conv_transpose2d ${caseName}`)) continue;
      const x = randomArray(B * hin * hin * cin, 31 + li, 1); // NHWC
      const w = randomArray(k * k * cin * cout, 32 + li, 1 / Math.sqrt(cin * 4)); // [kh, kw, cin, cout]
      const ref = (i: number) => {
        const co = i % cout;
        const ox = Math.floor(i / cout) % hout;
        const oy = Math.floor(i / (cout * hout)) % hout;
        const n = Math.floor(i / (cout * hout * hout));
        let acc = 0;
        for (let ky = 0; ky < k; ky++) {
          const ty = oy + p - ky;
          if (ty < 0 || ty % s) continue;
          const iy = ty / s;
          if (iy >= hin) continue;
          for (let kx = 0; kx < k; kx++) {
            const tx = ox + p - kx;
            if (tx < 0 || tx % s) continue;
            const ix = tx / s;
            if (ix >= hin) continue;
            for (let ci = 0; ci < cin; ci++) acc += x[((n * hin + iy) * hin + ix) * cin + ci] * w[((ky * k + kx) * cin + ci) * cout + co];
          }
        }
        return acc;
      };
      const positions = samplePositions(B * hout * hout * cout, 48);
      // "webgen": the path the generator takes for this layer (a 1x1 input as a matmul, else
      // conv_transpose2d's 'auto' path for this adapter); "webgen <path>": src's other paths
      const oneByOne = hin === 1 && s === 1 && p === 0;
      const autoPath = oneByOne ? 'matmul' : chooseConvTranspose(ctx.gpu, cout); // vec: channels padded to 4 where needed
      const paths = [
        autoPath,
        ...(ctx.variants
          ? (['regs', 'vec', 'vec c4', ...(oneByOne ? ['matmul'] : [])] as const).filter(
              (q) => q !== autoPath && (q !== 'vec c4' || cout % 8 === 0),
            )
          : []),
      ];
      const notes: Record<string, string> = {
        matmul: 'matmul [B, cin] x [cin, kh*kw*cout] (NHWC out), as the generator records a 1x1 input',
        regs: 'implicit GEMM over stride phases, 4 pixels x 4 channels per invocation',
        vec: `${cout % 8 === 0 ? 8 : 4} channels x 4 pixels of a row per invocation, only the taps that reach them${cout % 4 ? ` (weight padded to ${Math.ceil(cout / 4) * 4} channels)` : ''}`,
        'vec c4': "the 'vec' path with 4 channels per invocation",
        direct: 'one invocation per output',
      };
      const webgenPaths = paths.map((path) => {
        let tx: Tensor | undefined, tw: Tensor | undefined, ty: Tensor | undefined;
        return webgenContender(
          ctx,
          path === autoPath ? 'webgen' : `webgen ${path}`,
          async (plan) => {
            if (path === 'matmul') {
              // y[n, ky, kx, co] = sum_ci x[n, ci] w[ky, kx, ci, co]: x [B, cin] . W' [cin, k*k*cout]
              const wm = new Float32Array(w.length);
              for (let t = 0; t < k * k; t++)
                for (let ci = 0; ci < cin; ci++)
                  for (let co = 0; co < cout; co++) wm[ci * k * k * cout + t * cout + co] = w[(t * cin + ci) * cout + co];
              tx = Tensor.from(ctx.gpu, x, [B, cin], 'f32', 'x');
              tw = Tensor.from(ctx.gpu, wm, [cin, k * k * cout], 'f32', `layer ${li + 1}`);
              ty = Tensor.empty(ctx.gpu, [B, k * k * cout], 'f32', 'y');
              await matmul(plan, tx, tw, ty);
              return;
            }
            tx = Tensor.from(ctx.gpu, x, [B, hin, hin, cin], 'f32', 'x');
            const { weight, channels } = path.startsWith('vec') ? padChannels(w, cout) : { weight: w, channels: cout };
            tw = Tensor.from(ctx.gpu, weight, [k, k, cin, channels], 'f32', `layer ${li + 1}`);
            ty = Tensor.empty(ctx.gpu, [B, hout, hout, cout], 'f32', 'y');
            await convTranspose2d(plan, tx, view4(B, cin, hin, hin, 'NHWC'), tw, ty, view4(B, cout, hout, hout, 'NHWC'), {
              stride: s,
              padding: p,
              path: path === 'vec c4' ? 'vec' : (path as 'regs' | 'vec' | 'direct'),
              vecChannels: path === 'vec c4' ? 4 : undefined,
            });
          },
          {
            check: async () => checkSampled(await ty!.read(), positions, ref),
            dispose: () => [tx, tw, ty].forEach((t) => t?.dispose()),
            note: `${path}: ${notes[path]}`,
          },
        );
      });
      await compete(
        ctx,
        'conv_transpose2d',
        caseName,
        { flops: 2 * B * hin * hin * cin * cout * k * k, bytes: 4 * (x.length + w.length + B * hout * hout * cout) },
        [
          ...webgenPaths,
          ...tfOr(ctx, () =>
            tfContender(
              ctx,
              'tfjs',
              (tf) => {
                // TF.js filter: [kh, kw, cout, cin]
                const wt = new Float32Array(w.length);
                for (let t = 0; t < k * k; t++)
                  for (let ci = 0; ci < cin; ci++)
                    for (let co = 0; co < cout; co++) wt[(t * cout + co) * cin + ci] = w[(t * cin + ci) * cout + co];
                return { x: tf.tensor4d(x, [B, hin, hin, cin]), w: tf.tensor4d(wt, [k, k, cout, cin]) };
              },
              (tf, t) => tf.conv2dTranspose(t.x as TF.Tensor4D, t.w as TF.Tensor4D, [B, hout, hout, cout], s, p === 0 ? 'valid' : 'same'),
              { check: (o) => checkSampled(o, positions, ref) },
            ),
          ),
        ],
      );
    }
  }
}
