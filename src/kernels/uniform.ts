// A kernel's uniform struct, declared once: the same field list writes the WGSL `struct` and packs
// the host's values, so the two cannot drift apart (ratchet derives its Meta structs the same way).
// Every field is a 4-byte scalar, so a field's offset is 4 x its index and no padding is needed.

export type FieldType = 'u32' | 'i32' | 'f32';

export class UniformStruct<F extends Record<string, FieldType>> {
  private readonly names: (keyof F & string)[];

  constructor(
    /** The WGSL struct's name (`Meta`, `Step`). */
    readonly name: string,
    readonly fields: F,
  ) {
    this.names = Object.keys(fields);
  }

  /** `struct Name { a: u32, b: f32, ... }` */
  get wgsl(): string {
    return `struct ${this.name} { ${this.names.map((n) => `${n}: ${this.fields[n]}`).join(', ')} }`;
  }

  /** The struct and a uniform binding of it: `var<uniform> name: Name` at @group(0) @binding(binding). */
  declare(binding: number, name: string): string {
    return `${this.wgsl}\n@group(0) @binding(${binding}) var<uniform> ${name}: ${this.name};`;
  }

  /** The values in the struct's layout, padded to a whole 16 bytes (a uniform buffer's granule). */
  pack(values: { readonly [K in keyof F]: number }): Uint32Array<ArrayBuffer> {
    const words = new Uint32Array(Math.max(4, Math.ceil(this.names.length / 4) * 4));
    const f32 = new Float32Array(words.buffer);
    const i32 = new Int32Array(words.buffer);
    this.names.forEach((n, i) => {
      const v = values[n];
      if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${this.name}.${n}: no value`);
      if (this.fields[n] === 'f32') f32[i] = v;
      else if (this.fields[n] === 'i32') i32[i] = v;
      else words[i] = v;
    });
    return words;
  }
}

export function uniformStruct<F extends Record<string, FieldType>>(name: string, fields: F): UniformStruct<F> {
  return new UniformStruct(name, fields);
}

/**
 * The position uniform of a GPT-style forward pass, shared by embedding, kv_store, attention and
 * the sampler: rows are T tokens of each of B sequences, the first at position pos0. The only value
 * written before each recorded forward pass runs.
 */
export const STEP = uniformStruct('Step', { pos0: 'u32', T: 'u32', B: 'u32' });
export type { StepValues } from '../runtime/plan.js';
