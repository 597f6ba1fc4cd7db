// One closeness check for every numeric test: |got - ref| <= atol + rtol * |ref|, element-wise.
// On failure the message lists the first mismatches and the largest error.

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Names the compared quantity in the failure message. */
  what?: string;
}

export interface CloseReport {
  maxAbsError: number;
  maxRelError: number;
  worstIndex: number;
}

export function compareClose(got: ArrayLike<number>, ref: ArrayLike<number>): CloseReport {
  let maxAbsError = 0;
  let maxRelError = 0;
  let worstIndex = -1;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]);
    if (!(e <= maxAbsError)) {
      maxAbsError = e;
      worstIndex = i;
    }
    const r = e / Math.max(Math.abs(ref[i]), 1e-30);
    if (r > maxRelError) maxRelError = r;
  }
  return { maxAbsError, maxRelError, worstIndex };
}

export function assertClose(got: ArrayLike<number>, ref: ArrayLike<number>, opts: CloseOptions = {}): CloseReport {
  const { atol = 1e-5, rtol = 1e-5, what = 'values' } = opts;
  if (got.length !== ref.length) throw new Error(`${what}: length ${got.length} != reference length ${ref.length}`);
  const bad: string[] = [];
  let nbad = 0;
  for (let i = 0; i < ref.length; i++) {
    const ok = Math.abs(got[i] - ref[i]) <= atol + rtol * Math.abs(ref[i]);
    if (!ok) {
      nbad++;
      if (bad.length < 8) bad.push(`  [${i}] got ${got[i]} want ${ref[i]} (|diff| ${Math.abs(got[i] - ref[i]).toExponential(3)})`);
    }
  }
  const report = compareClose(got, ref);
  if (nbad) {
    throw new Error(
      `${what}: ${nbad} of ${ref.length} values outside atol ${atol} + rtol ${rtol}*|ref|; ` +
        `max |diff| ${report.maxAbsError.toExponential(3)} at [${report.worstIndex}]\n${bad.join('\n')}`,
    );
  }
  return report;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

// test data: the engine's own deterministic generator (mulberry32)
export { mulberry32 as rng, randomArray } from '../../src/util.js';
