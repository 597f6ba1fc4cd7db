// `npm run fuzz -- --cases N [--seed S]`: the fuzz test with more cases (CI runs 10,000).
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '100000' }, seed: { type: 'string', default: String(Date.now() % 2 ** 31) } },
});
console.log(`fuzz: ${values.cases} cases, seed ${values.seed}`);
const r = spawnSync('npx', ['vitest', 'run', '--project', 'unit', 'test/fuzz/fuzz.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_CASES: values.cases, FUZZ_SEED: values.seed },
});
process.exit(r.status ?? 1);
