import template from './kv_store.wgsl?raw';
import { OptionError } from '../errors.js';
import { grid1d, type Binding, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { STEP, uniformStruct } from './uniform.js';
import { fill } from './wgsl.js';

const META = uniformStruct('Meta', { R: 'u32', C: 'u32', P: 'u32', copies: 'u32' });

export type KvStoreParams = { readonly workgroupSize: number };

export const kvStoreKernel: Kernel<KvStoreParams> = {
  name: 'kv_store',
  source: () => fill(template, { META: META.declare(0, 'u'), STEP: STEP.declare(1, 'step') }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/** One layer's key and value cache. */
export interface KvCache {
  /** [B, P, C] each. */
  readonly k: Tensor;
  readonly v: Tensor;
}

/** Checks qkv [rows, 3C] against the cache [B, P, C]; returns P. */
export function checkCache(op: string, qkv: Tensor, cache: KvCache, rows: number, C: number): number {
  if (qkv.shape[qkv.shape.length - 1] !== 3 * C || qkv.size < rows * 3 * C) {
    throw new OptionError(`${op}: qkv "${qkv.label}" [${qkv.shape.join(', ')}] is not [${rows}, ${3 * C}]`);
  }
  const [, P, cc] = cache.k.shape;
  if (cache.k.shape.length !== 3 || cc !== C || cache.v.shape.join() !== cache.k.shape.join()) {
    throw new OptionError(
      `${op}: cache k "${cache.k.label}" [${cache.k.shape.join(', ')}], v "${cache.v.label}" [${cache.v.shape.join(', ')}] is not [B, P, ${C}]`,
    );
  }
  return P;
}

/**
 * Records k/v cache[b, pos0 + t] = k/v of qkv row r (b = r / T, t = r % T; `step` the Step uniform);
 * with copies > 1 the rows of sequence 0 are written to slots 0..copies-1 (a prompt shared by a batch).
 */
export async function kvStore(plan: Plan, qkv: Tensor, cache: KvCache, step: Binding, rows: number, C: number, copies = 1): Promise<void> {
  const P = checkCache('kv_store', qkv, cache, rows, C);
  if (!Number.isInteger(copies) || copies < 1 || copies > cache.k.shape[0]) {
    throw new OptionError(`kv_store: ${copies} copies do not fit the cache's ${cache.k.shape[0]} sequences`);
  }
  const workgroupSize = 64;
  const meta = plan.uniform(META.pack({ R: rows, C, P, copies }), 'kv_store.meta');
  await plan.add(
    kvStoreKernel,
    { workgroupSize },
    [meta, step, qkv, cache.k, cache.v],
    grid1d(Math.ceil((rows * C) / workgroupSize)),
    'kv_store',
    { reads: rows * 2 * C * 4, writes: rows * 2 * C * 4 * copies },
  );
}
