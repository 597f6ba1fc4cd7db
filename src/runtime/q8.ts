// 8-bit weights (dtype 'q8'): the quantizer on the CPU (at load time, or by `webgen quantize`), and the
// matrix on the GPU. GGML's Q8_0 scheme: int8 values, symmetric (no zero point), one scale per block of
// 32 consecutive values along the reduction axis (a matmul's K), stored as f16:
//
//   scale = f16(max|w| over the block / 127)      q = clamp(round(w / scale), -127, 127)      w ~ q * scale
//
// Blocks of 32 rather than one scale per output channel: see the README's "8-bit weights" for the
// measured error and speed of both.
//
// On the GPU four int8 are packed per u32 word, with the scales as f16, laid out for the matmul layout
// that reads them; like ChunkedTensor, an [N, K] matrix larger than one binding is split by rows.
//   'nk' (W [N, K]): row n is ceil(K / 32) * 8 words; word j holds K values 4j..4j+3, the first in the
//                    low byte; values past K are zeros.
//   'kn' (W [K, N]): row k is ceil(N / 4) words; word j holds columns 4j..4j+3 of that row; past N, zeros.
//   scales (both):   [ceil(K / 32), Np] f16, Np = N rounded up to 4 (zeros past N): the scales of four
//                    neighbouring columns at one block are one 8-byte load.
import { LimitError, ModelFormatError } from '../errors.js';
import type { Gpu } from './device.js';
import { f16ArrayToF32, f32ToF16Bits } from './half.js';
import { Tensor } from './tensor.js';

/** Values per scale along the reduction axis. */
export const Q8_BLOCK = 32;

/**
 * A matrix of int8 values with f16 scales, in the checkpoint's orientation: `rows x cols` row-major, the
 * blocks running along `axis` (the reduction axis: 0 for a Conv1D weight [in, out], 1 for [out, in]).
 */
export interface Q8Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly axis: 0 | 1;
  /** rows * cols int8 values. */
  readonly q: Int8Array;
  /** f16 bits, shape q8ScaleShape(rows, cols, axis). */
  readonly scales: Uint16Array;
}

/** The scales' shape: [ceil(rows / 32), cols] for axis 0, [rows, ceil(cols / 32)] for axis 1. */
export function q8ScaleShape(rows: number, cols: number, axis: 0 | 1): [number, number] {
  return axis === 0 ? [Math.ceil(rows / Q8_BLOCK), cols] : [rows, Math.ceil(cols / Q8_BLOCK)];
}

let halfValues: Float32Array | undefined;

/** The f16 bits of the scale of a block whose largest magnitude is `amax`. */
function blockScale(amax: number, name: string): number {
  if (!Number.isFinite(amax)) throw new ModelFormatError(`q8: "${name}" holds a value that is not finite; it cannot be quantized`);
  return f32ToF16Bits(amax / 127);
}

/** The value of f16 `bits` (through a table: one lookup per block). */
function halfValue(bits: number): number {
  halfValues ??= f16ArrayToF32(Uint16Array.from({ length: 65536 }, (_, i) => i));
  return halfValues[bits];
}

/**
 * Quantizes a float matrix (rows x cols, row-major) along `axis`. The scale is rounded to f16 first and
 * the values are divided by the rounded scale, so q * scale is the best int8 approximation under the
 * scale that is stored; halves round away from zero (C's roundf, which GGML's quantizer uses). `name`
 * labels a non-finite value in the error.
 */
