import source from './regs.wgsl?raw';
import directSource from './direct.wgsl?raw';
import tiledSource from '../../../bench/kernels/conv_transpose2d_tiled.wgsl?raw';
import vecSource from './vec.wgsl?raw';
import { activationWgsl, fill } from '../wgsl.js';
import { LimitError, OptionError } from '../../errors.js';
import { grid1d, type Binding, type Plan } from '../../runtime/plan.js';
import type { Kernel } from '../../runtime/pipelines.js';
import type { Tensor } from '../../runtime/tensor.js';

/** The activations a generator fuses into the kernel that produces a value. */
export type GanActivation = 'none' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid';

/** Element strides of (n, c, y, x) in a buffer. */
export type Strides4 = readonly [number, number, number, number];

/** Where a [batch, c, h, w] activation lies in a tensor's buffer. */
export interface View4 {
  readonly batch: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly strides: Strides4;
}

export function layoutStrides(layout: 'NCHW' | 'NHWC', c: number, h: number, w: number): Strides4 {
  return layout === 'NCHW' ? [c * h * w, h * w, w, 1] : [h * w * c, 1, w * c, c];
}

export function view4(batch: number, c: number, h: number, w: number, layout: 'NCHW' | 'NHWC'): View4 {
  return { batch, c, h, w, strides: layoutStrides(layout, c, h, w) };
}

/** PyTorch's output size: (n - 1) s - 2 p + k + output_padding. */
export function convTransposeOutputSize(n: number, k: number, s: number, p: number, outputPadding = 0): number {
  return (n - 1) * s - 2 * p + k + outputPadding;
}

/**
 * Keras/TensorFlow `padding='same'` for a transposed convolution: the output is n*s long and is the
 * full transposed convolution ((n - 1) s + k long) cropped by floor(max(k - s, 0) / 2) at the start.
 */
export function kerasSamePadding(k: number, s: number): number {
  return Math.floor(Math.max(k - s, 0) / 2);
}

/** The elementwise tail fused into a producing kernel: act2(act1(v + bias) * scale + shift). */
export interface Epilogue {
  /** [cout] */
  bias?: Tensor;
  /** [2, cout]: a per-channel scale then shift, applied after `act` (a batch norm after an activation). */
  post?: Tensor;
  act?: GanActivation;
  /** LeakyReLU's negative slope for `act` (default 0.2, the DCGAN discriminators' value). */
  slope?: number;
  act2?: GanActivation;
  slope2?: number;
}

export type EpilogueParams = {
  readonly bias: boolean;
  readonly post: boolean;
  readonly act1: GanActivation;
  readonly slope1: number;
  readonly act2: GanActivation;
  readonly slope2: number;
};

export function epilogueParams(e: Epilogue): EpilogueParams {
  const slope1 = e.act === 'leaky_relu' ? (e.slope ?? 0.2) : 0;
  const slope2 = e.act2 === 'leaky_relu' ? (e.slope2 ?? 0.2) : 0;
  return { bias: !!e.bias, post: !!e.post, act1: e.act ?? 'none', slope1, act2: e.act2 ?? 'none', slope2 };
}

/** The bindings of the epilogue, in the order epilogueWgsl numbers them (y last). */
export function epilogueBindings(e: Epilogue, y: Tensor): Binding[] {
  return [...(e.bias ? [e.bias] : []), ...(e.post ? [e.post] : []), y];
}

/**
 * WGSL for the epilogue: the bias, post and y storage bindings from `first` on (only those used, so
 * the auto layout matches the bind group), act1/act2, and `fn finish(acc, co) -> f32`. `n` is the
 * WGSL expression for the channel count (post holds scales at [co] and shifts at [n + co]).
 */
