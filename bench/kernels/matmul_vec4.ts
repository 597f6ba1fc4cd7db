// The competing matmul of matmul_vec4.wgsl: src/kernels/matmul.ts's bindings, Meta, blocking and
// weight chunks, with vec4 loads throughout (see the .wgsl).
import template from './matmul_vec4.wgsl?raw';
import { activationWgsl, enables, fill, weightFormat, type Activation, type WeightFormat } from '../../src/kernels/common.js';
import { ChunkedTensor } from '../../src/runtime/chunked.js';
import { OptionError } from '../../src/runtime/errors.js';
import { grid1d, type Plan } from '../../src/runtime/plan.js';
import type { Kernel } from '../../src/runtime/pipelines.js';
import type { Tensor } from '../../src/runtime/tensor.js';

export type MatmulVec4Params = {
  readonly weight: WeightFormat;
  readonly bias: boolean;
  readonly activation: Activation;
  readonly accumulate: boolean;
  readonly tm: number;
  readonly wg: number;
};

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

const prelude = (p: MatmulVec4Params) =>
  enables(p.weight) +
  weightVec4(p.weight) +
  (p.bias ? '@group(0) @binding(3) var<storage, read> bias: array<f32>;\nfn bias_at(c: u32) -> f32 { return bias[u.biasOffset + c]; }\n' : 'fn bias_at(c: u32) -> f32 { return 0.0; }\n') +
  activationWgsl(p.activation) +
  `const TM: u32 = ${p.tm}u;\nconst ACCUMULATE: bool = ${p.accumulate};\n`;

const base: Kernel<MatmulVec4Params> = { name: 'bench_matmul_vec4', source: (p) => fill(template, { PRELUDE: prelude(p) }), constants: (p) => ({ WG: p.wg }) };
const kernels = {
  kn: { ...base, name: 'bench_matmul_vec4_kn', entryPoint: 'main_kn' },
  nk: { ...base, name: 'bench_matmul_vec4_nk', entryPoint: 'main_nk' },
};

export interface MatmulVec4Options {
  layout?: 'kn' | 'nk';
  bias?: Tensor;
  activation?: Activation;
  accumulate?: boolean;
  rows?: number;
  xRowOffset?: number;
  tm?: number;
  wg?: number;
}

export async function matmulVec4(plan: Plan, x: Tensor, w: Tensor | ChunkedTensor, out: Tensor, opts: MatmulVec4Options = {}): Promise<void> {
  const layout = opts.layout ?? 'kn';
  const [wr, wc] = w.shape as [number, number];
  const [K, N] = layout === 'kn' ? [wr, wc] : [wc, wr];
  const xRowOffset = opts.xRowOffset ?? 0;
  const M = opts.rows ?? x.shape[0] - xRowOffset;
  if (K % 4 !== 0 || (layout === 'kn' && N % 4 !== 0)) throw new OptionError(`matmul_vec4: K=${K}, N=${N} must be multiples of 4`);
  const chunks = w instanceof ChunkedTensor ? w.chunks : [{ tensor: w, start: 0, rows: wr }];
  if (chunks.length > 1 && layout === 'kn') throw new OptionError('matmul_vec4: only [N, K] weights may be split');
  const tm = opts.tm ?? (M <= 2 ? 1 : 8);
  const wg = opts.wg ?? 64;
  for (const chunk of chunks) {
    const n = layout === 'kn' ? N : chunk.rows;
    const colOffset = layout === 'kn' ? 0 : chunk.start;
    const params: MatmulVec4Params = { weight: weightFormat(chunk.tensor.dtype, plan.gpu.hasF16), bias: !!opts.bias, activation: opts.activation ?? 'none', accumulate: !!opts.accumulate, tm, wg };
    const meta = plan.uniform(new Uint32Array([M, n, K, xRowOffset, N, colOffset, colOffset, 0]), 'matmul_vec4.meta');
    const invocations = Math.ceil(n / 4) * Math.ceil(M / tm);
    await plan.add(kernels[layout], params, [meta, x, chunk.tensor, opts.bias, out], grid1d(Math.ceil(invocations / wg)), `matmul_vec4 ${w.label}`);
  }
}