export function quantizeQ8(values: Float32Array, rows: number, cols: number, axis: 0 | 1, name = 'tensor'): Q8Matrix {
  if (values.length !== rows * cols) throw new ModelFormatError(`q8: "${name}" has ${values.length} values, not ${rows} x ${cols}`);
  const q = new Int8Array(rows * cols);
  const [sr, sc] = q8ScaleShape(rows, cols, axis);
  const scales = new Uint16Array(sr * sc);
  // round(v / d) half away from zero, clamped to +-127 (a rounded scale may leave the largest at 127.0x);
  // a zero scale (a block of zeros) gives zeros
  const put = (i: number, d: number) => {
    const t = d === 0 ? 0 : values[i] / d;
    const r = t < 0 ? -Math.floor(0.5 - t) : Math.floor(t + 0.5);
    q[i] = r > 127 ? 127 : r < -127 ? -127 : r;
  };
  if (axis === 1) {
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < sc; b++) {
        const k0 = r * cols + b * Q8_BLOCK;
        const k1 = r * cols + Math.min(cols, (b + 1) * Q8_BLOCK);
        let amax = 0;
        for (let i = k0; i < k1; i++) {
          const a = Math.abs(values[i]);
          if (a > amax || a !== a) amax = a; // a NaN stays, for blockScale to refuse
        }
        const bits = blockScale(amax, name);
        scales[r * sc + b] = bits;
        const d = halfValue(bits);
        for (let i = k0; i < k1; i++) put(i, d);
      }
    }
  } else {
    const amax = new Float32Array(cols);
    const d = new Float64Array(cols);
    for (let b = 0; b < sr; b++) {
      const r0 = b * Q8_BLOCK;
      const r1 = Math.min(rows, r0 + Q8_BLOCK);
      amax.fill(0);
      for (let r = r0; r < r1; r++) {
        const o = r * cols;
        for (let c = 0; c < cols; c++) {
          const a = Math.abs(values[o + c]);
          if (a > amax[c] || a !== a) amax[c] = a;
        }
      }
      for (let c = 0; c < cols; c++) {
        const bits = blockScale(amax[c], name);
        scales[b * cols + c] = bits;
        d[c] = halfValue(bits);
      }
      for (let r = r0; r < r1; r++) {
        const o = r * cols;
        for (let c = 0; c < cols; c++) put(o + c, d[c]);
      }
    }
  }
  return { rows, cols, axis, q, scales };
}

/** q * scale for every value, row-major rows x cols (exact in f32: an int8 times an f16). */
export function dequantizeQ8(m: Q8Matrix): Float32Array {
  const { rows, cols, axis, q, scales } = m;
  const [, sc] = q8ScaleShape(rows, cols, axis);
  const d = f16ArrayToF32(scales);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const s = axis === 0 ? d[Math.floor(r / Q8_BLOCK) * sc + c] : d[r * sc + Math.floor(c / Q8_BLOCK)];
      out[r * cols + c] = q[r * cols + c] * s;
    }
  }
  return out;
}

export interface Q8Chunk {
  /** The packed values, u32 words. */
  readonly words: Tensor;
  /** The scales, f16 [ceil(K / 32), Np]. */
  readonly scales: Tensor;
  /** First row (of N) held by this chunk, and how many. */
  readonly start: number;
  readonly rows: number;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

export class Q8Tensor {
  readonly dtype = 'q8';

  private constructor(
    /** [K, N] for layout 'kn', [N, K] for 'nk' (as a Tensor weight of that layout). */
    readonly shape: readonly [number, number],
    readonly layout: 'kn' | 'nk',
    readonly chunks: readonly Q8Chunk[],
    readonly label: string,
  ) {}

  /** GPU bytes of values and scales. */
  get byteLength(): number {
    return this.chunks.reduce((n, c) => n + c.words.byteLength + c.scales.byteLength, 0);
  }

  /** Words per row of the packed values: [N, K] rows for 'nk', [K, N] rows for 'kn'. */
  static rowWords(layout: 'kn' | 'nk', K: number, N: number): number {
    return layout === 'nk' ? roundUp(K, Q8_BLOCK) / 4 : Math.ceil(N / 4);
  }

  /** GPU bytes of a [K, N] product's operand packed for `layout` in one chunk: values and scales. */
  static byteLengthOf(K: number, N: number, layout: 'kn' | 'nk'): number {
    return (layout === 'nk' ? N : K) * Q8Tensor.rowWords(layout, K, N) * 4 + Math.ceil(K / Q8_BLOCK) * roundUp(N, 4) * 2;
  }

