// The 8-bit quantizer (runtime/q8.ts) against a CPU reference written here from the scheme's definition,
// the packing the kernels read, safetensors' I8 / U8 tensors, and `webgen quantize`'s checkpoint.
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/errors.js';
import { Q8_METADATA } from '../../src/loaders/q8.js';
import { SafeTensors, safetensorsParts, writeSafetensors } from '../../src/loaders/safetensors.js';
import { quantizeCheckpoint, storedDType } from '../../src/models/gpt2_weights.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/runtime/half.js';
import { dequantizeQ8, packQ8, packScales, Q8Tensor, q8ScaleShape, quantizeQ8 } from '../../src/runtime/q8.js';
import { gpt2Config, randomGPT2 } from '../../src/testing/index.js';
import { randomArray } from '../helpers/assert.js';

/**
 * The scheme, element by element: blocks of 32 along the axis; scale = f16(max|w| / 127); q = w / scale
 * rounded half away from zero, clamped to +-127.
 */
function reference(w: Float32Array, rows: number, cols: number, axis: 0 | 1): { q: number[]; scales: number[] } {
  const [K, N] = axis === 0 ? [rows, cols] : [cols, rows];
  const at = (n: number, k: number) => (axis === 0 ? k * cols + n : n * cols + k);
  const blocks = Math.ceil(K / 32);
  const q = new Array<number>(rows * cols).fill(NaN);
  const scales = new Array<number>(blocks * N).fill(NaN);
  const scaleAt = (n: number, b: number) => (axis === 0 ? b * cols + n : n * blocks + b);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const ks = [...Array(Math.min(32, K - 32 * b)).keys()].map((i) => 32 * b + i);
      const amax = Math.max(...ks.map((k) => Math.abs(w[at(n, k)])));
      const bits = f32ToF16Bits(amax / 127);
      scales[scaleAt(n, b)] = bits;
      const s = f16BitsToF32(bits);
      for (const k of ks) {
        const t = s === 0 ? 0 : w[at(n, k)] / s;
        const r = Math.sign(t) * Math.floor(Math.abs(t) + 0.5);
        q[at(n, k)] = Math.max(-127, Math.min(127, r)) + 0; // + 0: no -0
      }
    }
  }
  return { q, scales };
}

describe('q8 quantizer against the CPU reference', () => {
  const shapes: [number, number][] = [
    [1, 1],
    [3, 17],
    [32, 5],
    [33, 7],
    [65, 63],
    [100, 96],
    [7, 769],
  ];
  for (const axis of [0, 1] as const) {
    for (const [rows, cols] of shapes) {
      it(`axis ${axis}: ${rows} x ${cols}`, () => {
        const w = randomArray(rows * cols, rows * 131 + cols + axis, 0.05);
        // exact halves of a step and a zero block, where rounding and the zero scale show
        w[0] = 0;
        const m = quantizeQ8(w, rows, cols, axis, 'w');
        const ref = reference(w, rows, cols, axis);
        expect(Array.from(m.q)).toEqual(ref.q);
        expect(Array.from(m.scales)).toEqual(ref.scales);
        expect(q8ScaleShape(rows, cols, axis).reduce((a, b) => a * b)).toBe(m.scales.length);
        // dequantized: within half a step of the value; the block's largest value at +-127
        const d = dequantizeQ8(m);
        const [sr, sc] = q8ScaleShape(rows, cols, axis);
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) {
            const s = f16BitsToF32(axis === 0 ? m.scales[Math.floor(r / 32) * sc + c] : m.scales[r * sc + Math.floor(c / 32)]);
            expect(d[r * cols + c]).toBe(Math.fround(m.q[r * cols + c] * s));
            expect(Math.abs(d[r * cols + c] - w[r * cols + c])).toBeLessThanOrEqual(s * 0.5 * (1 + 1e-6) + 1e-12);
          }
        expect(sr * sc).toBe(m.scales.length);
      });
    }
  }

  it('rounds halves away from zero, maps the largest magnitude to 127, and a zero block to zeros', () => {
    // amax 127 -> scale 1 exactly: the values are their own q
    const w = Float32Array.from([127, -2.5, 2.5, -0.5, 0.5, 1.49, -127, 0, ...new Array(24).fill(0), ...new Array(32).fill(0)]);
    const m = quantizeQ8(w, 1, 64, 1);
    expect(f16BitsToF32(m.scales[0])).toBe(1);
    expect(Array.from(m.q.subarray(0, 8))).toEqual([127, -3, 3, -1, 1, 1, -127, 0]);
    expect(m.scales[1]).toBe(0);
    expect(Array.from(m.q.subarray(32)).every((v) => v === 0)).toBe(true);
  });

  it('refuses a value that is not finite, naming the tensor', () => {
    const w = new Float32Array(40);
    w[33] = NaN;
    expect(() => quantizeQ8(w, 40, 1, 0, 'h.0.mlp.c_fc.weight')).toThrow(ModelFormatError);
    expect(() => quantizeQ8(w, 40, 1, 0, 'h.0.mlp.c_fc.weight')).toThrow(/"h\.0\.mlp\.c_fc\.weight" holds a value that is not finite/);
  });
});

