// WGSL pieces shared by several kernels, generated per variant: how a weight buffer is read (f32,
// native f16, f16 packed two per u32 when the adapter lacks `shader-f16`, or 8-bit: four int8 per u32
// with f16 scales), literals and templates.
import type { DType } from '../runtime/tensor.js';

/**
 * How a kernel reads weights: f32, f16 natively (`enable f16`) or unpacked from u32 words, or 'q8': int8
 * unpacked from u32 words, with f16 scales in a second buffer (runtime/q8.ts; see q8Unpack, q8Scales).
 */
export type WeightFormat = 'f32' | 'f16' | 'f16packed' | 'q8';

export function weightFormat(dtype: DType | 'q8', nativeF16: boolean): WeightFormat {
  if (dtype === 'f32' || dtype === 'q8') return dtype;
  if (dtype === 'f16') return nativeF16 ? 'f16' : 'f16packed';
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
    case 'q8':
      throw new Error(`q8 weights are read by q8Unpack and q8Scales, not element by element (${name})`);
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

/**
 * `fn q8x4(v: u32) -> vec4f`: the four int8 of a word, low byte first, as floats. Shifts, not
 * unpack4xI8: that needs the `packed_4x8_integer_dot_product` language feature, and measured on lavapipe
 * the shifts are as fast.
 */
export const Q8_UNPACK = `fn q8x4(v: u32) -> vec4f { return vec4f(bitcast<vec4i>(vec4u(v) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u)); }\n`;

/**
 * A q8 weight's f16 scales, [blocks, Np] (Np = N rounded up to 4), at @binding(binding) as u32 pairs:
 * `fn scale4(b: u32, c4: u32) -> vec4f`, block b's scales of columns 4c4..4c4+3 (`lds`: Np / 4, a WGSL
 * expression), and `fn scale1(b: u32, c: u32) -> f32`.
 */
export function q8Scales(binding: number, lds: string): string {
  return `@group(0) @binding(${binding}) var<storage, read> q8s: array<vec2u>;
fn scale4(b: u32, c4: u32) -> vec4f {
  let p = q8s[b * ${lds} + c4];
  return vec4f(unpack2x16float(p.x), unpack2x16float(p.y));
}
fn scale1(b: u32, c: u32) -> f32 {
  let p = q8s[b * ${lds} + c / 4u];
  return unpack2x16float(select(p.x, p.y, (c & 2u) != 0u))[c & 1u];
}\n`;
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
