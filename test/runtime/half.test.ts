import { describe, expect, it } from 'vitest';
import { bf16ArrayToF32, f16ArrayToF32, f16BitsToF32, f32ArrayToF16, f32ToF16Bits } from '../../src/runtime/half.js';

// Independent reference: the nearest half by exhaustive search over the sorted finite halves.
const halves = Array.from({ length: 0x7c00 }, (_, h) => f16BitsToF32(h)); // +0 .. max finite, increasing
function nearestHalf(x: number): number {
  const a = Math.abs(x);
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  if (a >= 65520) return sign | 0x7c00; // rounds to infinity
  let lo = 0,
    hi = halves.length - 1;
  while (hi - lo > 1) {
    const m = (lo + hi) >> 1;
    if (halves[m] <= a) lo = m;
    else hi = m;
  }
  const dl = a - halves[lo],
    dh = halves[hi] - a;
  const h = dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi;
  return sign | h;
}

describe('half-precision conversions', () => {
  it('f32 -> f16 rounds to nearest even, like an exhaustive search', () => {
    const xs: number[] = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      1e-8,
      5.96e-8,
      2.98e-8,
      6.1e-5,
      6.09e-5,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      3.14159,
      -2.71828,
      1e5,
      -1e5,
    ];
    let s = 12345;
    for (let i = 0; i < 20000; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      xs.push((s / 2 ** 32 - 0.5) * 10 ** ((i % 14) - 8));
    }
    const f = Float32Array.from(xs);
    const arr = f32ArrayToF16(f);
    for (let i = 0; i < f.length; i++) {
      const want = nearestHalf(f[i]);
      expect(arr[i], `${f[i]}`).toBe(want);
      expect(f32ToF16Bits(f[i]), `${f[i]}`).toBe(want);
    }
  });

  it('f16 -> f32 is exact for every half and bf16 -> f32 shifts the bits', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = f16ArrayToF32(all);
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) expect(Number.isNaN(f[h])).toBe(true);
      else expect(f[h]).toBe(v);
    }
    expect(Array.from(f32ArrayToF16(f.filter((x) => Number.isFinite(x))))).toEqual(Array.from(all).filter((h) => (h & 0x7c00) !== 0x7c00));
    expect(Array.from(bf16ArrayToF32(Uint16Array.from([0x3f80, 0xc000, 0x4049])))).toEqual([1, -2, 3.140625]);
  });
});