describe('q8 packing for the kernels', () => {
  // a [K, N] = [40, 6] Conv1D weight with q[k, n] = k - 20 + n: every byte says where it came from
  const K = 40,
    N = 6;
  const m = quantizeQ8(new Float32Array(K * N), K, N, 0);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) m.q[k * N + n] = k - 20 + n;
  for (let i = 0; i < m.scales.length; i++) m.scales[i] = i + 1;
  const byte = (words: Uint32Array, i: number) => (new Int8Array(words.buffer)[i] ?? NaN) + 0;

  it("'nk': rows of ceil(K / 32) * 32 values, zeros past K", () => {
    const words = packQ8(m, 'nk', 0, N);
    expect(words.length).toBe((N * 64) / 4);
    for (let n = 0; n < N; n++) for (let k = 0; k < 64; k++) expect(byte(words, n * 64 + k)).toBe(k < K ? k - 20 + n : 0);
    // rows 2..4 alone (a chunk)
    const part = packQ8(m, 'nk', 2, 3);
    for (let k = 0; k < K; k++) expect(byte(part, 64 + k)).toBe(k - 20 + 3);
  });

  it("'kn': rows of ceil(N / 4) words, four columns each, zeros past N", () => {
    const words = packQ8(m, 'kn', 0, N);
    expect(words.length).toBe(K * 2);
    for (let k = 0; k < K; k++) for (let c = 0; c < 8; c++) expect(byte(words, k * 8 + c)).toBe(c < N ? k - 20 + c : 0);
  });

  it('scales: [blocks, N rounded up to 4], zeros past N', () => {
    const s = packScales(m, 0, N);
    expect(Array.from(s)).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0]);
    expect(Array.from(packScales(m, 4, 2))).toEqual([5, 6, 0, 0, 11, 12, 0, 0]);
    // an embedding [N, K] (axis 1) packs to the same layout as the Conv1D weight it transposes
    const t = quantizeQ8(new Float32Array(K * N), N, K, 1);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) t.q[n * K + k] = m.q[k * N + n];
    for (let n = 0; n < N; n++) for (let b = 0; b < 2; b++) t.scales[n * 2 + b] = m.scales[b * N + n];
    expect(Array.from(packQ8(t, 'nk', 0, N))).toEqual(Array.from(packQ8(m, 'nk', 0, N)));
    expect(Array.from(packQ8(t, 'kn', 0, N))).toEqual(Array.from(packQ8(m, 'kn', 0, N)));
    expect(Array.from(packScales(t, 0, N))).toEqual(Array.from(s));
    expect(Q8Tensor.byteLengthOf(K, N, 'nk')).toBe(N * 64 + 2 * 8 * 2);
    expect(Q8Tensor.byteLengthOf(K, N, 'kn')).toBe(K * 8 + 2 * 8 * 2);
  });
});

