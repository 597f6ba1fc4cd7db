// The competing barrier-free transposed convolution of conv_transpose2d_vec.wgsl: the Meta, bindings
// and epilogue of src/kernels/conv_transpose2d.ts, so it could become a third path there.
import source from './conv_transpose2d_vec.wgsl?raw';
import { epilogueBindings, epilogueParams, epilogueWgsl, type ConvTransposeOptions, type EpilogueParams, type View4 } from '../../src/kernels/conv_transpose2d.js';
import { fill } from '../../src/kernels/common.js';
import { OptionError } from '../../src/runtime/errors.js';
import { grid1d, type Binding, type Plan } from '../../src/runtime/plan.js';
import type { Kernel } from '../../src/runtime/pipelines.js';
import type { Tensor } from '../../src/runtime/tensor.js';

export type ConvVecParams = EpilogueParams & { readonly tm: number; readonly wg: number };

export const convTranspose2dVecKernel: Kernel<ConvVecParams> = {
  name: 'bench_conv_transpose2d_vec',
  source: (p) => fill(source, { EPILOGUE: epilogueWgsl(p, 3, 'u.cout'), TM: `${p.tm}u` }),
  constants: (p) => ({ WG: p.wg }),
};

export async function convTranspose2dVec(plan: Plan, x: Tensor, xv: View4, w: Tensor, y: Tensor, yv: View4, opts: ConvTransposeOptions & { tm?: number } = {}): Promise<void> {
  const pair = (v: number | readonly [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]]);
  const [sh, sw] = pair(opts.stride, 1);
  const [ph, pw] = pair(opts.padding, 0);
  const [kh, kw, cin, cout] = w.shape;
  if (cout % 4 !== 0) throw new OptionError(`conv_transpose2d_vec: cout ${cout} is not a multiple of 4`);
  if (xv.c !== cin || yv.c !== cout) throw new OptionError('conv_transpose2d_vec: channels do not match the weight');
  const meta = new ArrayBuffer(24 * 4);
  const mu = new Uint32Array(meta);
  mu.set([xv.batch, cin, xv.h, xv.w, cout, yv.h, yv.w, kh, kw, sh, sw, 0, 0, ...xv.strides, ...yv.strides]);
  const mi = new Int32Array(meta);
  mi[11] = ph;
  mi[12] = pw;
  const tm = opts.tm ?? 4;
  const wg = 64;
  const perPhase = Math.ceil(yv.w / sw);
  const threads = yv.batch * yv.h * sw * Math.ceil(perPhase / tm) * (cout / 4);
  const bindings: Binding[] = [plan.uniform(new Uint32Array(meta), 'conv_transpose2d_vec'), x, w, ...epilogueBindings(opts, y)];
  await plan.add(convTranspose2dVecKernel, { ...epilogueParams(opts), tm, wg }, bindings, grid1d(Math.ceil(threads / wg), plan.gpu.limits.maxComputeWorkgroupsPerDimension), `conv_transpose2d_vec ${w.label}`);
}