  /** Packs a quantized matrix for `layout` and uploads it; an [N, K] matrix is split by rows to fit the binding limit. */
  static from(gpu: Gpu, m: Q8Matrix, layout: 'kn' | 'nk', label: string): Q8Tensor {
    // the matrix as a product's operand: K along the quantization axis, N across it
    const [K, N] = m.axis === 0 ? [m.rows, m.cols] : [m.cols, m.rows];
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const rowBytes = Q8Tensor.rowWords(layout, K, N) * 4;
    let per = N;
    if (layout === 'nk') per = Math.floor(limit / rowBytes);
    else if (K * rowBytes > limit)
      throw new LimitError(`tensor "${label}": ${K * rowBytes} bytes of [K, N] int8 weights exceed one storage binding (${limit})`);
    if (per < 1) throw new LimitError(`tensor "${label}": one row of ${K} int8 values exceeds the device's storage binding limit`);
    const chunks: Q8Chunk[] = [];
    try {
      for (let start = 0; start < N; start += per) {
        const rows = Math.min(per, N - start);
        const name = rows < N ? `${label}[${start}:${start + rows}]` : label;
        const words = packQ8(m, layout, start, rows);
        const scales = packScales(m, start, rows);
        chunks.push({
          words: Tensor.from(gpu, words, [words.length], 'u32', `${name}.q8`),
          scales: Tensor.from(gpu, scales, [scales.length], 'f16', `${name}.scale`),
          start,
          rows,
        });
      }
    } catch (e) {
      for (const c of chunks) (c.words.dispose(), c.scales.dispose());
      throw e;
    }
    return new Q8Tensor(layout === 'kn' ? [K, N] : [N, K], layout, chunks, label);
  }

  dispose(): void {
    for (const c of this.chunks) {
      c.words.dispose();
      c.scales.dispose();
    }
  }
}

/** The words of output rows [n0, n0 + rows) of `m` in `layout` (see the header). */
export function packQ8(m: Q8Matrix, layout: 'kn' | 'nk', n0: number, rows: number): Uint32Array<ArrayBuffer> {
  const [K, N] = m.axis === 0 ? [m.rows, m.cols] : [m.cols, m.rows];
  const src = new Uint8Array(m.q.buffer, m.q.byteOffset, m.q.byteLength);
  const stride = Q8Tensor.rowWords(layout, K, rows) * 4; // bytes per packed row
  if (layout === 'nk') {
    const out = new Uint8Array(rows * stride);
    if (m.axis === 1) {
      for (let n = 0; n < rows; n++) out.set(src.subarray((n0 + n) * K, (n0 + n + 1) * K), n * stride);
    } else {
      // a Conv1D weight [K, N] transposed, in tiles so both sides stay in cache
      const T = 64;
      for (let k0 = 0; k0 < K; k0 += T)
        for (let c0 = 0; c0 < rows; c0 += T)
          for (let k = k0; k < Math.min(K, k0 + T); k++)
            for (let c = c0; c < Math.min(rows, c0 + T); c++) out[c * stride + k] = src[k * N + n0 + c];
    }
    return new Uint32Array(out.buffer);
  }
  const out = new Uint8Array(K * stride);
  if (m.axis === 0) {
    for (let k = 0; k < K; k++) out.set(src.subarray(k * N + n0, k * N + n0 + rows), k * stride);
  } else {
    for (let c = 0; c < rows; c++) for (let k = 0; k < K; k++) out[k * stride + c] = src[(n0 + c) * K + k];
  }
  return new Uint32Array(out.buffer);
}

/** The f16 scales of output rows [n0, n0 + rows) as [ceil(K / 32), Np] (see the header). */
export function packScales(m: Q8Matrix, n0: number, rows: number): Uint16Array<ArrayBuffer> {
  const [sr, sc] = q8ScaleShape(m.rows, m.cols, m.axis);
  const blocks = m.axis === 0 ? sr : sc;
  const Np = roundUp(rows, 4);
  const out = new Uint16Array(blocks * Np);
  for (let b = 0; b < blocks; b++)
    for (let c = 0; c < rows; c++) out[b * Np + c] = m.axis === 0 ? m.scales[b * sc + n0 + c] : m.scales[(n0 + c) * sc + b];
  return out;
}
