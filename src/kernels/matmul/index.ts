// matmul: y[M, N] = epilogue(x[M, K] . W) (+ y), W [K, N] or [N, K], f32, f16 (native or packed) or q8.
// Five kernels, one choice (chooseMatmul, which the models and bench/ both call):
//   scalar.wgsl  any K and N
//   vec4.wgsl    K % 4 == 0 (and N % 4 == 0 for [K, N]): every load 16 bytes
//   q8.wgsl      8-bit weights (a Q8Tensor: int8 packed four per word, f16 scales per 32 values of K),
//                either layout
// These: TM rows x 4 columns per invocation in registers, no workgroup memory, no barrier; TM = 8 with
// vec4 loads, 4 with scalar ones (register pressure); a GEMV (1-2 rows) of [N, K] weights in vec4.wgsl or
// q8.wgsl computes 16 columns of all its rows an invocation (gemv_nk: sixteen loads in flight; 2.0-2.3x
// faster than 4 columns on SwiftShader in f32, 1.0-1.5x for f16 on a noisy lavapipe), and can normalize x
// as it reads it (the `norm` option, with K % 4 == 0): the shapes that suit a CPU adapter (shape
// 'software'). For GPUs (shape 'gpu'):
//   gemv.wgsl    1-2 rows (a decode step), K % 4 == 0, any weight format, either layout: the reduction
//                over K shared by a workgroup, neighbouring invocations reading neighbouring bytes of W;
//                it can normalize x as it reads it (the `norm` option: a layer norm with no dispatch)
//   tiled.wgsl   more rows (a prefill), any sizes and weight format, either layout: 64 x 64 tiles of y,
//                the slices of x and W they need copied to workgroup memory 16 values of K at a time
import scalarTemplate from './scalar.wgsl?raw';
import vec4Template from './vec4.wgsl?raw';
import q8Template from './q8.wgsl?raw';
import gemvTemplate from './gemv.wgsl?raw';
import tiledTemplate from './tiled.wgsl?raw';
import { LimitError, OptionError } from '../../errors.js';
import { ChunkedTensor } from '../../runtime/chunked.js';
import type { Gpu } from '../../runtime/device.js';
import { grid1d, type Plan } from '../../runtime/plan.js';
import type { Kernel } from '../../runtime/pipelines.js';
import { Q8Tensor } from '../../runtime/q8.js';
import type { DType, Tensor } from '../../runtime/tensor.js';
import { checkEpilogue, epilogueBindings, epilogueParams, epilogueWgsl, type Epilogue, type EpilogueParams } from '../epilogue.js';
import { layerNorm } from '../layernorm.js';
import { uniformStruct } from '../uniform.js';
import { enables, f32Literal, fill, Q8_UNPACK, q8Scales, weightAccess, weightFormat, type WeightFormat } from '../wgsl.js';

const META = uniformStruct('Meta', {
  M: 'u32', // rows of x used
  N: 'u32', // output columns of this weight chunk
  K: 'u32', // reduction length
  xRowOffset: 'u32', // first row of x read (e.g. only the last position for the LM head)
  ldy: 'u32', // row stride of y: the whole matrix's N
  colOffset: 'u32', // first column of y written (a weight split into row chunks)
});

/** q8.wgsl's Meta: the same fields, and the packed weight's words per row (runtime/q8.ts). */
const META_Q8 = uniformStruct('Meta', {
  M: 'u32',
  N: 'u32',
  K: 'u32',
  xRowOffset: 'u32',
  ldy: 'u32',
  colOffset: 'u32',
  ldw: 'u32', // words per row of W: [N, K] rows for main_nk, [K, N] rows for main_kn
});

