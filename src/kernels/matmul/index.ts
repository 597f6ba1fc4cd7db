// matmul: y[M, N] = epilogue(x[M, K] . W) (+ y), W [K, N] or [N, K], f32 or f16 (native or packed).
// Two kernels, one choice (chooseMatmul, which the models and bench/ both call):
//   scalar.wgsl  any K and N
//   vec4.wgsl    K % 4 == 0 (and N % 4 == 0 for [K, N]): every load 16 bytes
// Both: TM rows x 4 columns per invocation in registers, no workgroup memory, no barrier; TM = 1 for a
// GEMV (1-2 rows), 8 with vec4 loads, 4 with scalar ones (register pressure).
import scalarTemplate from './scalar.wgsl?raw';
import vec4Template from './vec4.wgsl?raw';
import { LimitError, OptionError } from '../../errors.js';
import { ChunkedTensor } from '../../runtime/chunked.js';
import type { Gpu } from '../../runtime/device.js';
import { grid1d, type Plan } from '../../runtime/plan.js';
import type { Kernel } from '../../runtime/pipelines.js';
import type { DType, Tensor } from '../../runtime/tensor.js';
import { checkEpilogue, epilogueBindings, epilogueParams, epilogueWgsl, type Epilogue, type EpilogueParams } from '../epilogue.js';
import { uniformStruct } from '../uniform.js';
import { enables, fill, weightAccess, weightFormat, type WeightFormat } from '../wgsl.js';

const META = uniformStruct('Meta', {
  M: 'u32', // rows of x used
  N: 'u32', // output columns of this weight chunk
  K: 'u32', // reduction length
  xRowOffset: 'u32', // first row of x read (e.g. only the last position for the LM head)
  ldy: 'u32', // row stride of y: the whole matrix's N
  colOffset: 'u32', // first column of y written (a weight split into row chunks)
});

export type MatmulParams = EpilogueParams & {
  readonly layout: 'kn' | 'nk';
  readonly weight: WeightFormat;
  readonly accumulate: boolean;
  /** The vec4 kernel (every load 16 bytes), else the scalar one. */
  readonly vec4: boolean;
  readonly rowsPerInvocation: number;
  readonly workgroupSize: number;
};

/** W at binding 2 as whole vec4s, read by `w4(i)` (the i-th vec4). */
function weightVec4(format: WeightFormat): string {
  switch (format) {
    case 'f32':
      return '@group(0) @binding(2) var<storage, read> w: array<vec4f>;\nfn w4(i: u32) -> vec4f { return w[i]; }\n';
    case 'f16':
      return '@group(0) @binding(2) var<storage, read> w: array<vec4<f16>>;\nfn w4(i: u32) -> vec4f { return vec4f(w[i]); }\n';
    case 'f16packed':
      return '@group(0) @binding(2) var<storage, read> w: array<vec2u>;\nfn w4(i: u32) -> vec4f { let p = w[i]; return vec4f(unpack2x16float(p.x), unpack2x16float(p.y)); }\n';
  }
}

/** The epilogue's store of four neighbouring outputs, shared by both kernels. */
const STORE = `fn store(r: u32, c0: u32, v: vec4f) {
  for (var j = 0u; j < 4u; j++) {
    let c = c0 + j;
    if (c >= u.N) { return; }
    let o = r * u.ldy + u.colOffset + c;
    let out = finish(v[j], u.colOffset + c);
    if (ACCUMULATE) { y[o] += out; } else { y[o] = out; }
  }
}
`;

