import template from './layernorm.wgsl?raw';
import { OptionError } from '../errors.js';
import type { Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { uniformStruct } from './uniform.js';
import { fill } from './wgsl.js';

const META = uniformStruct('Meta', { R: 'u32', C: 'u32', eps: 'f32' });

export type LayerNormParams = { readonly workgroupSize: number };

export const layerNormKernel: Kernel<LayerNormParams> = {
  name: 'layernorm',
  source: () => fill(template, { META: META.declare(0, 'u') }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/** Records out[R, C] = LayerNorm(x[R, C]) * gamma + beta over the last dimension. */
export async function layerNorm(
  plan: Plan,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  out: Tensor,
  eps: number,
  rows?: number,
): Promise<void> {
  const C = x.shape[x.shape.length - 1];
  const R = rows ?? x.size / C;
  if (gamma.size !== C || beta.size !== C) {
    throw new OptionError(`layerNorm: "${gamma.label}"/"${beta.label}" have ${gamma.size}/${beta.size} values, rows have ${C}`);
  }
  if (!Number.isInteger(R) || R < 1 || out.size < R * C || x.size < R * C) {
    throw new OptionError(`layerNorm: ${R} rows of ${C} do not fit "${x.label}" or "${out.label}"`);
  }
  if (!(eps >= 0)) throw new OptionError(`layerNorm: eps must be >= 0, got ${eps}`);
  const workgroupSize = 64;
  const meta = plan.uniform(META.pack({ R, C, eps }), `${gamma.label}.meta`);
  await plan.add(
    layerNormKernel,
    { workgroupSize },
    [meta, x, gamma, beta, out],
    [Math.ceil(R / workgroupSize)],
    `layernorm ${gamma.label}`,
    { reads: (R + 2) * C * 4, writes: R * C * 4 },
  );
}