export type MatmulParams = EpilogueParams & {
  readonly layout: 'kn' | 'nk';
  readonly weight: WeightFormat;
  readonly accumulate: boolean;
  /** The vec4 kernel (every load 16 bytes), else the scalar one. With q8 weights: x read as vec4f (K % 4 == 0). */
  readonly vec4: boolean;
  readonly rowsPerInvocation: number;
  readonly workgroupSize: number;
  /** gemv.wgsl and the 16-column GEMVs: x is normalized as it is read (matmul's `norm`), with this epsilon; absent: not. */
  readonly normEps?: number;
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
    case 'q8':
      throw new Error('q8 weights are read by q8.wgsl');
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

/** The epilogue, TM (where the kernel has one), ACCUMULATE and store(): the end of every matmul prelude. */
function epilogueTail(p: MatmulParams, tm = true): string {
  return (
    epilogueWgsl(p, 3, 'u.ldy') +
    (tm ? `const TM: u32 = ${p.rowsPerInvocation}u;\n` : '') +
    `const ACCUMULATE: bool = ${p.accumulate};\n` +
    STORE
  );
}

/** A q8 weight's scales (binding 6, [blocks, N rounded up to 4]) and q8x4(). */
const Q8_SCALES = q8Scales(6, '((u.N + 3u) / 4u)') + Q8_UNPACK;

/** q8.wgsl's accessors of x (as vec4f or scalars), the packed W and its scales. */
function q8Prelude(p: MatmulParams): string {
  const x = p.vec4
    ? `@group(0) @binding(1) var<storage, read> x: array<vec4f>;
fn xv4(i: u32) -> vec4f { return x[i >> 2u]; }
fn xs(i: u32) -> f32 { return x[i >> 2u][i & 3u]; }\n`
    : `@group(0) @binding(1) var<storage, read> x: array<f32>;
fn xv4(i: u32) -> vec4f { return vec4f(x[i], x[i + 1u], x[i + 2u], x[i + 3u]); }
fn xs(i: u32) -> f32 { return x[i]; }\n`;
  // [N, K] rows are whole 16-byte groups (32 values per block); [K, N] rows are words
  const w =
    p.layout === 'nk'
      ? `@group(0) @binding(2) var<storage, read> w: array<vec4u>;
fn wq4(i: u32) -> vec4u { return w[i]; }
fn wq(i: u32) -> u32 { return w[i >> 2u][i & 3u]; }\n`
      : `@group(0) @binding(2) var<storage, read> w: array<u32>;
fn wq(i: u32) -> u32 { return w[i]; }
fn wq4(i: u32) -> vec4u { return vec4u(w[4u * i], w[4u * i + 1u], w[4u * i + 2u], w[4u * i + 3u]); }\n`;
  // x[row + k .. row + k + 3], zeros past K (the tail of a block that is not whole)
  const tail = `fn xtail(row: u32, k: u32) -> vec4f {
  var v: vec4f;
  for (var j = 0u; j < 4u; j++) { if (k + j < u.K) { v[j] = xs(row + k + j); } }
  return v;
}\n`;
  return x + w + tail + Q8_SCALES;
}

/**
 * The unrolling of the 16-column GEMV bodies (q8GemvBody, floatGemvBody): columns J = 0..15, rows I of x
 * (TM of them), `each` line per (row, column), and the stores of the sums a<row>_<col>.
 */
function unroll16(tm: number) {
  const J = [...Array(16).keys()];
  const I = [...Array(tm).keys()];
  const each = (f: (i: number, j: number) => string) => I.flatMap((i) => J.map((j) => f(i, j)));
  const stores = I.flatMap((i) =>
    [0, 1, 2, 3].map((q) => `  store(${i}u, c0 + ${4 * q}u, vec4f(${[0, 1, 2, 3].map((k) => `a${i}_${4 * q + k}`).join(', ')}));`),
  );
  return { J, I, each, stores };
}

/**
 * q8.wgsl's gemv_nk body, unrolled (a loop over arrays of the 16 columns ran 1.5x slower on lavapipe):
 * 16 weight rows of [N, K] W against TM rows of x, a block of 32 values at a time, then the block that is
 * not whole.
 */
function q8GemvBody(tm: number, norm: boolean): string {
  const { J, I, each, stores } = unroll16(tm);
  // with a norm (K % 4 == 0): x<row> / 4 is the row's first vec4
  const xin = (i: number, v: string, k4: string) => (norm ? `xnorm(${v}, ${k4}, st${i})` : v);
  const lines = [
    ...J.map((j) => `  let w${j} = min(c0 + ${j}u, u.N - 1u) * rw;`),
    ...I.map((i) => `  let x${i} = (u.xRowOffset + ${i}u) * u.K;`),
    ...(norm ? I.map((i) => `  let st${i} = rowNorm(x${i} / 4u);`) : []),
    ...each((i, j) => `  var a${i}_${j} = 0.0;`),
    '  let blocks = (u.K + QB - 1u) / QB;',
    '  for (var b = 0u; b < blocks; b++) {',
    ...each((i, j) => `    var p${i}_${j} = 0.0;`),
    '    if (b < full) {',
    '      for (var h = 0u; h < QB / 16u; h++) {',
    '        let o = b * (QB / 16u) + h;',
    ...J.map((j) => `        let q${j} = wq4(w${j} + o);`),
    '        for (var t = 0u; t < 4u; t++) {',
    ...I.map((i) => `          let xv${i} = ${xin(i, `xv4(x${i} + o * 16u + t * 4u)`, 'o * 4u + t')};`),
    ...each((i, j) => `          p${i}_${j} += dot(xv${i}, q8x4(q${j}[t]));`),
    '        }',
    '      }',
    '    } else {',
    '      for (var k = full * QB; k < u.K; k += 4u) {',
    ...I.map((i) => `        let xv${i} = ${xin(i, `xtail(x${i}, k)`, 'k / 4u')};`),
    ...each((i, j) => `        p${i}_${j} += dot(xv${i}, q8x4(wq(w${j} * 4u + k / 4u)));`),
    '      }',
    '    }',
    ...[0, 1, 2, 3].map((q) => `    let s${q} = scale4(b, min(c0 / 4u + ${q}u, (u.N + 3u) / 4u - 1u));`),
    ...each((i, j) => `    a${i}_${j} = fma(p${i}_${j}, s${j >> 2}[${j & 3}], a${i}_${j});`),
    '  }',
    ...stores,
  ];
  return lines.join('\n');
}

/**
 * vec4.wgsl's gemv_nk body (float weights, [N, K]), unrolled: 16 weight rows against TM rows of x, one
 * 16-byte load of each row a step. Empty unless the params are a GEMV's (TM <= 2).
 */
function floatGemvBody(tm: number, norm: boolean): string {
  if (tm > 2) return '';
  const { J, I, each, stores } = unroll16(tm);
  return [
    '  let K4 = u.K / 4u;',
    ...J.map((j) => `  let r${j} = min(c0 + ${j}u, u.N - 1u) * K4;`),
    ...I.map((i) => `  let x${i} = (u.xRowOffset + ${i}u) * K4;`),
    ...(norm ? I.map((i) => `  let st${i} = rowNorm(x${i});`) : []),
    ...each((i, j) => `  var a${i}_${j} = 0.0;`),
    '  for (var k4 = 0u; k4 < K4; k4++) {',
    ...J.map((j) => `    let v${j} = w4(r${j} + k4);`),
    ...I.map((i) => (norm ? `    let xv${i} = xnorm(x[x${i} + k4], k4, st${i});` : `    let xv${i} = x[x${i} + k4];`)),
    ...each((i, j) => `    a${i}_${j} += dot(xv${i}, v${j});`),
    '  }',
    ...stores,
  ].join('\n');
}

/**
 * matmul's norm in a GEMV: gamma and beta at bindings 7 and 8 (normBindings), and x[k4] normalized with
 * its row's statistics st = (mean, 1 / sqrt(variance + eps)). gemv.wgsl and wideNorm() both use it.
 */
const NORM_WGSL = `@group(0) @binding(7) var<storage, read> lnGamma: array<vec4f>;
@group(0) @binding(8) var<storage, read> lnBeta: array<vec4f>;
fn xnorm(v: vec4f, k4: u32, st: vec2f) -> vec4f { return (v - st.x) * st.y * lnGamma[k4] + lnBeta[k4]; }
`;

/**
 * The CPU-shaped GEMVs' layer norm (matmul's `norm`, x as vec4f): each invocation computes its rows'
 * statistics itself, rowNorm(first vec4 of the row) = (mean, 1 / sqrt(variance + EPS)) in two sweeps
 * of the row (no workgroup memory, no barrier: the shape of these kernels), then normalizes x as it
 * reads it, xnorm(x[k4], k4, stats), in gemv.wgsl's order of operations. Empty without a norm.
 */
function wideNorm(p: MatmulParams): string {
  if (p.normEps === undefined) return '';
  return `const EPS: f32 = ${f32Literal(p.normEps)};
${NORM_WGSL}fn rowNorm(base: u32) -> vec2f {
  let K4 = u.K / 4u;
  var s = 0.0;
  for (var k4 = 0u; k4 < K4; k4++) { s += dot(x[base + k4], vec4f(1.0)); }
  let mean = s / f32(u.K);
  var q = 0.0;
  for (var k4 = 0u; k4 < K4; k4++) { let d = x[base + k4] - mean; q += dot(d, d); }
  return vec2f(mean, inverseSqrt(q / f32(u.K) + EPS));
}
`;
}

export const matmulKernel: Kernel<MatmulParams> = {
  name: 'matmul',
  source: (p) =>
    p.weight === 'q8'
      ? fill(q8Template, {
          GEMV_BODY: q8GemvBody(Math.min(p.rowsPerInvocation, 2), p.normEps !== undefined),
          PRELUDE: `${META_Q8.declare(0, 'u')}\n` + q8Prelude(p) + wideNorm(p) + epilogueTail(p),
        })
      : fill(p.vec4 ? vec4Template : scalarTemplate, {
          GEMV_BODY: p.vec4 ? floatGemvBody(p.rowsPerInvocation, p.normEps !== undefined) : '',
          PRELUDE:
            enables(p.weight) +
            `${META.declare(0, 'u')}\n` +
            (p.vec4 ? weightVec4(p.weight) : weightAccess(p.weight, 2, 'w')) +
            wideNorm(p) +
            epilogueTail(p),
        }),
  constants: (p) => ({ WG: p.workgroupSize }),
};

/** The kernel's entry point depends on the layout; the Kernel object is specialised per layout. */
const kernels = {
  kn: { ...matmulKernel, name: 'matmul_kn', entryPoint: 'main_kn' },
  nk: { ...matmulKernel, name: 'matmul_nk', entryPoint: 'main_nk' },
  /** [N, K] weights and 1-2 rows on a CPU adapter: 16 columns an invocation (q8.wgsl, vec4.wgsl) */
  gemvNk: { ...matmulKernel, name: 'matmul_wide_nk', entryPoint: 'gemv_nk' },
} satisfies Record<string, Kernel<MatmulParams>>;

/**
 * gemv.wgsl's accessors of W, dequantized (q8): wrow(n, k4) for [N, K] (gemv_nk), wcol(k, c4) for [K, N]
 * (gemv_kn). Both are declared (the module holds both entry points); the layout's is the one called.
 */
function gemvWeights(p: MatmulParams): string {
  if (p.weight === 'q8') {
    return (
      '@group(0) @binding(2) var<storage, read> w: array<u32>;\n' +
      'fn wrow(n: u32, k4: u32) -> vec4f { return q8x4(w[n * u.ldw + k4]) * scale1(k4 / 8u, n); }\n' +
      'fn wcol(k: u32, c4: u32) -> vec4f { return q8x4(w[k * u.ldw + c4]) * scale4(k / 32u, c4); }\n' +
      Q8_SCALES
    );
  }
  return (
    weightVec4(p.weight) +
    'fn wrow(n: u32, k4: u32) -> vec4f { return w4(n * (u.K / 4u) + k4); }\n' +
    'fn wcol(k: u32, c4: u32) -> vec4f { return w4(k * (u.N / 4u) + c4); }\n'
  );
}

/** Column quads a gemv_kn workgroup computes: its neighbouring invocations read >= 32 bytes of a row. */
const GEMV_QUADS: Record<WeightFormat, number> = { f32: 2, f16: 4, f16packed: 4, q8: 8 };
/** Invocations in a gemv.wgsl workgroup (its K reduction). */
const GEMV_WG = 64;

export const matmulGemvKernel: Kernel<MatmulParams> = {
  name: 'matmul_gemv',
  source: (p) => {
    const norm = p.normEps !== undefined;
    return fill(gemvTemplate, {
      CQ: GEMV_QUADS[p.weight],
      NORM: String(norm),
      EPS: f32Literal(p.normEps ?? 0),
      XIN: norm ? 'return xnorm(v, k4, st[i]);' : 'return v;',
      PRELUDE:
        enables(p.weight) +
        `${(p.weight === 'q8' ? META_Q8 : META).declare(0, 'u')}\n` +
        gemvWeights(p) +
        (norm ? NORM_WGSL : '') +
        epilogueTail(p),
    });
  },
  constants: (p) => ({ WG: p.workgroupSize }),
};

/** gemv.wgsl's entry points. */
const gemvKernels = {
  kn: { ...matmulGemvKernel, name: 'matmul_gemv_kn', entryPoint: 'gemv_kn' },
  nk: { ...matmulGemvKernel, name: 'matmul_gemv_nk', entryPoint: 'gemv_nk' },
} satisfies Record<string, Kernel<MatmulParams>>;

/** Workgroups of gemv.wgsl for n columns: four a workgroup ([N, K]), or GEMV_QUADS[format] quads ([K, N]). */
function gemvGroups(layout: 'kn' | 'nk', weight: WeightFormat, n: number): number {
  const quads = Math.ceil(n / 4);
  return layout === 'nk' ? quads : Math.ceil(quads / GEMV_QUADS[weight]);
}

/**
 * tiled.wgsl's accessors of W, four values each: w_kn4(k, c) (W[k, c..c+3] of [K, N]) and w_nk4(n, k)
 * (W[n, k..k+3] of [N, K]), zeros past the edge, dequantized for q8 (the four share a block's scale).
 * Aligned (p.vec4: K % 4 == 0, and N % 4 == 0 for [K, N]) the four are one 16-byte load.
 */
function tiledWeights(p: MatmulParams): string {
  if (p.weight === 'q8') {
    return (
      '@group(0) @binding(2) var<storage, read> w: array<u32>;\n' +
      'fn w_kn4(k: u32, c: u32) -> vec4f { return q8x4(w[k * u.ldw + c / 4u]) * scale4(k / 32u, c / 4u); }\n' +
      'fn w_nk4(n: u32, k: u32) -> vec4f { return q8x4(w[n * u.ldw + k / 4u]) * scale1(k / 32u, n); }\n' +
      Q8_SCALES
    );
  }
  if (p.vec4) {
    return (
      weightVec4(p.weight) +
      'fn w_kn4(k: u32, c: u32) -> vec4f { return w4((k * u.N + c) / 4u); }\n' +
      'fn w_nk4(n: u32, k: u32) -> vec4f { return w4((n * u.K + k) / 4u); }\n'
    );
  }
  const ragged = (args: string, i: string, edge: string, len: string) => `fn ${args} -> vec4f {
  var v: vec4f;
  for (var j = 0u; j < 4u; j++) { if (${edge} + j < ${len}) { v[j] = w_at(${i} + j); } }
  return v;
}\n`;
  return (
    weightAccess(p.weight, 2, 'w') +
    ragged('w_kn4(k: u32, c: u32)', 'k * u.N + c', 'c', 'u.N') +
    ragged('w_nk4(n: u32, k: u32)', 'n * u.K + k', 'k', 'u.K')
  );
}

/** Invocations in a tiled.wgsl workgroup: one per 4 x 4 block of its 64 x 64 tile of y. */
const TILED_WG = 256;
/** Rows and columns of y a tiled.wgsl workgroup computes. */
const TILE = 64;

/** tiled.wgsl: a prefill on a GPU, with workgroup-shared tiles of x and W (see there). */
export const matmulTiledKernel: Kernel<MatmulParams> = {
  name: 'matmul_tiled',
  source: (p) =>
    fill(tiledTemplate, {
      PRELUDE: enables(p.weight) + `${(p.weight === 'q8' ? META_Q8 : META).declare(0, 'u')}\n` + tiledWeights(p) + epilogueTail(p, false),
    }),
  constants: () => ({ WG: TILED_WG }),
};

const tiledKernels = {
  kn: { ...matmulTiledKernel, name: 'matmul_tiled_kn', entryPoint: 'main_kn' },
  nk: { ...matmulTiledKernel, name: 'matmul_tiled_nk', entryPoint: 'main_nk' },
} satisfies Record<string, Kernel<MatmulParams>>;

/** tiled.wgsl's workgroups for M rows and n columns: one per 64 x 64 tile of y, columns along x. */
function tiledGroups(M: number, n: number): [number, number, number] {
  return [Math.ceil(n / TILE), Math.ceil(M / TILE), 1];
}

export type F16Read = 'auto' | 'native' | 'packed';

export interface MatmulVariant {
  readonly vec4: boolean;
  readonly rowsPerInvocation: number;
  /** How an f16 weight is read (f32 weights: 'f32'). */
  readonly weight: WeightFormat;
  /** gemv.wgsl (shape 'gpu', 1-2 rows, K % 4 == 0), else the CPU-shaped kernels. */
  readonly gemv: boolean;
  /** tiled.wgsl (shape 'gpu', more than 2 rows), else the CPU-shaped kernels. */
  readonly tiled: boolean;
  /** The CPU-shaped GEMV of 16 columns an invocation (q8.wgsl's or vec4.wgsl's gemv_nk): 1-2 rows, [N, K]. */
  readonly wide: boolean;
}

/**
 * The variant matmul runs for these sizes on this adapter: the vec4 kernel for aligned shapes, TM rows
 * per invocation, and how f16 weights are read. 'auto' reads f16 packed (u32 pairs and
 * unpack2x16float) for a GEMV (1-2 rows) on a software adapter even with shader-f16: lavapipe issues a
 * load per lane and 32-bit word, so packed halves a GEMV's loads (1.2-1.45x faster decode matmuls,
 * bench/RESULTS.md); native elsewhere. Without shader-f16, always packed. q8 weights: x read as vec4f
 * when K % 4 == 0, and a GEMV's invocations compute all of its 1-2 rows (TM = M).
 */
export function chooseMatmul(
  gpu: Gpu,
  s: { M: number; K: number; N: number; layout: 'kn' | 'nk'; dtype: DType | 'q8'; f16?: F16Read; shape?: KernelShape },
): MatmulVariant {
  // q8 weights are whole words in either layout: only x's rows need K % 4 == 0 to be read as vec4f
  const vec4 = s.K % 4 === 0 && (s.layout === 'nk' || s.N % 4 === 0 || s.dtype === 'q8');
  const shape = s.shape ?? (gpu.isSoftware ? 'software' : 'gpu');
  const gemv = shape === 'gpu' && s.M <= 2 && vec4;
  // any K and N (the tiles' copies check every edge), and a grid within 65535 tiles each way
  const tiled = shape === 'gpu' && s.M > 2 && s.M <= TILE * 65535 && s.N <= TILE * 65535;
  const wide = shape === 'software' && s.M <= 2 && s.layout === 'nk' && (vec4 || s.dtype === 'q8');
  // the GEMVs compute all of their 1-2 rows in each invocation (TM == M)
  const rowsPerInvocation = s.M <= 2 ? (s.dtype === 'q8' || gemv || wide ? s.M : 1) : vec4 ? 8 : 4;
  const f16 = s.f16 ?? 'auto';
  const nativeF16 = gpu.hasF16 && (f16 === 'native' || (f16 === 'auto' && !(s.M <= 2 && gpu.isSoftware)));
  const weight = weightFormat(s.dtype, nativeF16);
  // tiled.wgsl: 4 x 4 outputs an invocation; vec4 only says whether float W is read 16 bytes at a time
  // (q8 words are read alike either way: one pipeline)
  if (tiled) return { vec4: vec4 && s.dtype !== 'q8', rowsPerInvocation: 4, weight, gemv, tiled, wide };
  return { vec4, rowsPerInvocation, weight, gemv, tiled, wide };
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
  /**
   * The kernels' shapes: 'gpu' (a GEMV's reduction shared by a workgroup, gemv.wgsl; a prefill in
   * workgroup-shared tiles, tiled.wgsl), 'software' (each invocation owns its outputs, no barriers: the
   * shapes that suit CPU adapters). Default: by the adapter.
   */
  shape?: KernelShape;
  /**
   * y = LayerNorm(x) * gamma + beta, then the product: x is the residual stream. The GEMVs (gemv.wgsl,
   * and the CPU-shaped 16-column one when K % 4 == 0) normalize x as they read it (no dispatch of its
   * own); the other kernels get a layerNorm dispatch into `out` ([rows, K], rows xRowOffset + rows)
   * first, and read that.
   */
  norm?: { gamma: Tensor; beta: Tensor; eps: number; out: Tensor };
}

export type KernelShape = 'gpu' | 'software';

/**
 * Records y[M, N] = epilogue(x[M, K] . W) (+ y). x and y are f32; W is f32 or f16, one tensor or a
 * ChunkedTensor split along its rows (only [N, K] weights may be split), or 8-bit (a Q8Tensor packed for
 * this layout).
 */
export async function matmul(
  plan: Plan,
  x: Tensor,
  w: Tensor | ChunkedTensor | Q8Tensor,
  y: Tensor,
  opts: MatmulOptions = {},
): Promise<void> {
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
  if (opts.shape !== undefined && opts.shape !== 'gpu' && opts.shape !== 'software')
    fail(`shape must be 'gpu' or 'software', got ${JSON.stringify(opts.shape)}`);
  checkEpilogue(opts, N, fail);
  if (opts.norm) {
    const { gamma, beta, eps, out } = opts.norm;
    for (const t of [gamma, beta]) if (t.dtype !== 'f32' || t.size !== K) fail(`norm "${t.label}" must be ${K} f32 values`);
    if (!(eps >= 0)) fail(`norm eps must be >= 0, got ${eps}`);
    const dtype = w instanceof Q8Tensor ? 'q8' : w instanceof ChunkedTensor ? w.chunks[0].tensor.dtype : w.dtype;
    if (!normInside(chooseMatmul(plan.gpu, { M, K, N, layout, dtype, f16: opts.f16, shape: opts.shape }))) {
      await layerNorm(plan, x, gamma, beta, out, eps, xRowOffset + M);
      return matmul(plan, out, w, y, { ...opts, norm: undefined });
    }
  }
  if (w instanceof Q8Tensor) {
    if (w.layout !== layout) fail(`q8 weight "${label}" was packed for layout '${w.layout}', not '${layout}'`);
    return matmulQ8(plan, x, w, y, opts, { M, K, N, xRowOffset });
  }
  const chunks = w instanceof ChunkedTensor ? w.chunks : [{ tensor: w, start: 0, rows: wr }];
  if (chunks.length > 1 && layout === 'kn') {
    throw new LimitError(`matmul: weight "${label}" [${w.shape.join(', ')}] was split along K; only [N, K] weights may exceed one binding`);
  }
  const ep = epilogueParams(opts);
  for (const chunk of chunks) {
    const { gemv, tiled, wide, ...variant } = chooseMatmul(plan.gpu, {
      M,
      K,
      N,
      layout,
      dtype: chunk.tensor.dtype,
      f16: opts.f16,
      shape: opts.shape,
    });
    const n = layout === 'kn' ? N : chunk.rows;
    const colOffset = layout === 'kn' ? 0 : chunk.start;
    // vec4.wgsl's gemv_nk (wide): 16 columns an invocation, in workgroups of 16, as q8.wgsl's
    const workgroupSize = tiled ? TILED_WG : (opts.workgroupSize ?? (gemv ? GEMV_WG : wide ? 16 : 64));
    const params: MatmulParams = {
      ...ep,
      layout,
      accumulate: !!opts.accumulate,
      workgroupSize,
      ...variant,
      ...normParams(normInside({ gemv, wide, ...variant }), opts),
    };
    const meta = plan.uniform(META.pack({ M, N: n, K, xRowOffset, ldy: N, colOffset }), `${label}.meta`);
    const invocations = Math.ceil(n / (wide ? 16 : 4)) * Math.ceil(M / variant.rowsPerInvocation);
    const groups = tiled
      ? tiledGroups(M, n)
      : grid1d(gemv ? gemvGroups(layout, variant.weight, n) : Math.ceil(invocations / workgroupSize));
    const rowBytes = M * n * 4;
    const kernel = tiled ? tiledKernels[layout] : gemv ? gemvKernels[layout] : wide ? kernels.gemvNk : kernels[layout];
    await plan.add(
      kernel,
      params,
      [meta, x, chunk.tensor, ...epilogueBindings(opts, y), undefined, ...normBindings(opts)],
      groups,
      `matmul ${label}`,
      {
        reads: chunk.tensor.byteLength + M * K * 4 + (opts.bias ? n * 4 : 0) + (opts.accumulate ? rowBytes : 0),
        writes: rowBytes,
      },
    );
  }
}

/**
 * Whether the variant normalizes x itself (matmul's `norm`): gemv.wgsl, and the CPU-shaped GEMVs of 16
 * columns with x read as vec4f (K % 4 == 0); the others get a layerNorm dispatch first.
 */
function normInside(v: Pick<MatmulVariant, 'gemv' | 'wide' | 'vec4'>): boolean {
  return v.gemv || (v.wide && v.vec4);
}

/** The kernels' normEps parameter (matmul's `norm`, where the kernel takes it: see matmul()). */
function normParams(inside: boolean, opts: MatmulOptions): { normEps?: number } {
  return inside && opts.norm ? { normEps: opts.norm.eps } : {};
}

/** The norm's gamma and beta at bindings 7 and 8. */
function normBindings(opts: MatmulOptions): Tensor[] {
  return opts.norm ? [opts.norm.gamma, opts.norm.beta] : [];
}

/** matmul() with 8-bit weights (checked by it): one q8.wgsl dispatch per chunk of W. */
async function matmulQ8(
  plan: Plan,
  x: Tensor,
  w: Q8Tensor,
  y: Tensor,
  opts: MatmulOptions,
  s: { M: number; K: number; N: number; xRowOffset: number },
): Promise<void> {
  const { M, K, N, xRowOffset } = s;
  const { layout, label } = w;
  const { gemv: coop, tiled, wide: gemv, ...variant } = chooseMatmul(plan.gpu, { M, K, N, layout, dtype: 'q8', shape: opts.shape });
  // gemv.wgsl (shape 'gpu'); else q8.wgsl's gemv_nk (wide): 16 columns an invocation, in workgroups of 16
  const workgroupSize = tiled ? TILED_WG : (opts.workgroupSize ?? (coop ? GEMV_WG : gemv ? 16 : 64));
  const perInvocation = gemv ? 16 : 4;
  const params: MatmulParams = {
    ...epilogueParams(opts),
    layout,
    accumulate: !!opts.accumulate,
    workgroupSize,
    ...variant,
    ...normParams(normInside({ gemv: coop, wide: gemv, vec4: variant.vec4 }), opts),
  };
  for (const chunk of w.chunks) {
    const n = layout === 'kn' ? N : chunk.rows;
    const colOffset = layout === 'kn' ? 0 : chunk.start;
    const ldw = Q8Tensor.rowWords(layout, K, n);
    const meta = plan.uniform(META_Q8.pack({ M, N: n, K, xRowOffset, ldy: N, colOffset, ldw }), `${label}.meta`);
    const invocations = Math.ceil(n / perInvocation) * Math.ceil(M / variant.rowsPerInvocation);
    const rowBytes = M * n * 4;
    const bindings = [meta, x, chunk.words, ...epilogueBindings(opts, y), chunk.scales, ...normBindings(opts)];
    await plan.add(
      tiled ? tiledKernels[layout] : coop ? gemvKernels[layout] : gemv ? kernels.gemvNk : kernels[layout],
      params,
      bindings,
      tiled ? tiledGroups(M, n) : grid1d(coop ? gemvGroups(layout, 'q8', n) : Math.ceil(invocations / workgroupSize)),
      `matmul ${label}`,
      {
        reads: chunk.words.byteLength + chunk.scales.byteLength + M * K * 4 + (opts.bias ? n * 4 : 0) + (opts.accumulate ? rowBytes : 0),
        writes: rowBytes,
      },
    );
  }
}
