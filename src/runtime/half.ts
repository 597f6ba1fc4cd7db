// Conversions between float32 and the 16-bit float formats, on the CPU (at load time only).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits, rounding to nearest even; overflow to +-Inf, NaN kept. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit 1 in and round to nearest even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (and may reach Inf)
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && half & 1) ? 1 : 0));
}

/** IEEE half bits -> float32 value (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits -> float32 value (exact: bf16 is the top half of a float32). */
export function bf16BitsToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** Rounds float32 values to IEEE half bits (nearest even); the same rules as f32ToF16Bits, inlined. */
export function f32ArrayToF16(src: ArrayLike<number>): Uint16Array {
  const f = src instanceof Float32Array ? src : Float32Array.from(src);
  const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    const exp = (b >>> 23) & 0xff;
    // normal halves (the common case) inline; everything else through the scalar path
    if (exp > 112 && exp < 143) {
      const half = (((b >>> 16) & 0x8000) | ((exp - 112) << 10) | ((b >>> 13) & 0x3ff)) >>> 0;
      const rem = b & 0x1fff;
      out[i] = half + (rem > 0x1000 || (rem === 0x1000 && half & 1) ? 1 : 0);
    } else {
      out[i] = f32ToF16Bits(f[i]);
    }
  }
  return out;
}

let F16_TABLE: Float32Array | undefined;

/** Half bits -> float32 through a 65536-entry table (built once). */
export function f16ArrayToF32(src: Uint16Array): Float32Array {
  if (!F16_TABLE) {
    F16_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16BitsToF32(h);
  }
  const t = F16_TABLE;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  return out;
}

export function bf16ArrayToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const o32 = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) o32[i] = src[i] << 16;
  return out;
}
