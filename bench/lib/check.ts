// Inputs for the kernel benchmarks and sampled checks of their outputs: every kernel, webgen's and the
// peers', is checked against a float64 CPU value at a few dozen output positions before it is timed
// (a full CPU reference of a 128x768x50257 product would take longer than the benchmark).

/** `count` positions in [0, n), deterministic, always including the first and the last. */
export function samplePositions(n: number, count: number, seed = 12345): number[] {
  const out = new Set<number>([0, n - 1]);
  let s = seed;
  while (out.size < Math.min(count, n)) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.add(s % n);
  }
  return [...out];
}

export interface CheckResult {
  ok: boolean;
  /** max |got - ref| / max |ref| over the sampled positions. */
  relErr: number;
  firstBad?: string;
}

/** Compares got[i] to ref(i) at the positions; passes when every |err| <= tol * max|ref|. */
export function checkSampled(got: ArrayLike<number>, positions: number[], ref: (i: number) => number, tol = 1e-3): CheckResult {
  let maxRef = 0;
  let maxErr = 0;
  let firstBad: string | undefined;
  const refs = positions.map((i) => ref(i));
  for (const r of refs) maxRef = Math.max(maxRef, Math.abs(r));
  positions.forEach((i, j) => {
    const g = got[i];
    const e = Math.abs(g - refs[j]);
    if (!(e <= tol * Math.max(maxRef, 1e-30))) firstBad ??= `at ${i}: got ${g}, expected ${refs[j]}`;
    if (Number.isFinite(e)) maxErr = Math.max(maxErr, e);
    else maxErr = Infinity;
  });
  return { ok: firstBad === undefined, relErr: maxErr / Math.max(maxRef, 1e-30), firstBad };
}

/** out[r, c] of x[M, K] . W, W [K, N] ('kn') or [N, K] ('nk'), in float64. */
export function matmulAt(x: Float32Array, w: Float32Array, K: number, N: number, layout: 'kn' | 'nk', r: number, c: number): number {
  let acc = 0;
  if (layout === 'kn') for (let k = 0; k < K; k++) acc += x[r * K + k] * w[k * N + c];
  else for (let k = 0; k < K; k++) acc += x[r * K + k] * w[c * K + k];
  return acc;
}