export function epilogueWgsl(p: EpilogueParams, first: number, n: string): string {
  let b = first;
  const decl: string[] = [];
  if (p.bias) decl.push(`@group(0) @binding(${b++}) var<storage, read> bias: array<f32>;`);
  if (p.post) decl.push(`@group(0) @binding(${b++}) var<storage, read> post: array<f32>;`);
  decl.push(`@group(0) @binding(${b++}) var<storage, read_write> y: array<f32>;`);
  const rename = (name: string, act: GanActivation, slope: number) => activationWgsl(act, slope).replace(/\bact\(/g, `${name}(`);
  const v = p.bias ? 'acc + bias[co]' : 'acc';
  const affine = p.post ? `fma(act1(${v}), post[co], post[${n} + co])` : `act1(${v})`;
  return `${decl.join('\n')}
${rename('act1', p.act1, p.slope1)}${rename('act2', p.act2, p.slope2)}fn finish(acc: f32, co: u32) -> f32 { return act2(${affine}); }
`;
}

export type ConvTransposeParams = EpilogueParams & {
  readonly path: 'regs' | 'tiled' | 'direct' | 'vec';
  /** 'vec': output pixels per invocation. */
  readonly tm: number;
  /** 'vec': groups of 4 output channels per invocation (1 or 2). */
  readonly cg: number;
  /** 'vec': x read as vec4s of 4 channels (channels contiguous, every offset a multiple of 4). */
  readonly xVec: boolean;
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  readonly wg: number;
};

/**
 * What every conv_transpose2d path shares: the Meta (binding 0: sizes, padding, strides of x and y)
 * and the tap arithmetic of a stride-s axis.
 */
const COMMON = `struct Meta {
  batch: u32, cin: u32, ih: u32, iw: u32,
  cout: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, ph: i32,
  pw: i32, in_sn: u32, in_sc: u32, in_sy: u32,
  in_sx: u32, out_sn: u32, out_sc: u32, out_sy: u32,
  out_sx: u32, wcout: u32, _p1: u32, _p2: u32, // wcout: the weight's channels ('vec': cout rounded up to 4)
}

@group(0) @binding(0) var<uniform> u: Meta;

// The first tap that reaches output o along an axis: (o + p) mod s.
fn first_tap(o: u32, s: u32, p: i32) -> u32 {
  var r = (i32(o) + p) % i32(s);
  if (r < 0) { r += i32(s); }
  return u32(r);
}

// One output phase along one axis: its first output, how many outputs and taps it has, and the
// input index of its first output's first tap.
struct Axis { o0: u32, count: u32, taps: u32, base: i32, phase: u32 }

fn axis(phase: u32, s: u32, p: i32, k: u32, out_len: u32) -> Axis {
  var r = (i32(phase) - p) % i32(s);
  if (r < 0) { r += i32(s); }
  let o0 = u32(r);
  var a: Axis;
  a.o0 = o0;
  a.phase = phase;
  a.count = select(0u, (out_len - o0 + s - 1u) / s, o0 < out_len);
  a.taps = select(0u, (k - phase + s - 1u) / s, phase < k);
  a.base = (i32(o0) + p - i32(phase)) / i32(s);  // exact: o0 + p = phase (mod s)
  return a;
}`;

export const convTranspose2dKernel: Kernel<ConvTransposeParams> = {
  name: 'conv_transpose2d',
  source: (p) =>
    fill({ regs: source, tiled: tiledSource, direct: directSource, vec: vecSource }[p.path], {
      EPILOGUE: epilogueWgsl(p, 3, 'u.cout'),
      TM: `${p.tm}u`,
      CG: `${Math.max(p.cg, 1)}u`,
      COMMON,
      X_DECL: p.xVec
        ? '@group(0) @binding(1) var<storage, read> x: array<vec4f>;\nfn x4(i: u32) -> vec4f { return x[i / 4u]; }\nfn x1(i: u32) -> f32 { return x[i / 4u][i % 4u]; }'
        : '@group(0) @binding(1) var<storage, read> x: array<f32>;\nfn x4(i: u32) -> vec4f { return vec4f(x[i], x[i + u.in_sc], x[i + 2u * u.in_sc], x[i + 3u * u.in_sc]); }\nfn x1(i: u32) -> f32 { return x[i]; }',
    }),
  constants: (p): Record<string, number> => (p.path === 'tiled' ? { BM: p.bm, BN: p.bn, BK: p.bk, WG: p.wg } : { WG: p.wg }),
};

export interface ConvTransposeOptions extends Epilogue {
  /** [sh, sw] or one number (default 1). */
  stride?: number | readonly [number, number];
  /**
   * Input positions cropped from the start of the full output on each axis (PyTorch's `padding`;
   * for Keras 'same' use kerasSamePadding). The output size is the view of `y`.
   */
  padding?: number | readonly [number, number];
  /**
   * 'regs': the implicit GEMM over stride phases tiled in registers (4 pixels x 4 channels per
   * invocation); 'vec': 4 or 8 channels x 4 pixels of a row per invocation, visiting only the taps
   * that reach them (needs cout % 4 == 0, or a weight padded with padChannels); 'tiled': tiled in
   * workgroup memory; 'direct': one invocation per output. 'auto' (default): vec for a padded weight;
   * direct for 1-2 output channels; else vec on software adapters (2.5-3.2x faster than regs in
   * Chromium/SwiftShader and 1.0-1.16x on lavapipe on the DCGAN layers, bench/RESULTS.md) and regs on
   * GPUs (neither measured on one yet).
   */
  path?: 'auto' | 'regs' | 'tiled' | 'direct' | 'vec';
  /**
   * 'vec' path: output channels per invocation, 4 or 8 (needs cout % 8 == 0). Default: 8 where cout
   * allows (each input load feeds twice the channels). Measured against 4 on the DCGAN layers: from 10%
   * faster to 15% slower per layer, within the noise of these shared machines; GPUs may decide it.
   */
  vecChannels?: 4 | 8;
  /** Workgroup-memory tile sizes of the 'tiled' path (multiples of 4): output pixels, channels, reduction depth. */
  tile?: { bm: number; bn: number; bk: number };
}

const pair = (v: number | readonly [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]];

/** One past the largest element index a view addresses. */
function extent(v: View4): number {
  const [sn, sc, sy, sx] = v.strides;
  return (v.batch - 1) * sn + (v.c - 1) * sc + (v.h - 1) * sy + (v.w - 1) * sx + 1;
}

/**
 * Records y = epilogue(conv_transpose2d(x, w)) for x viewed as `xv` and y as `yv` (any strides).
 * w is f32 [kh, kw, cin, cout]; the output size is yv.h x yv.w (PyTorch output_padding and Keras
 * 'same' are both just an output size and a start crop).
 */
export async function convTranspose2d(
  plan: Plan,
  x: Tensor,
  xv: View4,
  w: Tensor,
  y: Tensor,
  yv: View4,
  opts: ConvTransposeOptions = {},
): Promise<void> {
  const [sh, sw] = pair(opts.stride, 1);
  const [ph, pw] = pair(opts.padding, 0);
  const fail = (msg: string): never => {
    throw new OptionError(`conv_transpose2d: ${msg}`);
  };
  for (const [name, t] of [['x', x], ['w', w], ['y', y], ['bias', opts.bias], ['post', opts.post]] as const) {
    if (t && t.dtype !== 'f32') fail(`"${name}" (${t.label}) must be f32, got ${t.dtype}`);
  }
  if (w.shape.length !== 4) fail(`weight "${w.label}" must be [kh, kw, cin, cout], got [${w.shape.join(', ')}]`);
  const [kh, kw, cin, wcout] = w.shape;
  const cout = yv.c;
  // a weight for the 'vec' path may carry zero channels up to the next multiple of 4 (padChannels)
  const padded = wcout !== cout && wcout % 4 === 0 && wcout > cout && wcout - cout < 4;
  if (xv.c !== cin) fail(`input has ${xv.c} channels, weight "${w.label}" [${w.shape.join(', ')}] expects ${cin}`);
  if (wcout !== cout && !padded) fail(`output has ${yv.c} channels, weight "${w.label}" [${w.shape.join(', ')}] gives ${wcout}`);
  if (padded && opts.path && opts.path !== 'auto' && opts.path !== 'vec') fail(`weight "${w.label}" is padded to ${wcout} channels for ${cout} outputs, which only the 'vec' path reads`);
  if (yv.batch !== xv.batch) fail(`input batch ${xv.batch} != output batch ${yv.batch}`);
  if (!(sh >= 1 && sw >= 1 && Number.isInteger(sh) && Number.isInteger(sw))) fail(`stride must be positive integers, got [${sh}, ${sw}]`);
  if (!Number.isInteger(ph) || !Number.isInteger(pw)) fail(`padding must be integers, got [${ph}, ${pw}]`);
  for (const v of [xv, yv]) {
    if (![v.batch, v.c, v.h, v.w].every((d) => Number.isInteger(d) && d >= 1)) fail(`bad view [${v.batch}, ${v.c}, ${v.h}, ${v.w}]`);
  }
  if (extent(xv) > x.size) fail(`input view reaches element ${extent(xv)} but "${x.label}" has ${x.size}`);
  if (extent(yv) > y.size) fail(`output view reaches element ${extent(yv)} but "${y.label}" has ${y.size}`);
  if (opts.bias && opts.bias.size !== cout) fail(`bias "${opts.bias.label}" has ${opts.bias.size} values, expected ${cout}`);
  if (opts.post && opts.post.size !== 2 * cout) fail(`post "${opts.post.label}" has ${opts.post.size} values, expected 2 x ${cout}`);

  const meta = new ArrayBuffer(24 * 4);
  const mu = new Uint32Array(meta);
  mu.set([xv.batch, cin, xv.h, xv.w, cout, yv.h, yv.w, kh, kw, sh, sw, 0, 0, ...xv.strides, ...yv.strides, wcout]);
  const mi = new Int32Array(meta);
  mi[11] = ph;
  mi[12] = pw;

  const ep = epilogueParams(opts);
  if (opts.path === 'vec' && wcout % 4 !== 0) fail(`the 'vec' path needs a multiple of 4 output channels (or a weight padded to one with padChannels), got ${cout}`);
  if (opts.vecChannels !== undefined && !(opts.vecChannels === 4 || (opts.vecChannels === 8 && wcout % 8 === 0))) {
    fail(`vecChannels must be 4, or 8 for a multiple of 8 output channels; got ${opts.vecChannels} for ${cout}`);
  }
  const path = padded ? 'vec' : opts.path && opts.path !== 'auto' ? opts.path : cout <= 2 ? 'direct' : cout % 4 === 0 && plan.gpu.isSoftware ? 'vec' : 'regs';
  const maxDim = plan.gpu.limits.maxComputeWorkgroupsPerDimension;
  const bindings: Binding[] = [plan.uniform(new Uint32Array(meta), 'conv_transpose2d'), x, w, ...epilogueBindings(opts, y)];
  if (path === 'tiled') {
    // channel tiles never straddle two taps: pick the depth that pads cin least (ties: deeper)
    const { bm, bn, bk } = opts.tile ?? { bm: 64, bn: cout <= 32 ? 32 : 64, bk: Math.ceil(cin / 32) * 32 <= Math.ceil(cin / 16) * 16 + 8 ? 32 : 16 };
    if (![bm, bn, bk].every((t) => Number.isInteger(t) && t >= 4 && t % 4 === 0)) fail(`tile sizes must be multiples of 4, got ${bm}, ${bn}, ${bk}`);
    if ((bm / 4) * (bn / 4) > plan.gpu.limits.maxComputeInvocationsPerWorkgroup) {
      throw new LimitError(`conv_transpose2d: a ${bm}x${bn} tile needs ${(bm / 4) * (bn / 4)} invocations per workgroup; this device allows ${plan.gpu.limits.maxComputeInvocationsPerWorkgroup}`);
    }
    const params: ConvTransposeParams = { ...ep, path, tm: 0, cg: 0, xVec: false, bm, bn, bk, wg: (bm / 4) * (bn / 4) };
    // the largest phase has ceil(oh / sh) rows and ceil(ow / sw) columns
    const mMax = xv.batch * Math.ceil(yv.h / sh) * Math.ceil(yv.w / sw);
    const groups: [number, number, number] = [Math.ceil(mMax / bm), Math.ceil(cout / bn), sh * sw];
    if (groups.some((g) => g > maxDim)) {
      throw new LimitError(`conv_transpose2d: ${groups.join(' x ')} workgroups exceed this device's ${maxDim} per dimension; split the batch`);
    }
    await plan.add(convTranspose2dKernel, params, bindings, groups, `conv_transpose2d ${w.label}`);
  } else if (path === 'regs') {
    const wg = 64;
    const mMax = xv.batch * Math.ceil(yv.h / sh) * Math.ceil(yv.w / sw);
    const [gx, gy] = grid1d(Math.ceil((Math.ceil(cout / 4) * Math.ceil(mMax / 4)) / wg), maxDim);
    if (gy > maxDim || sh * sw > maxDim) throw new LimitError(`conv_transpose2d: output too large for one dispatch; split the batch`);
    await plan.add(convTranspose2dKernel, { ...ep, path, tm: 0, cg: 0, xVec: false, bm: 0, bn: 0, bk: 0, wg }, bindings, [gx, gy, sh * sw], `conv_transpose2d ${w.label}`);
  } else if (path === 'vec') {
    const wg = 64;
    const tm = 4;
    const cg = (opts.vecChannels ?? (wcout % 8 === 0 ? 8 : 4)) === 8 ? 2 : 1;
    const threads = yv.batch * yv.h * sw * Math.ceil(Math.ceil(yv.w / sw) / tm) * (wcout / (4 * cg));
    const grid = grid1d(Math.ceil(threads / wg), maxDim);
    if (grid[1] > maxDim) throw new LimitError(`conv_transpose2d: output too large for one dispatch; split the batch`);
    const [sn, sc, sy, sx] = xv.strides;
    const xVec = sc === 1 && cin % 4 === 0 && sn % 4 === 0 && sy % 4 === 0 && sx % 4 === 0 && x.size % 4 === 0;
    await plan.add(convTranspose2dKernel, { ...ep, path, tm, cg, xVec, bm: 0, bn: 0, bk: 0, wg }, bindings, grid, `conv_transpose2d ${w.label}`);
  } else {
    const wg = 64;
    const grid = grid1d(Math.ceil((xv.batch * yv.h * yv.w * cout) / wg), maxDim);
    if (grid[1] > maxDim) throw new LimitError(`conv_transpose2d: output too large for one dispatch; split the batch`);
    await plan.add(convTranspose2dKernel, { ...ep, path, tm: 0, cg: 0, xVec: false, bm: 0, bn: 0, bk: 0, wg }, bindings, grid, `conv_transpose2d ${w.label}`);
  }
}

/**
 * [kh, kw, cin, cout] -> [kh, kw, cin, cout rounded up to 4] with zero channels, for the 'vec' path
 * (which reads 4 channels per load) when cout is not a multiple of 4 (an RGB output layer).
 */
export function padChannels(w: Float32Array, cout: number): { weight: Float32Array; channels: number } {
  const c4 = Math.ceil(cout / 4) * 4;
  if (c4 === cout) return { weight: w, channels: cout };
  const rows = w.length / cout;
  const out = new Float32Array(rows * c4);
  for (let r = 0; r < rows; r++) out.set(w.subarray(r * cout, (r + 1) * cout), r * c4);
  return { weight: out, channels: c4 };
}

/** PyTorch ConvTranspose2d weight [cin, cout, kh, kw] -> the kernel's [kh, kw, cin, cout]. */
export function weightFromPytorch(w: Float32Array, cin: number, cout: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let ci = 0; ci < cin; ci++)
    for (let co = 0; co < cout; co++)
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++) out[((ky * kw + kx) * cin + ci) * cout + co] = w[((ci * cout + co) * kh + ky) * kw + kx];
  return out;
}

/** Keras Conv2DTranspose kernel [kh, kw, cout, cin] -> the kernel's [kh, kw, cin, cout]. */
export function weightFromKeras(w: Float32Array, cin: number, cout: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let t = 0; t < kh * kw; t++)
    for (let co = 0; co < cout; co++)
      for (let ci = 0; ci < cin; ci++) out[(t * cin + ci) * cout + co] = w[(t * cout + co) * cin + ci];
  return out;
}
