// Figures over repeated runs: the median and the spread (min..max) of the samples, and the sampling loop
// every benchmark uses (warm-up first, a bounded number of rounds, a time budget).

export interface Figure {
  median: number;
  min: number;
  max: number;
  /** Number of samples (rounds). */
  n: number;
  samples: number[];
}

export function figure(samples: readonly number[]): Figure {
  if (samples.length === 0) throw new Error('figure: no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], n: s.length, samples: [...samples] };
}

/** (max - min) / median, as a fraction. */
export function spread(f: Figure): number {
  return f.median > 0 ? (f.max - f.min) / f.median : 0;
}

export function median(xs: readonly number[]): number {
  return figure(xs).median;
}

export interface SampleOptions {
  /** At least this many rounds, whatever the budget. */
  minRounds: number;
  /** At most this many rounds. */
  maxRounds: number;
  /** Stop after this many milliseconds once minRounds are done. */
  budgetMs: number;
}

export const FULL: SampleOptions = { minRounds: 5, maxRounds: 15, budgetMs: 3000 };
export const QUICK: SampleOptions = { minRounds: 2, maxRounds: 3, budgetMs: 500 };

/**
 * Runs each competitor's round in turn (A B C A B C ...) so that a noisy machine slows all of them alike,
 * until every one has minRounds samples and the budget is spent (or maxRounds). A round returns one
 * sample in ms. Returns the samples per competitor, in the order given.
 */
export async function interleave(rounds: readonly (() => Promise<number>)[], opts: SampleOptions): Promise<number[][]> {
  const samples: number[][] = rounds.map(() => []);
  const t0 = performance.now();
  for (let r = 0; r < opts.maxRounds; r++) {
    if (r >= opts.minRounds && performance.now() - t0 > opts.budgetMs) break;
    for (let i = 0; i < rounds.length; i++) samples[i].push(await rounds[i]());
  }
  return samples;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
