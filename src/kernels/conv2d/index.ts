// conv2d: y = epilogue(conv2d(upsample(x), w)), a forward convolution (cross-correlation) with any
// strides of x and y (view.ts); the input optionally read nearest-upsampled on the fly (Keras
// UpSampling2D + Conv2D as one dispatch). One path, one invocation per output element (conv2d.wgsl).
// The weight is [kh, kw, cin, cout] (Keras' own layout; weights.ts converts PyTorch's).
import template from './conv2d.wgsl?raw';
import { LimitError, OptionError } from '../../errors.js';
import { grid1d, type Plan } from '../../runtime/plan.js';
import type { Kernel } from '../../runtime/pipelines.js';
import type { Tensor } from '../../runtime/tensor.js';
import { pair } from '../../util.js';
import { checkEpilogue, epilogueBindings, epilogueParams, epilogueWgsl, type Epilogue, type EpilogueParams } from '../epilogue.js';
import { uniformStruct } from '../uniform.js';
import { checkView, VIEW_FIELDS, viewStrides, type View4 } from '../view.js';
import { fill } from '../wgsl.js';

const META = uniformStruct('Meta', {
  batch: 'u32',
  cin: 'u32',
  ih: 'u32',
  iw: 'u32',
  cout: 'u32',
  oh: 'u32',
  ow: 'u32',
  kh: 'u32',
  kw: 'u32',
  sh: 'u32',
  sw: 'u32',
  ph: 'i32',
  pw: 'i32',
  uh: 'u32',
  uw: 'u32',
  ...VIEW_FIELDS,
});

export type Conv2dParams = EpilogueParams & { readonly wg: number };

export const conv2dKernel: Kernel<Conv2dParams> = {
  name: 'conv2d',
  source: (p) => fill(template, { META: META.declare(0, 'u'), EPILOGUE: epilogueWgsl(p, 3, 'u.cout') }),
  constants: (p) => ({ WG: p.wg }),
};

export interface Conv2dOptions extends Epilogue {
  /** [sh, sw] or one number (default 1). */
  stride?: number | readonly [number, number];
  /** Zeros before the first row and column ([top, left]; default 0). The output size is the view of `y`: rows past the input read zeros. */
  padding?: number | readonly [number, number];
  /** Read x nearest-upsampled by these factors (default 1). */
  upsample?: number | readonly [number, number];
}

/** Keras/TensorFlow padding 'same' along one axis: the output size and the zeros before the first element. */
export function kerasSameConv(n: number, k: number, s: number): { out: number; pad: number } {
  const out = Math.ceil(n / s);
  return { out, pad: Math.floor(Math.max((out - 1) * s + k - n, 0) / 2) };
}

/** The output size of a convolution of n values with padding p at each side: floor((n + 2p - k) / s) + 1. */
export function conv2dOutputSize(n: number, k: number, s: number, p = 0): number {
  return Math.floor((n + 2 * p - k) / s) + 1;
}

/** PyTorch Conv2d weight [cout, cin, kh, kw] -> the kernel's [kh, kw, cin, cout]. */
export function conv2dWeightFromPytorch(w: Float32Array, cout: number, cin: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let co = 0; co < cout; co++)
    for (let ci = 0; ci < cin; ci++) for (let t = 0; t < kh * kw; t++) out[(t * cin + ci) * cout + co] = w[(co * cin + ci) * kh * kw + t];
  return out;
}

/** Records y = epilogue(conv2d(upsample(x), w)) for x viewed as `xv` and y as `yv`; w is f32 [kh, kw, cin, cout]. */
export async function conv2d(plan: Plan, x: Tensor, xv: View4, w: Tensor, y: Tensor, yv: View4, opts: Conv2dOptions = {}): Promise<void> {
  const [sh, sw] = pair(opts.stride, 1);
  const [ph, pw] = pair(opts.padding, 0);
  const [uh, uw] = pair(opts.upsample, 1);
  const fail = (msg: string): never => {
    throw new OptionError(`conv2d: ${msg}`);
  };
  for (const [name, t] of [
    ['x', x],
    ['w', w],
    ['y', y],
  ] as const) {
    if (t.dtype !== 'f32') fail(`"${name}" (${t.label}) must be f32, got ${t.dtype}`);
  }
  if (x.buffer === y.buffer) fail('x and y must be different tensors');
  if (w.shape.length !== 4) fail(`weight "${w.label}" must be [kh, kw, cin, cout], got [${w.shape.join(', ')}]`);
  const [kh, kw, cin, cout] = w.shape;
  if (xv.c !== cin) fail(`input has ${xv.c} channels, weight "${w.label}" [${w.shape.join(', ')}] expects ${cin}`);
  if (yv.c !== cout) fail(`output has ${yv.c} channels, weight "${w.label}" [${w.shape.join(', ')}] gives ${cout}`);
  if (yv.batch !== xv.batch) fail(`input batch ${xv.batch} != output batch ${yv.batch}`);
  for (const [what, v] of [
    ['stride', [sh, sw]],
    ['upsample', [uh, uw]],
  ] as const) {
    if (!v.every((d) => Number.isInteger(d) && d >= 1)) fail(`${what} must be positive integers, got [${v.join(', ')}]`);
  }
  if (!Number.isInteger(ph) || !Number.isInteger(pw) || ph < 0 || pw < 0) fail(`padding must be non-negative integers, got [${ph}, ${pw}]`);
  checkView(xv, x, 'input', fail);
  checkView(yv, y, 'output', fail);
  checkEpilogue(opts, cout, fail);
  const meta = META.pack({
    batch: xv.batch,
    cin,
    ih: xv.h,
    iw: xv.w,
    cout,
    oh: yv.h,
    ow: yv.w,
    kh,
    kw,
    sh,
    sw,
    ph,
    pw,
    uh,
    uw,
    ...viewStrides(xv, yv),
  });
  const wg = 64;
  const maxDim = plan.gpu.limits.maxComputeWorkgroupsPerDimension;
  const grid = grid1d(Math.ceil((yv.batch * yv.h * yv.w * cout) / wg), maxDim);
  if (grid[1] > maxDim) throw new LimitError('conv2d: output too large for one dispatch; split the batch');
  const bindings = [plan.uniform(meta, 'conv2d'), x, w, ...epilogueBindings(opts, y)];
  await plan.add(conv2dKernel, { ...epilogueParams(opts), wg }, bindings, grid, `conv2d ${w.label}`);
}
