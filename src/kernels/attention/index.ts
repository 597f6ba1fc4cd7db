// Causal self-attention against the KV cache, in two shapes:
//   'rows'  (rows.wgsl): one invocation per (row, head) streams over the positions with an online
//           softmax; no workgroup memory or barrier. For prompts, and for decode on CPU adapters.
//   'split' (split.wgsl + combine.wgsl): decode (T = 1) split over the context, a workgroup per
//           (row, head, chunk of 32 keys), then a merge; the rows' own keys and values are stored by
//           it (no kv_store dispatch). For GPUs, where one invocation per head leaves the card idle.
// chooseAttention picks one; the model can force either (GPT2Options.kernels) so both run in tests.
import rowsTemplate from './rows.wgsl?raw';
import splitTemplate from './split.wgsl?raw';
import combineTemplate from './combine.wgsl?raw';
import { OptionError } from '../../errors.js';
import type { Gpu } from '../../runtime/device.js';
import { grid1d, type Binding, type Plan } from '../../runtime/plan.js';
import type { Kernel } from '../../runtime/pipelines.js';
import type { Tensor } from '../../runtime/tensor.js';
import { checkCache, type KvCache } from '../kv_store.js';
import { STEP, uniformStruct } from '../uniform.js';
import { fill } from '../wgsl.js';

const META = uniformStruct('Meta', { R: 'u32', C: 'u32', H: 'u32', P: 'u32', scale: 'f32' });
const SPLIT_META = uniformStruct('Meta', { R: 'u32', C: 'u32', H: 'u32', P: 'u32', S: 'u32', scale: 'f32' });

/** Keys per workgroup of the split kernel: GPT-2's 1024 positions are 32 chunks per head. */
export const SPLIT_CHUNK = 32;

export type AttentionParams = { readonly headSize: number; readonly workgroupSize: number };
export type AttentionSplitParams = { readonly headSize: number; readonly chunk: number; readonly workgroupSize: number };

export const attentionKernel: Kernel<AttentionParams> = {
  name: 'attention',
  source: (p) =>
    fill(rowsTemplate, {
      HD: `${p.headSize}u`,
      HD4: `${Math.ceil(p.headSize / 4)}u`,
      META: META.declare(0, 'u'),
      STEP: STEP.declare(1, 'step'),
    }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

export const attentionSplitKernel: Kernel<AttentionSplitParams> = {
  name: 'attention_split',
  source: (p) =>
    fill(splitTemplate, { HD: `${p.headSize}u`, CH: `${p.chunk}u`, META: SPLIT_META.declare(0, 'u'), STEP: STEP.declare(1, 'step') }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

export const attentionCombineKernel: Kernel<AttentionParams> = {
  name: 'attention_combine',
  source: (p) => fill(combineTemplate, { HD: `${p.headSize}u`, META: SPLIT_META.declare(0, 'u') }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

export type AttentionVariant = 'rows' | 'split';

/**
 * The attention shape for a pass: 'split' for one-row-per-sequence decode steps on a GPU, 'rows'
 * otherwise (prompts; CPU adapters, where barriers are costly and one invocation per head is the
 * natural grain).
 */
export function chooseAttention(gpu: Pick<Gpu, 'isSoftware'>, o: { decode: boolean }): AttentionVariant {
  return o.decode && !gpu.isSoftware ? 'split' : 'rows';
}

export interface AttentionOptions {
  /** 'rows' (default): kv_store ran first. 'split': decode only (T = 1); stores the rows' keys and values itself. */
  variant?: AttentionVariant;
}

/**
 * Records out[R, C] = causal softmax(q k^T / sqrt(hd)) v per head, q from qkv [R, 3C] and k, v from
 * the cache; `step` the Step uniform. 'rows' reads the rows' own positions from the cache (kv_store
 * wrote them); 'split' (T = 1 only) reads them from qkv and writes them to the cache.
 */
export async function attention(
  plan: Plan,
  qkv: Tensor,
  cache: KvCache,
  step: Binding,
  out: Tensor,
  rows: number,
  nHead: number,
  options: AttentionOptions = {},
): Promise<void> {
  const C = out.shape[out.shape.length - 1];
  const P = checkCache('attention', qkv, cache, rows, C);
  if (!Number.isInteger(nHead) || nHead < 1 || C % nHead !== 0)
    throw new OptionError(`attention: width ${C} is not divisible by ${nHead} heads`);
  if (out.size < rows * C) throw new OptionError(`attention: out "${out.label}" [${out.shape.join(', ')}] cannot hold ${rows} rows`);
  const variant = options.variant ?? 'rows';
  if (variant !== 'rows' && variant !== 'split')
    throw new OptionError(`attention: variant must be 'rows' or 'split', got ${JSON.stringify(variant)}`);
  const headSize = C / nHead;
  const workgroupSize = 64;
  const scale = 1 / Math.sqrt(headSize);
  if (variant === 'rows') {
    const meta = plan.uniform(META.pack({ R: rows, C, H: nHead, P, scale }), 'attention.meta');
    await plan.add(
      attentionKernel,
      { headSize, workgroupSize },
      [meta, step, qkv, cache.k, cache.v, out],
      grid1d(Math.ceil((rows * nHead) / workgroupSize)),
      'attention',
      // q, then each sequence's keys and values up to its last row (once, as a GPU's caches would)
      (s) => ({ reads: rows * C * 4 + Math.ceil(rows / s.T) * (s.pos0 + s.T) * 2 * C * 4, writes: rows * C * 4 }),
    );
    return;
  }
  if (rows > cache.k.shape[0])
    throw new OptionError(`attention: split decode takes one row per sequence; ${rows} rows for ${cache.k.shape[0]} sequences`);
  const S = Math.ceil(P / SPLIT_CHUNK);
  const meta = plan.uniform(SPLIT_META.pack({ R: rows, C, H: nHead, P, S, scale }), 'attention.meta');
  const part = plan.storage(rows * nHead * S * (headSize + 2) * 4, 'attention.partials');
  await plan.add(
    attentionSplitKernel,
    { headSize, chunk: SPLIT_CHUNK, workgroupSize },
    [meta, step, qkv, cache.k, cache.v, part],
    grid1d(rows * nHead * S),
    'attention_split',
    (s) => ({
      reads: rows * 3 * C * 4 + rows * s.pos0 * 2 * C * 4, // q, k, v of the rows; the cached positions before them
      writes: rows * 2 * C * 4 + rows * nHead * Math.ceil((s.pos0 + 1) / SPLIT_CHUNK) * (headSize + 2) * 4, // the rows' k, v; partials
    }),
  );
  await plan.add(
    attentionCombineKernel,
    { headSize, workgroupSize },
    [meta, part, out],
    grid1d(rows * nHead),
    'attention_combine',
    (s) => ({
      reads: rows * nHead * (2 * S + Math.ceil((s.pos0 + 1) / SPLIT_CHUNK) * headSize) * 4,
      writes: rows * C * 4,
    }),
  );
}
