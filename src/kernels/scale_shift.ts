import source from './scale_shift.wgsl?raw';
import { fill } from './wgsl.js';
import { epilogueBindings, epilogueParams, epilogueWgsl, type EpilogueParams, type GanActivation, type View4 } from './conv_transpose2d/index.js';
import { LimitError, OptionError } from '../errors.js';
import { grid1d, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';

export type ScaleShiftParams = EpilogueParams & { readonly wg: number };

export const scaleShiftKernel: Kernel<ScaleShiftParams> = {
  name: 'scale_shift',
  source: (p) => fill(source, { EPILOGUE: epilogueWgsl(p, 2, 'u.c') }),
  constants: (p) => ({ WG: p.wg }),
};

export interface ScaleShiftOptions {
  /** [2, c]: per-channel scale then shift (an eval-mode batch norm); omitted: identity. */
  affine?: Tensor;
  act?: GanActivation;
  slope?: number;
}

/** Records y = act(x * scale[c] + shift[c]) elementwise, x viewed as `xv`, y as `yv` (same sizes, any strides). */
export async function scaleShift(plan: Plan, x: Tensor, xv: View4, y: Tensor, yv: View4, opts: ScaleShiftOptions = {}): Promise<void> {
  const fail = (msg: string): never => {
    throw new OptionError(`scale_shift: ${msg}`);
  };
  if (x.buffer === y.buffer) fail('x and y must be different tensors (a buffer cannot be read and written in one dispatch)');
  for (const t of [x, y, opts.affine]) if (t && t.dtype !== 'f32') fail(`"${t.label}" must be f32, got ${t.dtype}`);
  if (xv.batch !== yv.batch || xv.c !== yv.c || xv.h !== yv.h || xv.w !== yv.w) {
    fail(`input view [${xv.batch}, ${xv.c}, ${xv.h}, ${xv.w}] and output view [${yv.batch}, ${yv.c}, ${yv.h}, ${yv.w}] differ`);
  }
  if (opts.affine && opts.affine.size !== 2 * xv.c) fail(`"${opts.affine.label}" has ${opts.affine.size} values, expected 2 x ${xv.c}`);
  const n = xv.batch * xv.c * xv.h * xv.w;
  const wg = 256;
  const maxDim = plan.gpu.limits.maxComputeWorkgroupsPerDimension;
  const grid = grid1d(Math.ceil(n / wg), maxDim);
  if (grid[1] > maxDim) throw new LimitError('scale_shift: too many elements for one dispatch; split the batch');
  const params: ScaleShiftParams = { ...epilogueParams({ post: opts.affine, act2: opts.act, slope2: opts.slope }), wg };
  const meta = plan.uniform(new Uint32Array([xv.batch, xv.c, xv.h, xv.w, ...xv.strides, ...yv.strides]), 'scale_shift');
  await plan.add(scaleShiftKernel, params, [meta, x, ...epilogueBindings({ post: opts.affine }, y)], grid, `scale_shift ${y.label}`);
}