describe('safetensors I8 / U8 and the quantized checkpoint', () => {
  it('writes and reads I8 and U8 tensors as they are', () => {
    const i8 = Int8Array.from([-128, -1, 0, 1, 127, 5]);
    const u8 = Uint8Array.from([0, 255, 7]);
    const bytes = writeSafetensors({
      a: { data: i8, shape: [2, 3] },
      b: { data: u8, shape: [3] },
      h: { data: new Uint16Array([0x3c00]), shape: [1] },
    });
    const st = SafeTensors.fromBytes(bytes);
    expect(st.info('a')).toMatchObject({ dtype: 'I8', shape: [2, 3] });
    expect(st.info('b').dtype).toBe('U8');
    expect(st.info('h').dtype).toBe('F16');
    expect(Array.from(st.ints('a'))).toEqual(Array.from(i8));
    expect(Array.from(new Int8Array(st.raw('a').slice().buffer))).toEqual(Array.from(i8));
    expect(Array.from(st.f32('b'))).toEqual([0, 255, 7]);
    expect(Array.from(st.f32('h'))).toEqual([1]);
    const parts = safetensorsParts({ a: { data: i8, shape: [2, 3] } });
    expect(parts[0].byteLength % 8).toBe(0);
    expect(() => writeSafetensors({ a: { data: i8, shape: [7] } })).toThrow(/writing "a": 6 bytes of data for I8 \[7\] \(7\)/);
  });

  it('quantizeCheckpoint: every matrix as .q8 (I8) + .scale (F16), the rest copied byte for byte, in file order', () => {
    const cfg = gpt2Config('gpt2', { nLayer: 2, nEmbd: 64, nHead: 4, vocabSize: 99, nPositions: 16, nInner: 256 });
    const st = randomGPT2(cfg, 3, 'F16');
    const q = quantizeCheckpoint(st, { format: 'pt' });
    expect(q.metadata).toEqual({ format: 'pt', ...Q8_METADATA });
    const out = SafeTensors.fromBytes(writeSafetensors(q.tensors, q.metadata));
    expect(storedDType(out)).toBe('q8');
    expect(storedDType(st)).toBeUndefined();
    const int8 = [...out.tensors.keys()].filter((n) => n.endsWith('.q8')).map((n) => n.slice(0, -3));
    expect(int8.sort()).toEqual(
      [
        'wte.weight',
        ...[0, 1].flatMap((l) => ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].map((m) => `h.${l}.${m}.weight`)),
      ].sort(),
    );
    expect(out.info('wte.weight.q8')).toMatchObject({ dtype: 'I8', shape: [99, 64] });
    expect(out.info('wte.weight.scale')).toMatchObject({ dtype: 'F16', shape: [99, 2] });
    expect(out.info('h.1.mlp.c_proj.weight.q8')).toMatchObject({ dtype: 'I8', shape: [256, 64] });
    expect(out.info('h.1.mlp.c_proj.weight.scale')).toMatchObject({ dtype: 'F16', shape: [8, 64] });
    // the values are the quantizer's, from the checkpoint's values
    const m = quantizeQ8(st.f32('h.0.attn.c_attn.weight'), 64, 192, 0);
    expect(Array.from(out.ints('h.0.attn.c_attn.weight.q8'))).toEqual(Array.from(m.q));
    expect(Array.from(out.f16Bits('h.0.attn.c_attn.weight.scale'))).toEqual(Array.from(m.scales));
    for (const name of ['wpe.weight', 'h.0.ln_1.weight', 'h.1.attn.c_attn.bias', 'ln_f.bias']) {
      expect(out.info(name).dtype).toBe('F16');
      expect(Array.from(out.raw(name))).toEqual(Array.from(st.raw(name)));
    }
    const order = [...out.tensors.values()].sort((a, b) => a.byteOffset - b.byteOffset).map((t) => t.name);
    expect(order.slice(0, 3)).toEqual(['wte.weight.q8', 'wte.weight.scale', 'wpe.weight']);
    // 1 byte a weight and 2 bytes a 32: ~53% of the F16 file here (wpe and the vectors stay F16)
    const ratio =
      writeSafetensors(q.tensors, q.metadata).byteLength /
      writeSafetensors(
        Object.fromEntries([...st.tensors.keys()].map((n) => [n, { data: st.raw(n), shape: st.info(n).shape, dtype: st.info(n).dtype }])),
      ).byteLength;
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(0.56);
    expect(() => quantizeCheckpoint(out)).toThrow(/already quantized/);
  });
});
