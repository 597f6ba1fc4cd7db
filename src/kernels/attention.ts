import attentionTemplate from './attention.wgsl?raw';
import kvStoreSource from './kv_store.wgsl?raw';
import { OptionError } from '../errors.js';
import { grid1d, packMeta, type Binding, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { fill } from './wgsl.js';

export type AttentionParams = { readonly headSize: number; readonly workgroupSize: number };
export type KvStoreParams = { readonly workgroupSize: number };

export const attentionKernel: Kernel<AttentionParams> = {
  name: 'attention',
  source: (p) => fill(attentionTemplate, { HD: `${p.headSize}u`, HD4: `${Math.ceil(p.headSize / 4)}u` }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

export const kvStoreKernel: Kernel<KvStoreParams> = {
  name: 'kv_store',
  source: () => kvStoreSource,
  constants: (p) => ({ WG: p.workgroupSize }),
};

export interface KvCache {
  /** [B, P, C] each. */
  readonly k: Tensor;
  readonly v: Tensor;
}

function checkCache(qkv: Tensor, cache: KvCache, rows: number, C: number): number {
  if (qkv.shape[qkv.shape.length - 1] !== 3 * C || qkv.size < rows * 3 * C) {
    throw new OptionError(`attention: qkv "${qkv.label}" [${qkv.shape.join(', ')}] is not [${rows}, ${3 * C}]`);
  }
  const [, P, cc] = cache.k.shape;
  if (cc !== C || cache.v.shape.join() !== cache.k.shape.join()) throw new OptionError(`attention: cache [${cache.k.shape.join(', ')}] does not match width ${C}`);
  return P;
}

/**
 * Records kc/vc[b, pos0 + t] = k/v of qkv row r (b = r / T, t = r % T; Step = {pos0, T, B}); with
 * copies > 1 the rows of sequence 0 are written to slots 0..copies-1 (a prompt shared by a batch).
 */
export async function kvStore(plan: Plan, qkv: Tensor, cache: KvCache, step: Binding, rows: number, C: number, copies = 1): Promise<void> {
  const P = checkCache(qkv, cache, rows, C);
  if (copies > cache.k.shape[0]) throw new OptionError(`kvStore: ${copies} copies exceed the cache's ${cache.k.shape[0]} sequences`);
  const workgroupSize = 64;
  const meta = plan.uniform(new Uint32Array([rows, C, P, copies]), 'kv_store.meta');
  await plan.add(kvStoreKernel, { workgroupSize }, [meta, step, qkv, cache.k, cache.v], grid1d(Math.ceil((rows * C) / workgroupSize)), 'kv_store');
}

/** Records out[R, C] = causal softmax(q k^T / sqrt(hd)) v per head, reading k and v from the cache. */
export async function attention(plan: Plan, qkv: Tensor, cache: KvCache, step: Binding, out: Tensor, rows: number, nHead: number): Promise<void> {
  const C = out.shape[out.shape.length - 1];
  const P = checkCache(qkv, cache, rows, C);
  if (C % nHead !== 0) throw new OptionError(`attention: width ${C} is not divisible by ${nHead} heads`);
  const headSize = C / nHead;
  const workgroupSize = 64;
  const meta = plan.uniform(packMeta([rows, C, nHead, P, { f32: 1 / Math.sqrt(headSize) }]), 'attention.meta');
  await plan.add(attentionKernel, { headSize, workgroupSize }, [meta, step, qkv, cache.k, cache.v, out], grid1d(Math.ceil((rows * nHead) / workgroupSize)), 'attention');
}
