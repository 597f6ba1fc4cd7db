// The forward convolution (with its on-the-fly nearest upsampling) against a float64 CPU reference
// written here from the definition: upsample by repetition, zero-pad, cross-correlate.
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import {
  conv2d,
  conv2dOutputSize,
  conv2dWeightFromPytorch,
  kerasSameConv,
  Plan,
  Tensor,
  view4,
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
  up?: number;
  bias?: boolean;
  post?: boolean;
  act?: Activation;
  act2?: Activation;
  inNhwc?: boolean;
  outNhwc?: boolean;
}

/** NCHW float64: x upsampled by `up`, padded by (pt, pl) (zeros beyond the input), w PyTorch [cout, cin, k, k]. */
function reference(
  c: Case,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  post: Float32Array | null,
  oh: number,
  ow: number,
  pt: number,
  pl: number,
) {
  const { n, cin, cout, ih, iw, k, s } = c;
  const up = c.up ?? 1;
  const [lh, lw] = [ih * up, iw * up];
  const y = new Float64Array(n * cout * oh * ow);
  for (let b = 0; b < n; b++)
    for (let co = 0; co < cout; co++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let acc = 0;
          for (let ci = 0; ci < cin; ci++)
            for (let ky = 0; ky < k; ky++)
              for (let kx = 0; kx < k; kx++) {
                const ly = oy * s + ky - pt;
                const lx = ox * s + kx - pl;
                if (ly < 0 || ly >= lh || lx < 0 || lx >= lw) continue;
                acc += x[((b * cin + ci) * ih + Math.floor(ly / up)) * iw + Math.floor(lx / up)] * w[((co * cin + ci) * k + ky) * k + kx];
              }
          let v = act(c.act ?? 'none', acc + (bias ? bias[co] : 0));
          if (post) v = v * post[co] + post[cout + co];
          y[((b * cout + co) * oh + oy) * ow + ox] = act(c.act2 ?? 'none', v);
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
  { n: 1, cin: 1, cout: 1, ih: 1, iw: 1, k: 1, s: 1, p: 0 },
  { n: 2, cin: 3, cout: 17, ih: 5, iw: 7, k: 3, s: 1, p: 'same', bias: true, act: 'relu', inNhwc: true, outNhwc: true },
  { n: 3, cin: 17, cout: 3, ih: 9, iw: 6, k: 3, s: 2, p: 'same', bias: true, act: 'tanh' },
  { n: 2, cin: 8, cout: 5, ih: 8, iw: 8, k: 4, s: 2, p: 'same', post: true, act: 'leaky_relu', act2: 'sigmoid', inNhwc: true },
  { n: 1, cin: 7, cout: 13, ih: 6, iw: 5, k: 3, s: 2, p: 0, bias: true, outNhwc: true },
  { n: 2, cin: 5, cout: 6, ih: 7, iw: 4, k: 3, s: 1, p: 1, act: 'sigmoid' },
  { n: 2, cin: 4, cout: 9, ih: 3, iw: 4, k: 3, s: 1, p: 'same', up: 2, bias: true, act: 'relu', inNhwc: true, outNhwc: true },
  { n: 1, cin: 6, cout: 3, ih: 3, iw: 3, k: 3, s: 1, p: 0, up: 3, bias: true, act: 'tanh', inNhwc: true, outNhwc: true },
  { n: 3, cin: 5, cout: 4, ih: 4, iw: 5, k: 5, s: 2, p: 'same', up: 2, post: true, act: 'relu' },
  { n: 2, cin: 65, cout: 63, ih: 4, iw: 3, k: 3, s: 1, p: 'same', bias: true, act: 'leaky_relu', inNhwc: true, outNhwc: true },
];

describe('conv2d against a float64 CPU reference', () => {
  const gpu = useGpu();
  for (const [ci, c] of cases.entries()) {
    const name = `n${c.n} ${c.cin}->${c.cout} ${c.ih}x${c.iw}${c.up ? ` up${c.up}` : ''} k${c.k} s${c.s} p${c.p}${c.inNhwc ? ' in:NHWC' : ''}${c.outNhwc ? ' out:NHWC' : ''} ${c.act ?? ''}${c.post ? '+bn' : ''}${c.act2 ? '+' + c.act2 : ''}`;
    it(name, async () => {
      const g = gpu();
      const { n, cin, cout, ih, iw, k, s } = c;
      const up = c.up ?? 1;
      let oh: number, ow: number, pt: number, pl: number;
      if (c.p === 'same') {
        ({ out: oh, pad: pt } = kerasSameConv(ih * up, k, s));
        ({ out: ow, pad: pl } = kerasSameConv(iw * up, k, s));
      } else {
        [pt, pl] = [c.p, c.p];
        [oh, ow] = [conv2dOutputSize(ih * up, k, s, c.p), conv2dOutputSize(iw * up, k, s, c.p)];
      }
      const x = randomArray(n * cin * ih * iw, 10 + ci);
      const wPt = randomArray(cout * cin * k * k, 20 + ci, 0.5);
      const bias = c.bias ? randomArray(cout, 30 + ci) : null;
      const post = c.post ? randomArray(2 * cout, 40 + ci) : null;
      const ref = reference(c, x, wPt, bias, post, oh, ow, pt, pl);
      const xl = c.inNhwc ? 'NHWC' : 'NCHW';
      const yl = c.outNhwc ? 'NHWC' : 'NCHW';
      const tx = Tensor.from(g, c.inNhwc ? nchwToNhwc(x, n, cin, ih, iw) : x, [x.length], 'f32', 'x');
      const tw = Tensor.from(g, conv2dWeightFromPytorch(wPt, cout, cin, k, k), [k, k, cin, cout], 'f32', 'w');
      const tb = bias ? Tensor.from(g, bias, [cout], 'f32', 'bias') : undefined;
      const tp = post ? Tensor.from(g, post, [2, cout], 'f32', 'post') : undefined;
      const ty = Tensor.empty(g, [n * cout * oh * ow], 'f32', 'y');
      const plan = new Plan(g, 'conv2d-test');
      await conv2d(plan, tx, view4(n, cin, ih, iw, xl), tw, ty, view4(n, cout, oh, ow, yl), {
        stride: s,
        padding: [pt, pl],
        upsample: up,
        bias: tb,
        post: tp,
        act: c.act,
        act2: c.act2,
      });
      await g.checked(name, () => plan.submit());
      const got = await ty.readFloat32();
      assertClose(got, c.outNhwc ? nchwToNhwc(ref, n, cout, oh, ow) : Float32Array.from(ref), { atol: 2e-5, rtol: 2e-5, what: name });
      for (const t of [tx, tw, tb, tp, ty]) t?.dispose();
      plan.dispose();
    });
  }

  it('rejects mismatched channels, bad strides and a shared x/y with OptionErrors', async () => {
    const g = gpu();
    const tx = Tensor.empty(g, [2 * 4 * 4], 'f32', 'x');
    const tw = Tensor.empty(g, [3, 3, 2, 5], 'f32', 'w');
    const ty = Tensor.empty(g, [5 * 4 * 4], 'f32', 'y');
    const plan = new Plan(g, 'conv2d-errors');
    await expect(conv2d(plan, tx, view4(1, 3, 4, 4, 'NHWC'), tw, ty, view4(1, 5, 4, 4, 'NHWC'))).rejects.toThrow(/expects 2/);
    await expect(conv2d(plan, tx, view4(1, 2, 4, 4, 'NHWC'), tw, ty, view4(1, 5, 4, 4, 'NHWC'), { stride: 0 })).rejects.toThrow(
      OptionError,
    );
    await expect(conv2d(plan, tx, view4(1, 2, 4, 4, 'NHWC'), tw, tx, view4(1, 2, 4, 4, 'NHWC'))).rejects.toThrow(/different tensors/);
    for (const t of [tx, tw, ty]) t.dispose();
    plan.dispose();
  });
});
