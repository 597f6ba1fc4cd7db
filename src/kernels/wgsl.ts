// WGSL pieces shared by several kernels, generated per variant: how a weight buffer is read
// (f32, native f16, or f16 packed two per u32 when the adapter lacks `shader-f16`) and the
// activation functions fused into epilogues.
import type { DType } from '../runtime/tensor.js';

/** How a kernel reads f16 data: natively (`enable f16`) or unpacked from u32 words. */
export type WeightFormat = 'f32' | 'f16' | 'f16packed';

export function weightFormat(dtype: DType, hasF16: boolean): WeightFormat {
  if (dtype === 'f32') return 'f32';
  if (dtype === 'f16') return hasF16 ? 'f16' : 'f16packed';
  throw new Error(`no weight format for dtype ${dtype}`);
}

/** `enable f16;` when any of the formats needs it (it must open the module). */
export function enables(...formats: WeightFormat[]): string {
  return formats.includes('f16') ? 'enable f16;\n' : '';
}

/**
 * Declares a read-only storage buffer `name` at @binding(binding) holding elements in `format`,
 * `fn <name>_at(i: u32) -> f32` reading element i as f32, and `fn <name>_at4(i: u32) -> vec4f` reading
 * elements i..i+3 (i a multiple of 4).
 */
export function weightAccess(format: WeightFormat, binding: number, name: string): string {
  switch (format) {
    case 'f32':
      return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<f32>;
fn ${name}_at(i: u32) -> f32 { return ${name}[i]; }
fn ${name}_at4(i: u32) -> vec4f { return vec4f(${name}[i], ${name}[i + 1u], ${name}[i + 2u], ${name}[i + 3u]); }\n`;
    case 'f16':
      return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<f16>;
fn ${name}_at(i: u32) -> f32 { return f32(${name}[i]); }
fn ${name}_at4(i: u32) -> vec4f { return vec4f(vec4<f16>(${name}[i], ${name}[i + 1u], ${name}[i + 2u], ${name}[i + 3u])); }\n`;
    case 'f16packed':
      return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>;
fn ${name}_at(i: u32) -> f32 {
  let p = unpack2x16float(${name}[i >> 1u]);
  return select(p.x, p.y, (i & 1u) == 1u);
}
// i must be a multiple of 4: the four halves are two whole words.
fn ${name}_at4(i: u32) -> vec4f {
  let j = i >> 1u;
  return vec4f(unpack2x16float(${name}[j]), unpack2x16float(${name}[j + 1u]));
}\n`;
  }
}

export type Activation = 'none' | 'relu' | 'gelu_tanh' | 'gelu_erf' | 'tanh' | 'sigmoid' | 'leaky_relu';

/**
 * `fn act(x: f32) -> f32` for the activation. WGSL has no erf: the exact GELU uses an erf with
 * |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), far below f32 matmul rounding.
 */
export function activationWgsl(act: Activation, leakySlope = 0.2): string {
  switch (act) {
    case 'none':
      return 'fn act(x: f32) -> f32 { return x; }\n';
    case 'relu':
      return 'fn act(x: f32) -> f32 { return max(x, 0.0); }\n';
    case 'leaky_relu':
      return `fn act(x: f32) -> f32 { return select(x * ${f32Literal(leakySlope)}, x, x >= 0.0); }\n`;
    case 'tanh':
      return 'fn act(x: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }\n';
    case 'sigmoid':
      return 'fn act(x: f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(x, -80.0, 80.0))); }\n';
    case 'gelu_tanh':
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); tanh's argument clamped: some drivers give NaN past ~45
      return `fn act(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  return 0.5 * x * (1.0 + tanh(u));
}\n`;
    case 'gelu_erf':
      return `fn erf_(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
          t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
          t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}
fn act(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_(x * 0.7071067811865476)); }\n`;
  }
}

export function f32Literal(x: number): string {
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** Replaces `{{NAME}}` placeholders in a WGSL template (for values that must be const-expressions). */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!(k in values)) throw new Error(`WGSL template placeholder {{${k}}} has no value`);
    return String(values[k]);
  });
}
