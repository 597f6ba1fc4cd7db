import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type BrowserSession } from '../helpers/browser.js';
import { assertClose, randomArray } from '../helpers/assert.js';

describe('foundation: WGSL in headless Chromium', () => {
  let s: BrowserSession;
  beforeAll(async () => {
    s = await openHarness();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('runs the add kernel on the page and matches the CPU', async () => {
    const n = 70_001;
    const a = randomArray(n, 1),
      b = randomArray(n, 2);
    const out = await s.page.evaluate(
      async (a: number[], b: number[]) => {
        const w = (window as any).webgen;
        const gpu = await w.Gpu.create();
        const n = a.length;
        const ta = w.Tensor.from(gpu, new Float32Array(a), [n], 'f32', 'a');
        const tb = w.Tensor.from(gpu, new Float32Array(b), [n], 'f32', 'b');
        const to = w.Tensor.empty(gpu, [n], 'f32', 'out');
        const plan = new w.Plan(gpu, 'browser-add');
        await w.add(plan, ta, tb, to);
        plan.submit();
        const got = Array.from(await to.read());
        plan.dispose();
        ta.dispose();
        tb.dispose();
        to.dispose();
        const live = gpu.memory().liveBuffers;
        gpu.dispose();
        return { got, adapter: gpu.adapter, f16: gpu.hasF16, live };
      },
      Array.from(a),
      Array.from(b),
    );
    console.log(`chromium adapter: ${JSON.stringify(out.adapter)} f16=${out.f16} ua=${await s.browser.version()}`);
    expect(out.adapter.runtime).toBe('browser');
    expect(out.live).toBe(0);
    const ref = new Float32Array(n);
    for (let i = 0; i < n; i++) ref[i] = a[i] + b[i];
    assertClose(out.got as number[], ref, { atol: 0, rtol: 0, what: 'browser add' });
  });

  it('runs the same engine inside a Web Worker', async () => {
    const msg = await s.page.evaluate(
      () =>
        new Promise<any>((resolve) => {
          const w = new Worker('/test/browser/selfcheck.worker.ts', { type: 'module' });
          w.onmessage = (e) => resolve(e.data);
          w.onerror = (e) => resolve({ ok: false, error: e.message });
        }),
    );
    expect(msg.error).toBeUndefined();
    expect(msg.result.adapter.runtime).toBe('browser');
    expect(msg.result.n).toBeGreaterThan(100_000);
    expect(msg.result.maxAbsError).toBe(0);
  });
});
