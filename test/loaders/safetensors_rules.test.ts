// The safetensors format's rules, each broken on purpose: a typed ModelFormatError that names the file
// and the tensor (header length and JSON, dtypes, shapes and sizes are also covered by the fuzz).
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/errors.js';
import { SafeTensors, writeSafetensors } from '../../src/loaders/safetensors.js';

/** A file from a header given as JSON text and a data section of `data` bytes. */
function file(headerJson: string, data: number): Uint8Array {
  const raw = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + raw.byteLength + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(raw.byteLength), true);
  out.set(raw, 8);
  return out;
}

const t = (name: string, b: number, e: number) => `"${name}":{"dtype":"F32","shape":[${(e - b) / 4}],"data_offsets":[${b},${e}]}`;

describe('safetensors rules', () => {
  it('accepts a file whose tensors tile the data section (in any header order)', () => {
    const st = SafeTensors.fromBytes(
      file(`{${t('b', 8, 16)},${t('a', 0, 8)},"empty":{"dtype":"F32","shape":[0],"data_offsets":[16,16]}}`, 16),
      'ok.safetensors',
    );
    expect([...st.tensors.keys()].sort()).toEqual(['a', 'b', 'empty']);
    const written = writeSafetensors({ x: { data: new Float32Array(3), shape: [3] }, y: { data: new Float32Array(5), shape: [5] } });
    expect(SafeTensors.fromBytes(written).tensors.size).toBe(2);
  });

  const bad: [string, string, number, RegExp][] = [
    ['a gap between tensors', `{${t('a', 0, 8)},${t('b', 12, 20)}}`, 20, /gap.safetensors: 4 bytes before tensor "b" belong to no tensor/],
    ['a gap before the first tensor', `{${t('a', 4, 12)}}`, 12, /4 bytes before tensor "a" belong to no tensor/],
    ['overlapping tensors', `{${t('a', 0, 8)},${t('b', 4, 12)}}`, 12, /tensor "b" overlaps tensor "a"/],
    ['two tensors on the same bytes', `{${t('a', 0, 8)},${t('b', 0, 8)}}`, 8, /overlaps tensor "a"|overlaps tensor "b"/],
    ['bytes after the last tensor', `{${t('a', 0, 8)}}`, 12, /4 bytes after the last tensor that belong to no tensor/],
    ['a duplicate name', `{${t('a', 0, 8)},${t('a', 8, 16)}}`, 16, /tensor "a" appears twice in the header/],
    [
      'a duplicate name with escapes',
      `{"w\\"q":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w\\u0022q":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`,
      16,
      /tensor "w"q" appears twice/,
    ],
  ];
  for (const [what, header, data, message] of bad) {
    it(`refuses ${what}`, () => {
      const name = what.startsWith('a gap between') ? 'gap.safetensors' : 'bad.safetensors';
      let err: unknown;
      try {
        SafeTensors.fromBytes(file(header, data), name);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ModelFormatError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain(name);
    });
  }

  it('keys nested inside a tensor entry or in __metadata__ are not taken for duplicate tensors', () => {
    const h = `{"__metadata__":{"a":"x","format":"pt"},${t('a', 0, 8)}}`;
    expect(SafeTensors.fromBytes(file(h, 8), 'meta.safetensors').metadata).toEqual({ a: 'x', format: 'pt' });
  });
});
