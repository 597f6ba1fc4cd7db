// kvStore alone against the CPU reference: every slot of both caches is compared, so the written
// positions must hold k and v of their rows exactly and every other slot its sentinel.
import { describe, expect, it } from 'vitest';
import { kvStore, Plan, STEP, Tensor } from '../../src/kernels/index.js';
import { OptionError } from '../../src/errors.js';
import type { Gpu } from '../../src/runtime/device.js';
import { assertClose, randomArray } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';
import { kvStoreRef } from '../helpers/reference.js';

interface Case {
  /** cache sequence slots and positions */
  slots: number;
  P: number;
  C: number;
  T: number;
  B: number;
  pos0: number;
  copies?: number;
}

async function runCase(g: Gpu, c: Case): Promise<void> {
  const { slots, P, C, T, B, pos0 } = c;
  const copies = c.copies ?? 1;
  const R = T * B;
  const seed = slots * 977 + P * 31 + C + R;
  const qkv = randomArray(R * 3 * C, seed, 1);
  // sentinels that differ per slot, and between k and v, so a write to the wrong slot or cache shows
  const k0 = new Float32Array(slots * P * C),
    v0 = new Float32Array(slots * P * C);
  for (let i = 0; i < k0.length; i++) {
    k0[i] = 1000 + i;
    v0[i] = -1000 - i;
  }
  const tq = Tensor.from(g, qkv, [R, 3 * C], 'f32', 'qkv');
  const k = Tensor.from(g, k0, [slots, P, C], 'f32', 'k');
  const v = Tensor.from(g, v0, [slots, P, C], 'f32', 'v');
  const step = g.uniform(STEP.pack({ pos0, T, B }), 'step');
  const plan = new Plan(g, 'kv-store-test');
  await kvStore(plan, tq, { k, v }, step, R, C, copies);
  await g.checked('kv_store', () => plan.submit());
  const want = kvStoreRef(qkv, k0, v0, R, C, P, T, pos0, copies);
  const what = `kv_store ${JSON.stringify(c)}`;
  // a copy: bit-exact
  assertClose(await k.readFloat32(), want.k, { atol: 0, rtol: 0, what: `${what}: k cache` });
  assertClose(await v.readFloat32(), want.v, { atol: 0, rtol: 0, what: `${what}: v cache` });
  for (const t of [tq, k, v]) t.dispose();
  g.destroyBuffer(step);
  plan.dispose();
}

describe('kvStore against the CPU reference', () => {
  const gpu = useGpu();
  for (const C of [1, 3, 17, 65, 769]) {
    for (const T of [1, 5, 17]) {
      it(`prompt: C=${C}, T=${T}, copies 1`, async () => runCase(gpu(), { slots: 3, P: 20, C, T, B: 1, pos0: 0 }));
    }
    it(`prompt shared by a batch: C=${C}, T=17, copies 3 (of 4 slots)`, async () =>
      runCase(gpu(), { slots: 4, P: 20, C, T: 17, B: 1, pos0: 0, copies: 3 }));
    it(`decode: C=${C}, B=3 sequences of T=1 at pos0=7`, async () => runCase(gpu(), { slots: 3, P: 20, C, T: 1, B: 3, pos0: 7 }));
  }
  it('decode at the last position, B=2 of 3 slots; copies = every slot', async () => {
    await runCase(gpu(), { slots: 3, P: 9, C: 63, T: 1, B: 2, pos0: 8 });
    await runCase(gpu(), { slots: 3, P: 9, C: 63, T: 9, B: 1, pos0: 0, copies: 3 });
  });
  it('T=4 rows of each of B=3 sequences at pos0=5', async () => runCase(gpu(), { slots: 3, P: 12, C: 17, T: 4, B: 3, pos0: 5 }));
  it('a prompt continued at pos0 > 0 with copies', async () => runCase(gpu(), { slots: 2, P: 12, C: 3, T: 5, B: 1, pos0: 6, copies: 2 }));

  it('bad shapes raise OptionError naming the tensor', async () => {
    const g = gpu();
    const qkv = Tensor.empty(g, [3, 24], 'f32', 'blk.qkv');
    const qkvShort = Tensor.empty(g, [2, 24], 'f32', 'blk.qkv2');
    const k = Tensor.empty(g, [2, 5, 8], 'f32', 'k0'),
      v = Tensor.empty(g, [2, 5, 8], 'f32', 'v0');
    const k7 = Tensor.empty(g, [2, 5, 7], 'f32', 'k7'),
      v6 = Tensor.empty(g, [2, 6, 8], 'f32', 'v6'),
      k2d = Tensor.empty(g, [10, 8], 'f32', 'k2d');
    const step = g.uniform(STEP.pack({ pos0: 0, T: 3, B: 1 }), 'step');
    const plan = new Plan(g, 'bad');
    const rejects = (p: Promise<void>, re: RegExp) => Promise.all([expect(p).rejects.toThrow(OptionError), expect(p).rejects.toThrow(re)]);
    await rejects(kvStore(plan, qkv, { k, v }, step, 3, 7), /qkv "blk\.qkv" \[3, 24\] is not \[3, 21\]/);
    await rejects(kvStore(plan, qkvShort, { k, v }, step, 3, 8), /qkv "blk\.qkv2" \[2, 24\] is not \[3, 24\]/);
    // the cache checks name the caches by role and shape, not by label
    await rejects(kvStore(plan, qkv, { k: k7, v }, step, 3, 8), /cache k "k7" \[2, 5, 7\], v "v0" \[2, 5, 8\] is not \[B, P, 8\]/);
    await rejects(kvStore(plan, qkv, { k, v: v6 }, step, 3, 8), /cache k "k0" \[2, 5, 8\], v "v6" \[2, 6, 8\]/);
    await rejects(kvStore(plan, qkv, { k: k2d, v: k2d }, step, 3, 8), /cache k "k2d" \[10, 8\]/);
    await rejects(kvStore(plan, qkv, { k, v }, step, 3, 8, 3), /3 copies do not fit the cache's 2 sequences/);
    await rejects(kvStore(plan, qkv, { k, v }, step, 3, 8, 0), /0 copies/);
    expect(plan.dispatches.length).toBe(0);
    for (const t of [qkv, qkvShort, k, v, k7, v6, k2d]) t.dispose();
    g.destroyBuffer(step);
    plan.dispose();
  });
});