export const matmulKernel: Kernel<MatmulParams> = {
  name: 'matmul',
  source: (p) =>
    fill(p.vec4 ? vec4Template : scalarTemplate, {
      PRELUDE:
        enables(p.weight) +
        `${META.declare(0, 'u')}\n` +
        (p.vec4 ? weightVec4(p.weight) : weightAccess(p.weight, 2, 'w')) +
        epilogueWgsl(p, 3, 'u.ldy') +
        `const TM: u32 = ${p.rowsPerInvocation}u;\nconst ACCUMULATE: bool = ${p.accumulate};\n` +
        STORE,
    }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/** The kernel's entry point depends on the layout; the Kernel object is specialised per layout. */
const kernels = {
  kn: { ...matmulKernel, name: 'matmul_kn', entryPoint: 'main_kn' },
  nk: { ...matmulKernel, name: 'matmul_nk', entryPoint: 'main_nk' },
} satisfies Record<string, Kernel<MatmulParams>>;

export type F16Read = 'auto' | 'native' | 'packed';

export interface MatmulVariant {
  readonly vec4: boolean;
  readonly rowsPerInvocation: number;
  /** How an f16 weight is read (f32 weights: 'f32'). */
  readonly weight: WeightFormat;
}

/**
 * The variant matmul runs for these sizes on this adapter: the vec4 kernel for aligned shapes, TM rows
 * per invocation, and how f16 weights are read. 'auto' reads f16 packed (u32 pairs and
 * unpack2x16float) for a GEMV (1-2 rows) on a software adapter even with shader-f16: lavapipe issues a
 * load per lane and 32-bit word, so packed halves a GEMV's loads (1.2-1.45x faster decode matmuls,
 * bench/RESULTS.md); native elsewhere. Without shader-f16, always packed.
 */
export function chooseMatmul(
  gpu: Gpu,
  s: { M: number; K: number; N: number; layout: 'kn' | 'nk'; dtype: DType; f16?: F16Read },
): MatmulVariant {
  const vec4 = s.K % 4 === 0 && (s.layout === 'nk' || s.N % 4 === 0);
  const rowsPerInvocation = s.M <= 2 ? 1 : vec4 ? 8 : 4;
  const f16 = s.f16 ?? 'auto';
  const nativeF16 = gpu.hasF16 && (f16 === 'native' || (f16 === 'auto' && !(s.M <= 2 && gpu.isSoftware)));
  return { vec4, rowsPerInvocation, weight: weightFormat(s.dtype, nativeF16) };
}

export interface MatmulOptions extends Epilogue {
  /** 'kn': W is [K, N] (GPT-2 Conv1D, Keras Dense). 'nk': W is [N, K] (tied LM head, torch Linear). */
  layout?: 'kn' | 'nk';
  /** y += result (a residual connection) instead of y = result. */
  accumulate?: boolean;
  /** Read rows [xRowOffset, xRowOffset + rows) of x. */
  xRowOffset?: number;
  rows?: number;
  workgroupSize?: number;
  /** How f16 weights are read where the device has shader-f16 (see chooseMatmul). Default 'auto'. */
  f16?: F16Read;
}

/**
 * Records y[M, N] = epilogue(x[M, K] . W) (+ y). x and y are f32; W is f32 or f16, one tensor or a
 * ChunkedTensor split along its rows (only [N, K] weights may be split).
 */
export async function matmul(plan: Plan, x: Tensor, w: Tensor | ChunkedTensor, y: Tensor, opts: MatmulOptions = {}): Promise<void> {
  const layout = opts.layout ?? 'kn';
  const label = w.label;
  const fail = (msg: string): never => {
    throw new OptionError(`matmul: ${msg}`);
  };
  if (layout !== 'kn' && layout !== 'nk') fail(`layout must be 'kn' or 'nk', got ${JSON.stringify(layout)}`);
  if (w.shape.length !== 2) fail(`weight "${label}" must be 2-D, got [${w.shape.join(', ')}]`);
  const [wr, wc] = w.shape as [number, number];
  const [K, N] = layout === 'kn' ? [wr, wc] : [wc, wr];
  const xRowOffset = opts.xRowOffset ?? 0;
  const M = opts.rows ?? x.shape[0] - xRowOffset;
  if (x.dtype !== 'f32' || y.dtype !== 'f32') fail(`x and y must be f32 (weight "${label}")`);
  if (x.shape[x.shape.length - 1] !== K)
    fail(`x [${x.shape.join(', ')}] does not match weight "${label}" ${layout} [${w.shape.join(', ')}] (K=${K})`);
  if (!Number.isInteger(M) || M < 1 || !Number.isInteger(xRowOffset) || xRowOffset < 0)
    fail(`rows ${M} from row ${xRowOffset}: need whole numbers, rows >= 1`);
  if ((xRowOffset + M) * K > x.size) fail(`rows ${xRowOffset}..${xRowOffset + M} exceed x [${x.shape.join(', ')}]`);
  if (y.size < M * N || y.shape[y.shape.length - 1] !== N) fail(`y [${y.shape.join(', ')}] cannot hold [${M}, ${N}] (weight "${label}")`);
  if (opts.f16 !== undefined && !['auto', 'native', 'packed'].includes(opts.f16))
    fail(`f16 must be 'auto', 'native' or 'packed', got ${JSON.stringify(opts.f16)}`);
  checkEpilogue(opts, N, fail);
  const chunks = w instanceof ChunkedTensor ? w.chunks : [{ tensor: w, start: 0, rows: wr }];
  if (chunks.length > 1 && layout === 'kn') {
    throw new LimitError(`matmul: weight "${label}" [${w.shape.join(', ')}] was split along K; only [N, K] weights may exceed one binding`);
  }
  const workgroupSize = opts.workgroupSize ?? 64;
  const ep = epilogueParams(opts);
  for (const chunk of chunks) {
    const variant = chooseMatmul(plan.gpu, { M, K, N, layout, dtype: chunk.tensor.dtype, f16: opts.f16 });
    const n = layout === 'kn' ? N : chunk.rows;
    const colOffset = layout === 'kn' ? 0 : chunk.start;
    const params: MatmulParams = { ...ep, layout, accumulate: !!opts.accumulate, workgroupSize, ...variant };
    const meta = plan.uniform(META.pack({ M, N: n, K, xRowOffset, ldy: N, colOffset }), `${label}.meta`);
    const invocations = Math.ceil(n / 4) * Math.ceil(M / variant.rowsPerInvocation);
    const groups = grid1d(Math.ceil(invocations / workgroupSize));
    const rowBytes = M * n * 4;
    await plan.add(kernels[layout], params, [meta, x, chunk.tensor, ...epilogueBindings(opts, y)], groups, `matmul ${label}`, {
      reads: chunk.tensor.byteLength + M * K * 4 + (opts.bias ? n * 4 : 0) + (opts.accumulate ? rowBytes : 0),
      writes: rowBytes,
    });
  }
}
