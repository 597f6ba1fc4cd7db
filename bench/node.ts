// `npm run bench`: the benchmarks in Node on Dawn (the `webgpu` package), on the Vulkan driver chosen by
// WEBGEN_VULKAN (default here: lavapipe), with TensorFlow.js WebGPU on the same adapter and PyTorch on
// the CPU as the native reference. Prints the tables and writes bench/out/node-<driver>.json (and, for a
// full run, bench/RESULTS.md).
//
//   npm run bench [-- --quick] [--only kernels,gpt2,gan,pytorch] [--filter REGEX] [--no-tfjs] [--out FILE]
import { parseArgs } from 'node:util';
import { navigatorGpu } from '../src/runtime/device.js';
import { finishRun, machine, writeResults } from './lib/node-side.js';
import type { Report } from './lib/report.js';
import { envOf, openSession, runSuite, SUITES, type SuiteName } from './suites/index.js';

const USAGE = `usage: npm run bench -- [options]
  --quick           a smoke run: fewer rounds, small budgets, no context 512
  --only LIST       suites to run, comma-separated: ${Object.keys(SUITES).join(', ')}, pytorch (default: all)
  --filter REGEX    only cases whose "group case" matches
  --no-tfjs         leave TensorFlow.js out
  --no-variants     leave out src's other kernel paths ("webgen <path>" rows)
  --out FILE        JSON path (default bench/out/node-<driver>[-quick|-partial].json)
  --report          only rewrite bench/RESULTS.md from the latest full runs' JSON in bench/out/
environment: WEBGEN_VULKAN=lavapipe|swiftshader (default lavapipe), WEBGEN_PYTHON (default /usr/bin/python3)`;

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      filter: { type: 'string' },
      'no-tfjs': { type: 'boolean' },
      'no-variants': { type: 'boolean' },
      out: { type: 'string' },
      report: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (v.report) {
    console.log(`wrote ${writeResults()} from the JSON in bench/out/`);
    return 0;
  }
  process.env.WEBGEN_VULKAN ??= 'lavapipe';
  const driver = process.env.WEBGEN_VULKAN;
  const quick = !!v.quick;
  const only = v.only ? v.only.split(',').map((s) => s.trim()) : [...Object.keys(SUITES), 'pytorch'];
  for (const s of only) if (!(s in SUITES) && s !== 'pytorch') throw new Error(`--only: unknown suite "${s}"\n${USAGE}`);
  const full = !quick && !v.only && !v.filter && !v['no-tfjs'] && !v['no-variants'];
  const log = (l: string) => console.log(l);

  // TF.js finds WebGPU as navigator.gpu: give it the same Dawn instance webgen uses (same adapter)
  const gpuApi = await navigatorGpu();
  const g = globalThis as any;
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpuApi, configurable: true });
  else g.navigator = { gpu: gpuApi };

  const started = new Date();
  const session = await openSession({ quick, filter: v.filter, noTfjs: v['no-tfjs'] });
  const report: Report = {
    title: `Node ${process.version}, Dawn (webgpu ${await packageVersion('webgpu')}) on ${driver}`,
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    quick,
    started: started.toISOString(),
    env: { runtime: 'node', version: process.version, driver, ...envOf(session), ...machine() },
    rows: [],
  };
  log(`webgen bench: ${report.title}`);
  log(`adapter: ${JSON.stringify(report.env.adapter)} timestamps=${report.env.timestamps} f16=${report.env.f16}`);
  log(
    report.env.tfjs
      ? `TF.js ${report.env.tfjs.version}: ${report.env.tfjs.error ?? `adapter ${report.env.tfjs.adapter}, timestamps=${report.env.tfjs.timestamps}`}`
      : 'TF.js: off',
  );
  try {
    for (const name of Object.keys(SUITES) as SuiteName[]) {
      if (!only.includes(name)) continue;
      const t0 = performance.now();
      log(`\n== ${name}`);
      report.rows.push(...(await runSuite(session, name, { quick, filter: v.filter, noVariants: v['no-variants'] }, log)));
      log(`== ${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    session.timer.dispose();
    session.gpu.dispose();
  }
  await finishRun(report, `node-${driver}`, { pytorch: only.includes('pytorch') && !v.filter, quick, full, outFile: v.out, started, log });
  return 0;
}

async function packageVersion(name: string): Promise<string> {
  try {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    return require(`${name}/package.json`).version;
  } catch {
    return '?';
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
