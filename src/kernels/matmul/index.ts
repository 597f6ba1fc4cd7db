import template from './scalar.wgsl?raw';
import vec4Template from './vec4.wgsl?raw';
import { ChunkedTensor } from '../../runtime/chunked.js';
import { LimitError, OptionError } from '../../errors.js';
import { grid1d, type Plan } from '../../runtime/plan.js';
import type { Kernel } from '../../runtime/pipelines.js';
import { Tensor } from '../../runtime/tensor.js';
import { activationWgsl, enables, fill, weightAccess, weightFormat, type Activation, type WeightFormat } from '../wgsl.js';

export type MatmulParams = {
  readonly layout: 'kn' | 'nk';
  readonly weight: WeightFormat;
  readonly bias: boolean;
  readonly activation: Activation;
  readonly accumulate: boolean;
  /** K % 4 == 0 (and N % 4 == 0 for kn): the vec4 kernel, whose every load is 16 bytes. */
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

/** What both matmul kernels share: the Meta (binding 0), out (binding 4) and the epilogue's store. */
const COMMON = `struct Meta {
  M: u32,          // rows of x used
  N: u32,          // output columns (of this weight chunk)
  K: u32,          // reduction length
  xRowOffset: u32, // first row of x to read (e.g. only the last position for the LM head)
  ldo: u32,        // row stride of out
  colOffset: u32,  // first column of out written (weight chunks of a split matrix)
  biasOffset: u32, // first element of bias used by this chunk
}

@group(0) @binding(0) var<uniform> u: Meta;

@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn store(r: u32, c0: u32, v: vec4f) {
  for (var j = 0u; j < 4u; j++) {
    let c = c0 + j;
    if (c >= u.N) { return; }
    let o = r * u.ldo + u.colOffset + c;
    let y = act(v[j] + bias_at(c));
    if (ACCUMULATE) { out[o] += y; } else { out[o] = y; }
  }
}
`;

export const matmulKernel: Kernel<MatmulParams> = {
  name: 'matmul',
  source: (p) =>
    fill(p.vec4 ? vec4Template : template, {
      PRELUDE:
        enables(p.weight) +
        (p.vec4 ? weightVec4(p.weight) : weightAccess(p.weight, 2, 'w')) +
        (p.bias
          ? '@group(0) @binding(3) var<storage, read> bias: array<f32>;\nfn bias_at(c: u32) -> f32 { return bias[u.biasOffset + c]; }\n'
          : 'fn bias_at(c: u32) -> f32 { return 0.0; }\n') +
        activationWgsl(p.activation) +
        `const TM: u32 = ${p.rowsPerInvocation}u;\nconst ACCUMULATE: bool = ${p.accumulate};\n` +
        COMMON,
    }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/** The kernel's entry point depends on the layout; the Kernel object is specialised per layout. */
const kernels = {
  kn: { ...matmulKernel, name: 'matmul_kn', entryPoint: 'main_kn' },
  nk: { ...matmulKernel, name: 'matmul_nk', entryPoint: 'main_nk' },
} satisfies Record<string, Kernel<MatmulParams>>;

export interface MatmulOptions {
  /** 'kn': W is [K, N] (GPT-2 Conv1D, Keras Dense). 'nk': W is [N, K] (tied LM head, torch Linear). */
  layout?: 'kn' | 'nk';
  bias?: Tensor;
  activation?: Activation;
  /** out += result (a residual connection) instead of out = result. */
  accumulate?: boolean;
  /** Read rows [xRowOffset, xRowOffset + rows) of x. */
  xRowOffset?: number;
  rows?: number;
  workgroupSize?: number;
  /**
   * How f16 weights are read where the device has shader-f16: 'native' (array<vec4<f16>>) or
   * 'packed' (u32 pairs and unpack2x16float, as without shader-f16). 'auto' (default): packed for a
   * GEMV (1-2 rows) on a software adapter, native otherwise. lavapipe issues a load per lane and
   * 32-bit word, so packed halves a GEMV's loads: 1.2-1.45x faster decode matmuls there (bench/RESULTS.md).
   */
  f16?: 'auto' | 'native' | 'packed';
}

/**
 * Records out[M, N] = act(x[M, K] . W + bias) (+ out). x and out are f32; W is f32 or f16 (native or
 * packed, as the adapter allows), one tensor or a ChunkedTensor split along its rows.
 */
export async function matmul(plan: Plan, x: Tensor, w: Tensor | ChunkedTensor, out: Tensor, opts: MatmulOptions = {}): Promise<void> {
  const layout = opts.layout ?? 'kn';
  const [wr, wc] = w.shape as [number, number];
  const [K, N] = layout === 'kn' ? [wr, wc] : [wc, wr];
  const xRowOffset = opts.xRowOffset ?? 0;
  const M = opts.rows ?? x.shape[0] - xRowOffset;
  const label = w.label;
  if (w.shape.length !== 2) throw new OptionError(`matmul: weight "${label}" must be 2-D, got [${w.shape.join(', ')}]`);
  if (x.dtype !== 'f32' || out.dtype !== 'f32') throw new OptionError(`matmul: x and out must be f32 (weight "${label}")`);
  if (x.shape[x.shape.length - 1] !== K) {
    throw new OptionError(`matmul: x [${x.shape.join(', ')}] does not match weight "${label}" ${layout} [${w.shape.join(', ')}] (K=${K})`);
  }
  if ((xRowOffset + M) * K > x.size) throw new OptionError(`matmul: rows ${xRowOffset}..${xRowOffset + M} exceed x [${x.shape.join(', ')}]`);
  if (out.size < M * N || out.shape[out.shape.length - 1] !== N) {
    throw new OptionError(`matmul: out [${out.shape.join(', ')}] cannot hold [${M}, ${N}] (weight "${label}")`);
  }
  if (opts.bias && opts.bias.size !== N) throw new OptionError(`matmul: bias "${opts.bias.label}" has ${opts.bias.size} values, weight "${label}" has N=${N}`);
  const chunks = w instanceof ChunkedTensor ? w.chunks : [{ tensor: w, start: 0, rows: wr }];
  if (chunks.length > 1 && layout === 'kn') {
    throw new LimitError(`matmul: weight "${label}" [${w.shape.join(', ')}] was split along K; only [N, K] weights may exceed one binding`);
  }
  const workgroupSize = opts.workgroupSize ?? 64;
  const vec4 = K % 4 === 0 && (layout === 'nk' || N % 4 === 0);
  // 8 rows per invocation with vec4 loads, 4 with scalar ones (register pressure); 1 for a GEMV
  const rowsPerInvocation = M <= 2 ? 1 : vec4 ? 8 : 4;
  const f16 = opts.f16 ?? 'auto';
  if (f16 !== 'auto' && f16 !== 'native' && f16 !== 'packed') throw new OptionError(`matmul: f16 must be 'auto', 'native' or 'packed', got ${JSON.stringify(f16)}`);
  const nativeF16 = plan.gpu.hasF16 && (f16 === 'native' || (f16 === 'auto' && !(M <= 2 && plan.gpu.isSoftware)));
  for (const chunk of chunks) {
    const n = layout === 'kn' ? N : chunk.rows;
    const colOffset = layout === 'kn' ? 0 : chunk.start;
    const params: MatmulParams = {
      layout,
      weight: weightFormat(chunk.tensor.dtype, nativeF16),
      bias: !!opts.bias,
      activation: opts.activation ?? 'none',
      accumulate: !!opts.accumulate,
      vec4,
      rowsPerInvocation,
      workgroupSize,
    };
    const meta = plan.uniform(new Uint32Array([M, n, K, xRowOffset, N, colOffset, colOffset, 0]), `${label}.meta`);
    const invocations = Math.ceil(n / 4) * Math.ceil(M / rowsPerInvocation);
    const groups = grid1d(Math.ceil(invocations / workgroupSize));
    await plan.add(kernels[layout], params, [meta, x, chunk.tensor, opts.bias, out], groups, `matmul ${label}`);
  }
}
