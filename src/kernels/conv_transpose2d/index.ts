// conv_transpose2d: y = epilogue(conv_transpose2d(x, w)), any strides of x and y (view.ts).
// Three paths, one choice (chooseConvTranspose, which the GAN generator and bench/ both call):
//   regs.wgsl    implicit GEMM over the stride phases, a 4-pixel x 4-channel block per invocation
//   vec.wgsl     4 or 8 channels x 4 pixels of a row per invocation, visiting only the taps that reach
//                them, every weight load a vec4 (needs a multiple of 4 channels, or a padded weight)
//   direct.wgsl  one invocation per output: for 1-2 output channels
// All read the weight as [kh, kw, cin, cout] (weights.ts converts PyTorch's and Keras' layouts).
import commonTemplate from './common.wgsl?raw';
import directTemplate from './direct.wgsl?raw';
import regsTemplate from './regs.wgsl?raw';
import vecTemplate from './vec.wgsl?raw';
import { LimitError, OptionError } from '../../errors.js';
import type { Gpu } from '../../runtime/device.js';
import { grid1d, type Plan } from '../../runtime/plan.js';
import type { Kernel } from '../../runtime/pipelines.js';
import type { Tensor } from '../../runtime/tensor.js';
import { checkEpilogue, epilogueBindings, epilogueParams, epilogueWgsl, type Epilogue, type EpilogueParams } from '../epilogue.js';
import { uniformStruct } from '../uniform.js';
import { checkView, VIEW_FIELDS, viewStrides, type View4 } from '../view.js';
import { fill } from '../wgsl.js';
import { pair } from '../../util.js';

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
  wcout: 'u32', // the weight's channels ('vec': cout rounded up to 4)
  ...VIEW_FIELDS,
});

export type ConvTransposePath = 'regs' | 'vec' | 'direct';

export type ConvTransposeParams = EpilogueParams & {
  readonly path: ConvTransposePath;
  /** 'vec': groups of 4 output channels per invocation (1 or 2). */
  readonly cg: number;
  /** 'vec': x read as vec4s of 4 channels (channels contiguous, every offset a multiple of 4). */
  readonly xVec: boolean;
  readonly wg: number;
};

const X_SCALAR = `@group(0) @binding(1) var<storage, read> x: array<f32>;
fn x4(i: u32) -> vec4f { return vec4f(x[i], x[i + u.in_sc], x[i + 2u * u.in_sc], x[i + 3u * u.in_sc]); }
fn x1(i: u32) -> f32 { return x[i]; }`;
const X_VEC4 = `@group(0) @binding(1) var<storage, read> x: array<vec4f>;
fn x4(i: u32) -> vec4f { return x[i / 4u]; }
fn x1(i: u32) -> f32 { return x[i / 4u][i % 4u]; }`;

export const convTranspose2dKernel: Kernel<ConvTransposeParams> = {
  name: 'conv_transpose2d',
  source: (p) =>
    fill({ regs: regsTemplate, direct: directTemplate, vec: vecTemplate }[p.path], {
      COMMON: fill(commonTemplate, { META: META.declare(0, 'u') }),
      EPILOGUE: epilogueWgsl(p, 3, 'u.cout'),
      TM: '4u',
      CG: `${Math.max(p.cg, 1)}u`,
      X_DECL: p.xVec ? X_VEC4 : X_SCALAR,
    }),
  constants: (p) => ({ WG: p.wg }),
};

/**
 * The path 'auto' takes for `cout` output channels on this adapter: 'direct' for 1-2 channels, else
 * 'vec' on software adapters (2.5-3.2x faster than 'regs' in Chromium/SwiftShader and 1.0-1.16x on
 * lavapipe on the DCGAN layers, bench/RESULTS.md) and 'regs' on GPUs (neither measured on one yet).
 * 'vec' with cout % 4 != 0 needs the weight padded by padChannels; unpadded, such a layer runs 'regs'.
 */
export function chooseConvTranspose(gpu: Gpu, cout: number): ConvTransposePath {
  if (cout <= 2) return 'direct';
  return gpu.isSoftware ? 'vec' : 'regs';
}

