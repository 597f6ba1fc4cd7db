// 10,000+ mutated inputs through every file parser (see parsers.ts): each is accepted or refused with a
// typed error that names the file; none crashes with an untyped one. `npm run fuzz -- --cases N` runs more.
import { describe, expect, it } from 'vitest';
import { fuzzParsers } from './parsers.js';

describe('fuzzed inputs', () => {
  const cases = Number(process.env.FUZZ_CASES ?? 10_000);
  const seed = Number(process.env.FUZZ_SEED ?? 20261203);
  it(`${cases} mutated files (seed ${seed}): accepted or a typed error, never anything else`, async () => {
    const reports = await fuzzParsers(cases, seed);
    for (const r of reports)
      console.log(`fuzz ${r.kind}: ${r.cases} cases, ${r.accepted} accepted, ${r.rejected} typed errors, ${r.failures.length} untyped`);
    expect(reports.reduce((n, r) => n + r.cases, 0)).toBeGreaterThanOrEqual(cases);
    expect(reports.flatMap((r) => r.failures.map((f) => `${r.kind}: ${f}`))).toEqual([]);
  }, 3_600_000);
});
