// WGSL pieces shared by several kernels, generated per variant: how a weight buffer is read (f32,
// native f16, or f16 packed two per u32 when the adapter lacks `shader-f16`), literals and templates.
import type { DType } from '../runtime/tensor.js';

/** How a kernel reads f16 data: natively (`enable f16`) or unpacked from u32 words. */
export type WeightFormat = 'f32' | 'f16' | 'f16packed';

export function weightFormat(dtype: DType, nativeF16: boolean): WeightFormat {
  if (dtype === 'f32') return 'f32';
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
