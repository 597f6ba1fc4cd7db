import template from './add.wgsl?raw';
import { OptionError } from '../errors.js';
import { grid1d, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { uniformStruct } from './uniform.js';
import { fill } from './wgsl.js';

const META = uniformStruct('Meta', { n: 'u32' });

export type AddParams = { readonly workgroupSize: number };

export const addKernel: Kernel<AddParams> = {
  name: 'add',
  source: () => fill(template, { META: META.declare(0, 'u') }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/** Records out = a + b (f32, same element count). */
export async function add(plan: Plan, a: Tensor, b: Tensor, out: Tensor, workgroupSize = 256): Promise<void> {
  for (const [name, t] of [
    ['a', a],
    ['b', b],
    ['out', out],
  ] as const) {
    if (t.dtype !== 'f32') throw new OptionError(`add: "${name}" (${t.label}) must be f32, got ${t.dtype}`);
    if (t.size !== a.size) throw new OptionError(`add: "${name}" has ${t.size} elements, "a" has ${a.size}`);
  }
  const n = a.size;
  const meta = plan.uniform(META.pack({ n }), 'add');
  await plan.add(addKernel, { workgroupSize }, [meta, a, b, out], grid1d(Math.ceil(n / workgroupSize)));
}
