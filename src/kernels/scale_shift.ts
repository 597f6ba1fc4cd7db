import template from './scale_shift.wgsl?raw';
import { LimitError, OptionError } from '../errors.js';
import { grid1d, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkView, VIEW_FIELDS, viewStrides, type View4 } from './view.js';
import { checkEpilogue, epilogueBindings, epilogueParams, epilogueWgsl, type Activation, type EpilogueParams } from './epilogue.js';
import { uniformStruct } from './uniform.js';
import { fill } from './wgsl.js';

const META = uniformStruct('Meta', { batch: 'u32', c: 'u32', h: 'u32', w: 'u32', ...VIEW_FIELDS });

export type ScaleShiftParams = EpilogueParams & { readonly wg: number };

export const scaleShiftKernel: Kernel<ScaleShiftParams> = {
  name: 'scale_shift',
  source: (p) => fill(template, { META: META.declare(0, 'u'), EPILOGUE: epilogueWgsl(p, 2, 'u.c') }),
  constants: (p) => ({ WG: p.wg }),
};

export interface ScaleShiftOptions {
  /** [2, c]: per-channel scale then shift (an eval-mode batch norm); omitted: identity. */
  affine?: Tensor;
  act?: Activation;
  slope?: number;
}

/** Records y = act(x * scale[c] + shift[c]) elementwise, x viewed as `xv`, y as `yv` (same sizes, any strides). */
export async function scaleShift(plan: Plan, x: Tensor, xv: View4, y: Tensor, yv: View4, opts: ScaleShiftOptions = {}): Promise<void> {
  const fail = (msg: string): never => {
    throw new OptionError(`scale_shift: ${msg}`);
  };
  if (x.buffer === y.buffer) fail('x and y must be different tensors (a buffer cannot be read and written in one dispatch)');
  for (const t of [x, y]) if (t.dtype !== 'f32') fail(`"${t.label}" must be f32, got ${t.dtype}`);
  if (xv.batch !== yv.batch || xv.c !== yv.c || xv.h !== yv.h || xv.w !== yv.w) {
    fail(`input view [${xv.batch}, ${xv.c}, ${xv.h}, ${xv.w}] and output view [${yv.batch}, ${yv.c}, ${yv.h}, ${yv.w}] differ`);
  }
  checkView(xv, x, 'input', fail);
  checkView(yv, y, 'output', fail);
  // the affine is the epilogue's post: act2(act1(x) * scale + shift) with act1 the identity
  const epilogue = { post: opts.affine, act2: opts.act, slope2: opts.slope };
  checkEpilogue(epilogue, xv.c, fail);
  const n = xv.batch * xv.c * xv.h * xv.w;
  const wg = 256;
  const maxDim = plan.gpu.limits.maxComputeWorkgroupsPerDimension;
  const grid = grid1d(Math.ceil(n / wg), maxDim);
  if (grid[1] > maxDim) throw new LimitError('scale_shift: too many elements for one dispatch; split the batch');
  const meta = plan.uniform(META.pack({ batch: xv.batch, c: xv.c, h: xv.h, w: xv.w, ...viewStrides(xv, yv) }), 'scale_shift');
  await plan.add(
    scaleShiftKernel,
    { ...epilogueParams(epilogue), wg },
    [meta, x, ...epilogueBindings(epilogue, y)],
    grid,
    `scale_shift ${y.label}`,
  );
}
