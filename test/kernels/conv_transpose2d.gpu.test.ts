// The transposed convolution (every path: implicit GEMM in registers, vec, direct)
// and the scale-shift kernel against a float64 CPU reference written here from PyTorch's definition
// (scatter each input through the kernel).
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import {
  convTranspose2d,
  convTransposeOutputSize,
  kerasSamePadding,
  padChannels,
  Plan,
  scaleShift,
  Tensor,
  view4,
  weightFromKeras,
  weightFromPytorch,
  type Activation,
} from '../../src/kernels/index.js';
import { assertClose, randomArray } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';

const act = (a: Activation, v: number, slope = 0.2): number =>
  a === 'relu'
    ? Math.max(v, 0)
    : a === 'leaky_relu'
      ? v >= 0
        ? v
        : v * slope
      : a === 'tanh'
        ? Math.tanh(v)
        : a === 'sigmoid'
          ? 1 / (1 + Math.exp(-v))
          : v;

interface Case {
  n: number;
  cin: number;
  cout: number;
  ih: number;
  iw: number;
  k: number;
  s: number;
  p: number | 'same';
  op?: number;
  keras?: boolean;
  inNhwc?: boolean;
  outNhwc?: boolean;
  bias?: boolean;
  post?: boolean;
  act?: Activation;
  act2?: Activation;
}

/** NCHW float64 reference: PyTorch conv_transpose2d (w [cin, cout, k, k]), then the epilogue. */
function reference(
  c: Case,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  post: Float32Array | null,
  oh: number,
  ow: number,
  pad: number,
): Float64Array {
  const { n, cin, cout, ih, iw, k, s } = c;
  const y = new Float64Array(n * cout * oh * ow);
  for (let b = 0; b < n; b++)
    for (let ci = 0; ci < cin; ci++)
      for (let iy = 0; iy < ih; iy++)
        for (let ix = 0; ix < iw; ix++) {
          const xv = x[((b * cin + ci) * ih + iy) * iw + ix];
          for (let co = 0; co < cout; co++)
            for (let ky = 0; ky < k; ky++) {
              const oy = iy * s - pad + ky;
              if (oy < 0 || oy >= oh) continue;
              for (let kx = 0; kx < k; kx++) {
                const ox = ix * s - pad + kx;
                if (ox < 0 || ox >= ow) continue;
                y[((b * cout + co) * oh + oy) * ow + ox] += xv * w[((ci * cout + co) * k + ky) * k + kx];
              }
            }
        }
  for (let i = 0; i < y.length; i++) {
    const co = Math.floor(i / (oh * ow)) % cout;
    let v = act(c.act ?? 'none', y[i] + (bias ? bias[co] : 0));
    if (post) v = v * post[co] + post[cout + co];
    y[i] = act(c.act2 ?? 'none', v);
  }
  return y;
}

function nchwToNhwc(a: ArrayLike<number>, n: number, ch: number, h: number, w: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let b = 0; b < n; b++)
    for (let c = 0; c < ch; c++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * ch + c] = a[((b * ch + c) * h + y) * w + x];
  return out;
}

const cases: Case[] = [
  { n: 1, cin: 5, cout: 3, ih: 1, iw: 1, k: 4, s: 1, p: 0, act: 'tanh' },
  { n: 2, cin: 7, cout: 13, ih: 3, iw: 5, k: 3, s: 1, p: 0, bias: true, act: 'relu' },
  { n: 3, cin: 17, cout: 33, ih: 5, iw: 4, k: 4, s: 2, p: 1, post: true, act: 'leaky_relu' },
  { n: 2, cin: 9, cout: 65, ih: 4, iw: 3, k: 3, s: 2, p: 1, op: 1, bias: true, inNhwc: true, outNhwc: true, act: 'sigmoid' },
  { n: 2, cin: 20, cout: 70, ih: 7, iw: 9, k: 4, s: 2, p: 1, bias: true, act: 'relu', post: true, act2: 'tanh', outNhwc: true },
  { n: 1, cin: 6, cout: 5, ih: 6, iw: 5, k: 4, s: 2, p: 'same', keras: true, bias: true, inNhwc: true, outNhwc: true },
  { n: 2, cin: 11, cout: 19, ih: 3, iw: 4, k: 3, s: 1, p: 'same', keras: true, bias: true, act: 'relu', post: true, inNhwc: true },
  { n: 1, cin: 4, cout: 9, ih: 5, iw: 3, k: 3, s: 2, p: 'same', keras: true, act: 'leaky_relu' },
  { n: 1, cin: 3, cout: 2, ih: 4, iw: 4, k: 4, s: 1, p: 'same', keras: true, bias: true, act: 'sigmoid' },
  { n: 2, cin: 8, cout: 10, ih: 3, iw: 3, k: 3, s: 2, p: 0, bias: true },
  { n: 1, cin: 5, cout: 4, ih: 4, iw: 3, k: 4, s: 1, p: 1, op: 0, act: 'tanh' },
  { n: 3, cin: 13, cout: 17, ih: 2, iw: 3, k: 4, s: 2, p: 1, op: 1, bias: true, act: 'relu' },
  { n: 2, cin: 6, cout: 7, ih: 3, iw: 2, k: 1, s: 2, p: 0, op: 1, bias: true, act: 'sigmoid' }, // phases with no taps
  { n: 4, cin: 37, cout: 29, ih: 1, iw: 1, k: 1, s: 1, p: 0, bias: true, act: 'relu' }, // a dense layer
  // multiples of 4 output channels, which the 'vec' path also runs (ragged rows of pixels, cin % 4 != 0)
  { n: 3, cin: 17, cout: 32, ih: 5, iw: 4, k: 4, s: 2, p: 1, post: true, act: 'leaky_relu' },
  { n: 2, cin: 9, cout: 64, ih: 4, iw: 3, k: 3, s: 2, p: 1, op: 1, bias: true, inNhwc: true, outNhwc: true, act: 'sigmoid' },
  { n: 2, cin: 6, cout: 12, ih: 3, iw: 7, k: 4, s: 2, p: 1, bias: true, act: 'relu', post: true, act2: 'tanh', outNhwc: true },
  { n: 1, cin: 8, cout: 8, ih: 6, iw: 5, k: 4, s: 2, p: 'same', keras: true, bias: true, inNhwc: true },
  { n: 2, cin: 16, cout: 20, ih: 3, iw: 5, k: 3, s: 1, p: 0, act: 'relu', inNhwc: true }, // 'vec' reads x as vec4s
  { n: 2, cin: 6, cout: 8, ih: 3, iw: 2, k: 1, s: 2, p: 0, op: 1, bias: true, act: 'sigmoid' }, // phases with no taps
  { n: 5, cin: 12, cout: 16, ih: 1, iw: 1, k: 4, s: 1, p: 0, bias: true, act: 'relu', outNhwc: true }, // a DCGAN first layer
];