export interface ConvTransposeOptions extends Epilogue {
  /** [sh, sw] or one number (default 1). */
  stride?: number | readonly [number, number];
  /**
   * Input positions cropped from the start of the full output on each axis (PyTorch's `padding`;
   * for Keras 'same' use kerasSamePadding). The output size is the view of `y`.
   */
  padding?: number | readonly [number, number];
  /** 'auto' (default): chooseConvTranspose's path, 'vec' for a padded weight. */
  path?: 'auto' | ConvTransposePath;
  /**
   * 'vec' path: output channels per invocation, 4 or 8 (needs cout % 8 == 0). Default: 8 where cout
   * allows (each input load feeds twice the channels). Measured against 4 on the DCGAN layers: from 10%
   * faster to 15% slower per layer, within the noise of these shared machines; GPUs may decide it.
   */
  vecChannels?: 4 | 8;
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
  for (const [name, t] of [
    ['x', x],
    ['w', w],
    ['y', y],
  ] as const) {
    if (t.dtype !== 'f32') fail(`"${name}" (${t.label}) must be f32, got ${t.dtype}`);
  }
  if (w.shape.length !== 4) fail(`weight "${w.label}" must be [kh, kw, cin, cout], got [${w.shape.join(', ')}]`);
  const [kh, kw, cin, wcout] = w.shape;
  const cout = yv.c;
  // a weight for the 'vec' path may carry zero channels up to the next multiple of 4 (padChannels)
  const padded = wcout !== cout && wcout % 4 === 0 && wcout > cout && wcout - cout < 4;
  if (xv.c !== cin) fail(`input has ${xv.c} channels, weight "${w.label}" [${w.shape.join(', ')}] expects ${cin}`);
  if (wcout !== cout && !padded) fail(`output has ${yv.c} channels, weight "${w.label}" [${w.shape.join(', ')}] gives ${wcout}`);
  if (padded && opts.path && opts.path !== 'auto' && opts.path !== 'vec')
    fail(`weight "${w.label}" is padded to ${wcout} channels for ${cout} outputs, which only the 'vec' path reads`);
  if (opts.path !== undefined && !['auto', 'regs', 'vec', 'direct'].includes(opts.path))
    fail(`path must be 'auto', 'regs', 'vec' or 'direct', got ${JSON.stringify(opts.path)}`);
  if (yv.batch !== xv.batch) fail(`input batch ${xv.batch} != output batch ${yv.batch}`);
  if (!(sh >= 1 && sw >= 1 && Number.isInteger(sh) && Number.isInteger(sw))) fail(`stride must be positive integers, got [${sh}, ${sw}]`);
  if (!Number.isInteger(ph) || !Number.isInteger(pw)) fail(`padding must be integers, got [${ph}, ${pw}]`);
  checkView(xv, x, 'input', fail);
  checkView(yv, y, 'output', fail);
  checkEpilogue(opts, cout, fail);
  if (opts.path === 'vec' && wcout % 4 !== 0)
    fail(`the 'vec' path needs a multiple of 4 output channels (or a weight padded to one with padChannels), got ${cout}`);
  if (opts.vecChannels !== undefined && !(opts.vecChannels === 4 || (opts.vecChannels === 8 && wcout % 8 === 0))) {
    fail(`vecChannels must be 4, or 8 for a multiple of 8 output channels; got ${opts.vecChannels} for ${cout}`);
  }

  let path: ConvTransposePath = padded ? 'vec' : opts.path && opts.path !== 'auto' ? opts.path : chooseConvTranspose(plan.gpu, cout);
  if (path === 'vec' && wcout % 4 !== 0) path = 'regs'; // 'auto' on an unpadded weight
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
    wcout,
    ...viewStrides(xv, yv),
  });
  const bindings = [plan.uniform(meta, 'conv_transpose2d'), x, w, ...epilogueBindings(opts, y)];
  const base = { ...epilogueParams(opts), path, cg: 0, xVec: false, wg: 64 };
  const maxDim = plan.gpu.limits.maxComputeWorkgroupsPerDimension;
  const tooLarge = () => new LimitError(`conv_transpose2d: output too large for one dispatch; split the batch`);
  let params: ConvTransposeParams;
  let grid: [number, number, number];
  if (path === 'regs') {
    // the largest phase has ceil(oh / sh) rows and ceil(ow / sw) columns; one phase per workgroup z
    const mMax = xv.batch * Math.ceil(yv.h / sh) * Math.ceil(yv.w / sw);
    const [gx, gy] = grid1d(Math.ceil((Math.ceil(cout / 4) * Math.ceil(mMax / 4)) / base.wg), maxDim);
    if (gy > maxDim || sh * sw > maxDim) throw tooLarge();
    params = base;
    grid = [gx, gy, sh * sw];
  } else if (path === 'vec') {
    const cg = (opts.vecChannels ?? (wcout % 8 === 0 ? 8 : 4)) === 8 ? 2 : 1;
    const threads = yv.batch * yv.h * sw * Math.ceil(Math.ceil(yv.w / sw) / 4) * (wcout / (4 * cg));
    const [sn, sc, sy, sx] = xv.strides;
    const xVec = sc === 1 && cin % 4 === 0 && sn % 4 === 0 && sy % 4 === 0 && sx % 4 === 0 && x.size % 4 === 0;
    params = { ...base, cg, xVec };
    grid = grid1d(Math.ceil(threads / base.wg), maxDim);
  } else {
    params = base;
    grid = grid1d(Math.ceil((xv.batch * yv.h * yv.w * cout) / base.wg), maxDim);
  }
  if (grid[1] > maxDim) throw tooLarge();
  await plan.add(convTranspose2dKernel, params, bindings, grid, `conv_transpose2d ${w.label}`);
}
