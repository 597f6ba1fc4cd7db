// The smallest real job: run one WGSL kernel on the adapter and check it against the CPU (`webgen
// selfcheck`; it works in a page or a worker too). Written on the public API, as a user's program.
import { Gpu, type AdapterDescription } from '../index.js';
import { add, Plan, Tensor } from '../kernels/index.js';

export interface SelfCheckResult {
  adapter: AdapterDescription;
  shaderF16: boolean;
  timestampQuery: boolean;
  n: number;
  maxAbsError: number;
  ok: boolean;
  ms: number;
}

export async function selfCheck(gpu?: Gpu, n = 100_003): Promise<SelfCheckResult> {
  const own = !gpu;
  const g = gpu ?? (await Gpu.create());
  try {
    const a = new Float32Array(n),
      b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = Math.sin(i);
      b[i] = Math.cos(i * 0.5);
    }
    const ta = Tensor.from(g, a, [n], 'f32', 'a'),
      tb = Tensor.from(g, b, [n], 'f32', 'b'),
      out = Tensor.empty(g, [n], 'f32', 'out');
    const plan = new Plan(g, 'selfcheck');
    const t0 = performance.now();
    await add(plan, ta, tb, out);
    plan.submit();
    const got = (await out.read()) as Float32Array;
    const ms = performance.now() - t0;
    let maxAbsError = 0;
    for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs(got[i] - Math.fround(a[i] + b[i])));
    plan.dispose();
    for (const t of [ta, tb, out]) t.dispose();
    return { adapter: g.adapter, shaderF16: g.hasF16, timestampQuery: g.hasTimestamps, n, maxAbsError, ok: maxAbsError === 0, ms };
  } finally {
    if (own) g.dispose();
  }
}
