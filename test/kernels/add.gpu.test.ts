import { describe, expect, it } from 'vitest';
import { add } from '../../src/kernels/add.js';
import { Plan } from '../../src/runtime/plan.js';
import { Tensor } from '../../src/runtime/tensor.js';
import { ShaderError } from '../../src/errors.js';
import { assertClose, randomArray } from '../helpers/assert.js';
import { expectedDriver, useGpu } from '../helpers/gpu.js';

describe('foundation: WGSL on a real adapter in Node', () => {
  const gpu = useGpu();

  it('runs on the driver the project asked for', () => {
    const info = gpu().adapter;
    console.log(`adapter: ${JSON.stringify(info)} f16=${gpu().hasF16} timestamps=${gpu().hasTimestamps}`);
    const want = expectedDriver();
    if (want) expect(`${info.description} ${info.device} ${info.architecture} ${info.vendor}`).toMatch(want);
    if (process.env.WEBGEN_VULKAN === 'lavapipe') expect(gpu().hasF16).toBe(true);
    if (process.env.WEBGEN_VULKAN === 'swiftshader') expect(gpu().hasF16).toBe(false);
  });

  for (const n of [1, 3, 17, 63, 65, 769, 50257, 256 * 65535 + 7]) {
    it(`add matches the CPU for n=${n}`, async () => {
      const g = gpu();
      const a = randomArray(n, n),
        b = randomArray(n, n + 1);
      const ta = Tensor.from(g, a, [n], 'f32', 'a');
      const tb = Tensor.from(g, b, [n], 'f32', 'b');
      const out = Tensor.empty(g, [n], 'f32', 'out');
      const plan = new Plan(g, 'add-test');
      await add(plan, ta, tb, out);
      await g.checked('add', () => plan.submit());
      const got = await out.read();
      const ref = new Float32Array(n);
      for (let i = 0; i < n; i++) ref[i] = a[i] + b[i];
      assertClose(got, ref, { atol: 0, rtol: 0, what: `add n=${n}` }); // f32 addition is exact per element
      for (const t of [ta, tb, out]) t.dispose();
      plan.dispose();
    });
  }

  it('a WGSL error names its kernel', async () => {
    const kernel = { name: 'broken_kernel', source: () => '@compute @workgroup_size(1) fn main() { let x: f32 = undefined_thing; }' };
    await expect(gpu().pipelines.get(kernel, {})).rejects.toThrow(ShaderError);
    await expect(gpu().pipelines.get(kernel, {})).rejects.toThrow(/broken_kernel/);
  });

  it('caches pipelines by their params', async () => {
    const g = gpu();
    const before = g.pipelines.created;
    const { addKernel } = await import('../../src/kernels/add.js');
    const p1 = await g.pipelines.get(addKernel, { workgroupSize: 64 });
    const p2 = await g.pipelines.get(addKernel, { workgroupSize: 64 });
    const p3 = await g.pipelines.get(addKernel, { workgroupSize: 128 });
    expect(p1).toBe(p2);
    expect(p3).not.toBe(p1);
    expect(g.pipelines.created - before).toBe(2);
  });

  it('counts live buffers and bytes', () => {
    const g = gpu();
    const m0 = g.memory();
    const t = Tensor.empty(g, [1000], 'f32', 'probe');
    expect(g.memory().liveBuffers).toBe(m0.liveBuffers + 1);
    expect(g.memory().liveBytes).toBe(m0.liveBytes + 4000);
    t.dispose();
    t.dispose();
    expect(g.memory()).toMatchObject({ liveBuffers: m0.liveBuffers, liveBytes: m0.liveBytes });
  });
});
