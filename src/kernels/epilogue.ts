// The elementwise tail a producing kernel (matmul, conv_transpose2d) applies to each output before
// it stores it, and the standalone scale_shift applies on its own: one module for all of them.
//
//   y = act2(act1(acc + bias[co]) * post[co] + post[n + co])
//
// `post` is a per-channel scale then shift: a batch norm that follows an activation, which cannot be
// folded into the weights. Everything absent is the identity and costs nothing in the shader.
import type { Binding } from '../runtime/plan.js';
import type { Tensor } from '../runtime/tensor.js';
import { f32Literal } from './wgsl.js';

export type Activation = 'none' | 'relu' | 'leaky_relu' | 'gelu_tanh' | 'gelu_erf' | 'tanh' | 'sigmoid';

export interface Epilogue {
  /** [n] */
  bias?: Tensor;
  act?: Activation;
  /** LeakyReLU's negative slope for `act` (default 0.2, the DCGAN discriminators' value). */
  slope?: number;
  /** [2, n]: a per-channel scale, then shift, after `act`. */
  post?: Tensor;
  act2?: Activation;
  slope2?: number;
}

/** What of an Epilogue shapes the shader (part of a kernel's params, so of its pipeline-cache key). */
export type EpilogueParams = {
  readonly bias: boolean;
  readonly post: boolean;
  readonly act1: Activation;
  readonly slope1: number;
  readonly act2: Activation;
  readonly slope2: number;
};

export function epilogueParams(e: Epilogue): EpilogueParams {
  const slope = (act: Activation | undefined, s: number | undefined) => (act === 'leaky_relu' ? (s ?? 0.2) : 0);
  return {
    bias: !!e.bias,
    post: !!e.post,
    act1: e.act ?? 'none',
    slope1: slope(e.act, e.slope),
    act2: e.act2 ?? 'none',
    slope2: slope(e.act2, e.slope2),
  };
}

/** The epilogue's bindings in the order epilogueWgsl numbers them from `first`: bias, post, y. */
export function epilogueBindings(e: Epilogue, y: Tensor): (Binding | undefined)[] {
  return [e.bias, e.post, y];
}

/** Checks the epilogue's tensors against the n channels they apply to. */
export function checkEpilogue(e: Epilogue, n: number, fail: (msg: string) => never): void {
  for (const t of [e.bias, e.post]) if (t && t.dtype !== 'f32') fail(`"${t.label}" must be f32, got ${t.dtype}`);
  if (e.bias && e.bias.size !== n) fail(`bias "${e.bias.label}" has ${e.bias.size} values, expected ${n}`);
  if (e.post && e.post.size !== 2 * n) fail(`post "${e.post.label}" has ${e.post.size} values, expected 2 x ${n}`);
  for (const s of [e.slope, e.slope2])
    if (s !== undefined && !Number.isFinite(s)) fail(`a LeakyReLU slope must be a finite number, got ${s}`);
}

/**
 * WGSL for the epilogue: the bias (binding first), post (first + 1) and y (first + 2, read_write f32)
 * storage bindings that are used, `act1`, `act2`, and `fn finish(acc: f32, co: u32) -> f32`. `n` is
 * the WGSL expression for the channel count (post holds scales at [co] and shifts at [n + co]).
 */
export function epilogueWgsl(p: EpilogueParams, first: number, n: string): string {
  const decl: string[] = [];
  if (p.bias) decl.push(`@group(0) @binding(${first}) var<storage, read> bias: array<f32>;`);
  if (p.post) decl.push(`@group(0) @binding(${first + 1}) var<storage, read> post: array<f32>;`);
  decl.push(`@group(0) @binding(${first + 2}) var<storage, read_write> y: array<f32>;`);
  const v = p.bias ? 'acc + bias[co]' : 'acc';
  const affine = p.post ? `fma(act1(${v}), post[co], post[${n} + co])` : `act1(${v})`;
  return `${decl.join('\n')}
${activationWgsl('act1', p.act1, p.slope1)}${activationWgsl('act2', p.act2, p.slope2)}fn finish(acc: f32, co: u32) -> f32 { return act2(${affine}); }
`;
}

/**
 * `fn <name>(x: f32) -> f32` for the activation. WGSL has no erf: the exact GELU uses an erf with
 * |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), far below f32 matmul rounding.
 */
export function activationWgsl(name: string, act: Activation, leakySlope = 0.2): string {
  switch (act) {
    case 'none':
      return `fn ${name}(x: f32) -> f32 { return x; }\n`;
    case 'relu':
      return `fn ${name}(x: f32) -> f32 { return max(x, 0.0); }\n`;
    case 'leaky_relu':
      return `fn ${name}(x: f32) -> f32 { return select(x * ${f32Literal(leakySlope)}, x, x >= 0.0); }\n`;
    case 'tanh':
      return `fn ${name}(x: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }\n`;
    case 'sigmoid':
      return `fn ${name}(x: f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(x, -80.0, 80.0))); }\n`;
    case 'gelu_tanh':
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); tanh's argument clamped: some drivers give NaN past ~45
      return `fn ${name}(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  return 0.5 * x * (1.0 + tanh(u));
}\n`;
    case 'gelu_erf':
      return `fn ${name}_erf(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
          t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
          t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}
fn ${name}(x: f32) -> f32 { return 0.5 * x * (1.0 + ${name}_erf(x * 0.7071067811865476)); }\n`;
    default:
      throw new Error(`unknown activation ${JSON.stringify(act)}`);
  }
}
