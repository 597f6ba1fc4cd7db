import template from './attention.wgsl?raw';
import { OptionError } from '../errors.js';
import { grid1d, type Binding, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkCache, type KvCache } from './kv_store.js';
import { STEP, uniformStruct } from './uniform.js';
import { fill } from './wgsl.js';

const META = uniformStruct('Meta', { R: 'u32', C: 'u32', H: 'u32', P: 'u32', scale: 'f32' });

export type AttentionParams = { readonly headSize: number; readonly workgroupSize: number };

export const attentionKernel: Kernel<AttentionParams> = {
  name: 'attention',
  source: (p) =>
    fill(template, {
      HD: `${p.headSize}u`,
      HD4: `${Math.ceil(p.headSize / 4)}u`,
      META: META.declare(0, 'u'),
      STEP: STEP.declare(1, 'step'),
    }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/**
 * Records out[R, C] = causal softmax(q k^T / sqrt(hd)) v per head, q from qkv [R, 3C] and k, v from
 * the cache (kv_store has written the rows' own positions); `step` the Step uniform.
 */
export async function attention(
  plan: Plan,
  qkv: Tensor,
  cache: KvCache,
  step: Binding,
  out: Tensor,
  rows: number,
  nHead: number,
): Promise<void> {
  const C = out.shape[out.shape.length - 1];
  const P = checkCache('attention', qkv, cache, rows, C);
  if (!Number.isInteger(nHead) || nHead < 1 || C % nHead !== 0)
    throw new OptionError(`attention: width ${C} is not divisible by ${nHead} heads`);
  if (out.size < rows * C) throw new OptionError(`attention: out "${out.label}" [${out.shape.join(', ')}] cannot hold ${rows} rows`);
  const headSize = C / nHead;
  const workgroupSize = 64;
  const meta = plan.uniform(META.pack({ R: rows, C, H: nHead, P, scale: 1 / Math.sqrt(headSize) }), 'attention.meta');
  await plan.add(
    attentionKernel,
    { headSize, workgroupSize },
    [meta, step, qkv, cache.k, cache.v, out],
    grid1d(Math.ceil((rows * nHead) / workgroupSize)),
    'attention',
  );
}
