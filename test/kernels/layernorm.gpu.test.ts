// layerNorm alone against the float64 CPU reference: ragged row counts and widths (not multiples of
// the 64-wide workgroup or of 4), several eps, fewer rows than x holds, and the shape checks.
import { describe, expect, it } from 'vitest';
import { layerNorm, Plan, Tensor } from '../../src/kernels/index.js';
import { OptionError } from '../../src/errors.js';
import type { Gpu } from '../../src/runtime/device.js';
import { assertClose, maxAbs, randomArray } from '../helpers/assert.js';
import { useGpu } from '../helpers/gpu.js';
import { layerNormRef } from '../helpers/reference.js';

const SENTINEL = -12345.5;

interface Case {
  R: number;
  C: number;
  eps: number;
  xRows?: number;
  offset?: number;
}

async function runCase(g: Gpu, { R, C, eps, xRows = R, offset = 0 }: Case): Promise<void> {
  const seed = R * 1009 + C;
  // rows with a mean away from zero (offset) and a spread that differs per row, so both passes matter
  const x = randomArray(xRows * C, seed, 1);
  for (let r = 0; r < xRows; r++) for (let c = 0; c < C; c++) x[r * C + c] = offset + x[r * C + c] * (1 + (r % 5));
  const gamma = randomArray(C, seed + 1, 2);
  const beta = randomArray(C, seed + 2, 1);
  const tx = Tensor.from(g, x, [xRows, C], 'f32', 'x');
  const tg = Tensor.from(g, gamma, [C], 'f32', 'ln.g');
  const tb = Tensor.from(g, beta, [C], 'f32', 'ln.b');
  const out = Tensor.from(g, new Float32Array(xRows * C).fill(SENTINEL), [xRows, C], 'f32', 'out');
  const plan = new Plan(g, 'layernorm-test');
  await layerNorm(plan, tx, tg, tb, out, eps, R === xRows ? undefined : R);
  await g.checked('layernorm', () => plan.submit());
  const got = await out.readFloat32();
  const ref = layerNormRef(x, R, C, gamma, beta, eps);
  const what = `layernorm R=${R} C=${C} eps=${eps}${offset ? ` offset=${offset}` : ''}`;
  for (let r = 0; r < R; r++) {
    const row = x.subarray(r * C, (r + 1) * C);
    let mean = 0,
      v = 0;
    for (const a of row) mean += a / C;
    for (const a of row) v += (a - mean) ** 2 / C;
    // f32 rounding, magnified by the scaling with 1/sqrt(var + eps) (large when the values sit far
    // from zero or close together) and gamma: x - mean is off by an ulp of max|x|, the mean by
    // ~sqrt(C) ulp of |mean| (the sum's partial sums grow like C |mean|), and the variance's relative
    // error scales |out| <= 2 max|x| / sqrt(var + eps) alike; 8 x that (the error measured on lavapipe
    // and SwiftShader reaches 23% of it), plus one rounding of beta
    const atol =
      8 * 2 ** -24 * maxAbs(gamma) * ((2 * maxAbs(row) + Math.sqrt(C) * Math.abs(mean)) / Math.sqrt(v + eps)) + 2 ** -24 * maxAbs(beta);
    assertClose(got.subarray(r * C, (r + 1) * C), ref.subarray(r * C, (r + 1) * C), { atol, rtol: 0, what: `${what}, row ${r}` });
  }
  // rows past `rows` are not written
  assertClose(got.subarray(R * C), new Float32Array((xRows - R) * C).fill(SENTINEL), { atol: 0, rtol: 0, what: `${what}: rows past R` });
  for (const t of [tx, tg, tb, out]) t.dispose();
  plan.dispose();
}

describe('layerNorm against a float64 CPU reference', () => {
  const gpu = useGpu();
  const shapes: [number, number][] = [
    [1, 1],
    [1, 3],
    [3, 17],
    [17, 63],
    [65, 65],
    [3, 769],
    [130, 5],
    [2, 1600],
  ];
  for (const [R, C] of shapes) {
    for (const eps of [1e-5, 0.1]) {
      it(`R=${R} C=${C} eps=${eps}`, async () => runCase(gpu(), { R, C, eps }));
    }
  }
  // mean 1000 with a spread of ~1: two passes keep the error within the bound above (linear in the
  // offset), where a one-pass E[x^2] - E[x]^2 in f32 would lose the variance entirely
  it('rows far from zero mean (R=17 C=63, offset 1000)', async () => runCase(gpu(), { R: 17, C: 63, eps: 1e-5, offset: 1000 }));
  it('eps = 0 and a tiny eps', async () => {
    await runCase(gpu(), { R: 3, C: 17, eps: 0 });
    await runCase(gpu(), { R: 5, C: 65, eps: 1e-12 });
  });
  it('C = 1: every value is its row mean, so out = beta (eps keeps it finite)', async () => runCase(gpu(), { R: 5, C: 1, eps: 1e-5 }));
  it("rows < x's rows: normalises only the first rows and leaves the rest of out alone", async () => {
    await runCase(gpu(), { R: 1, C: 17, eps: 1e-5, xRows: 3 });
    await runCase(gpu(), { R: 65, C: 3, eps: 1e-5, xRows: 70 });
  });

  it('bad shapes raise OptionError naming the tensor', async () => {
    const g = gpu();
    const x = Tensor.empty(g, [3, 8], 'f32', 'x.in');
    const out = Tensor.empty(g, [3, 8], 'f32', 'x.out');
    const small = Tensor.empty(g, [2, 8], 'f32', 'x.small');
    const gamma = Tensor.empty(g, [8], 'f32', 'ln.gamma');
    const beta = Tensor.empty(g, [8], 'f32', 'ln.beta');
    const gamma7 = Tensor.empty(g, [7], 'f32', 'ln.gamma7');
    const plan = new Plan(g, 'bad');
    const rejects = (p: Promise<void>, re: RegExp) => Promise.all([expect(p).rejects.toThrow(OptionError), expect(p).rejects.toThrow(re)]);
    await rejects(layerNorm(plan, x, gamma7, beta, out, 1e-5), /"ln\.gamma7".*7.*8/);
    await rejects(layerNorm(plan, x, gamma, gamma7, out, 1e-5), /"ln\.gamma7"/);
    await rejects(layerNorm(plan, x, gamma, beta, small, 1e-5), /3 rows of 8 .*"x\.small"/);
    await rejects(layerNorm(plan, small, gamma, beta, out, 1e-5, 3), /3 rows of 8 .*"x\.small"/);
    await rejects(layerNorm(plan, x, gamma, beta, out, 1e-5, 4), /4 rows of 8 .*"x\.in"/);
    await rejects(layerNorm(plan, x, gamma, beta, out, 1e-5, 0), /0 rows/);
    await rejects(layerNorm(plan, x, gamma, beta, out, 1e-5, 1.5), /1\.5 rows/);
    await rejects(layerNorm(plan, x, gamma, beta, out, -1e-5), /eps must be >= 0/);
    await rejects(layerNorm(plan, x, gamma, beta, out, NaN), /eps must be >= 0, got NaN/);
    expect(plan.dispatches.length).toBe(0);
    for (const t of [x, out, small, gamma, beta, gamma7]) t.dispose();
    plan.dispose();
  });
});