describe('conv_transpose2d and scale_shift against a float64 CPU reference', () => {
  const gpu = useGpu();

  for (const [ci, c] of cases.entries()) {
    for (const path of ['regs', 'direct', 'vec', 'vec c4'] as const) {
      // 'vec' pads the weight to a multiple of 4 channels where cout is not one; 'vec c4' is 'vec' with
      // 4 channels per invocation where it would run 8
      if (path === 'vec c4' && c.cout % 8 !== 0) continue;
      const name =
        `${path} n${c.n} ${c.cin}->${c.cout} ${c.ih}x${c.iw} k${c.k} s${c.s} p${c.p}${c.op ? ` op${c.op}` : ''}` +
        `${c.keras ? ' keras' : ''}${c.inNhwc ? ' in:NHWC' : ''}${c.outNhwc ? ' out:NHWC' : ''} ${c.act ?? ''}${c.post ? '+bn' : ''}${c.act2 ? '+' + c.act2 : ''}`;
      it(name, async () => {
        const g = gpu();
        const { n, cin, cout, ih, iw, k, s } = c;
        const same = c.p === 'same';
        const pad = same ? kerasSamePadding(k, s) : (c.p as number);
        const oh = same ? ih * s : convTransposeOutputSize(ih, k, s, pad, c.op ?? 0);
        const ow = same ? iw * s : convTransposeOutputSize(iw, k, s, pad, c.op ?? 0);
        const x = randomArray(n * cin * ih * iw, 100 + ci);
        const wPt = randomArray(cin * cout * k * k, 200 + ci, 0.5);
        const bias = c.bias ? randomArray(cout, 300 + ci) : null;
        const post = c.post ? randomArray(2 * cout, 400 + ci) : null;
        const ref = reference(c, x, wPt, bias, post, oh, ow, pad);
        let wKernel: Float32Array;
        if (c.keras) {
          // the same weights as a Keras kernel [k, k, cout, cin]
          const wK = new Float32Array(wPt.length);
          for (let a = 0; a < cin; a++)
            for (let b = 0; b < cout; b++) for (let t = 0; t < k * k; t++) wK[(t * cout + b) * cin + a] = wPt[(a * cout + b) * k * k + t];
          wKernel = weightFromKeras(wK, cin, cout, k, k);
        } else {
          wKernel = weightFromPytorch(wPt, cin, cout, k, k);
        }
        const xLayout = c.inNhwc ? 'NHWC' : 'NCHW',
          yLayout = c.outNhwc ? 'NHWC' : 'NCHW';
        const tx = Tensor.from(g, c.inNhwc ? nchwToNhwc(x, n, cin, ih, iw) : x, [n * cin * ih * iw], 'f32', 'x');
        const { weight: wPadded, channels } = path === 'vec' ? padChannels(wKernel, cout) : { weight: wKernel, channels: cout };
        const tw = Tensor.from(g, wPadded, [k, k, cin, channels], 'f32', 'w');
        const tb = bias ? Tensor.from(g, bias, [cout], 'f32', 'bias') : undefined;
        const tp = post ? Tensor.from(g, post, [2, cout], 'f32', 'post') : undefined;
        const ty = Tensor.empty(g, [n * cout * oh * ow], 'f32', 'y');
        const plan = new Plan(g, 'conv-test');
        await convTranspose2d(plan, tx, view4(n, cin, ih, iw, xLayout), tw, ty, view4(n, cout, oh, ow, yLayout), {
          stride: s,
          padding: pad,
          bias: tb,
          post: tp,
          act: c.act,
          act2: c.act2,
          path: path === 'vec c4' ? 'vec' : path,
          vecChannels: path === 'vec c4' ? 4 : undefined,
        });
        await g.checked(name, () => plan.submit());
        const got = await ty.readFloat32();
        const want = c.outNhwc ? nchwToNhwc(ref, n, cout, oh, ow) : Float32Array.from(ref);
        assertClose(got, want, { atol: 2e-5, rtol: 2e-5, what: name });
        for (const t of [tx, tw, tb, tp, ty]) t?.dispose();
        plan.dispose();
      });
    }
  }

  it('scale_shift: affine + leaky ReLU from NCHW to NHWC, and an activation alone', async () => {
    const g = gpu();
    const [n, c, h, w] = [3, 7, 5, 3];
    const x = randomArray(n * c * h * w, 7);
    const ss = randomArray(2 * c, 8);
    const tx = Tensor.from(g, x, [x.length], 'f32', 'x');
    const ta = Tensor.from(g, ss, [2, c], 'f32', 'affine');
    const t1 = Tensor.empty(g, [x.length], 'f32', 'y1');
    const t2 = Tensor.empty(g, [x.length], 'f32', 'y2');
    const plan = new Plan(g, 'scale-shift-test');
    await scaleShift(plan, tx, view4(n, c, h, w, 'NCHW'), t1, view4(n, c, h, w, 'NHWC'), { affine: ta, act: 'leaky_relu', slope: 0.1 });
    await scaleShift(plan, tx, view4(n, c, h, w, 'NCHW'), t2, view4(n, c, h, w, 'NCHW'), { act: 'sigmoid' });
    await g.checked('scale_shift', () => plan.submit());
    const ref1 = new Float32Array(x.length),
      ref2 = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const ch = Math.floor(i / (h * w)) % c;
      ref1[i] = act('leaky_relu', x[i] * ss[ch] + ss[c + ch], 0.1);
      ref2[i] = act('sigmoid', x[i]);
    }
    assertClose(await t1.readFloat32(), nchwToNhwc(ref1, n, c, h, w), { atol: 1e-6, rtol: 1e-6, what: 'affine+leaky' });
    assertClose(await t2.readFloat32(), ref2, { atol: 1e-6, rtol: 1e-6, what: 'sigmoid' });
    await expect(scaleShift(plan, tx, view4(n, c, h, w, 'NCHW'), tx, view4(n, c, h, w, 'NCHW'))).rejects.toThrow(OptionError);
    for (const t of [tx, ta, t1, t2]) t.dispose();
    plan.dispose();
  });

  it('rejects mismatched channels with an OptionError', async () => {
    const g = gpu();
    const tx = Tensor.empty(g, [2 * 3 * 4 * 4], 'f32', 'x');
    const tw = Tensor.empty(g, [4, 4, 5, 6], 'f32', 'w');
    const ty = Tensor.empty(g, [2 * 6 * 8 * 8], 'f32', 'y');
    const plan = new Plan(g, 'bad');
    await expect(
      convTranspose2d(plan, tx, view4(2, 3, 4, 4, 'NCHW'), tw, ty, view4(2, 6, 8, 8, 'NCHW'), { stride: 2, padding: 1 }),
    ).rejects.toThrow(/expects 5/);
    const tw3 = Tensor.empty(g, [4, 4, 3, 6], 'f32', 'w3');
    await expect(
      convTranspose2d(plan, tx, view4(2, 3, 4, 4, 'NCHW'), tw3, ty, view4(2, 6, 8, 8, 'NCHW'), { stride: 2, padding: 1, path: 'vec' }),
    ).rejects.toThrow(/'vec' path needs a multiple of 4 output channels \(or a weight padded to one with padChannels\), got 6/);
    await expect(
      convTranspose2d(plan, tx, view4(2, 3, 4, 4, 'NCHW'), tw3, ty, view4(2, 6, 8, 8, 'NCHW'), { stride: 2, padding: 1, vecChannels: 8 }),
    ).rejects.toThrow(/vecChannels must be 4, or 8 for a multiple of 8 output channels; got 8 for 6/);
    const tw8 = Tensor.empty(g, [4, 4, 3, 8], 'f32', 'w8');
    await expect(
      convTranspose2d(plan, tx, view4(2, 3, 4, 4, 'NCHW'), tw8, ty, view4(2, 6, 8, 8, 'NCHW'), { stride: 2, padding: 1, path: 'regs' }),
    ).rejects.toThrow(/padded to 8 channels for 6 outputs, which only the 'vec' path reads/);
    for (const t of [tx, tw, tw3, tw8, ty]) t.dispose();
    plan.dispose();
  });
});
