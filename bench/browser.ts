// `npm run bench:browser`: the same benchmarks in headless Chromium (Debian's /usr/bin/chromium, WebGPU on
// SwiftShader), on a page served by a Vite dev server with the cross-origin isolation headers that
// wasm threads need, driven by puppeteer-core; plus ONNX Runtime Web on GPT-2 124M exported from PyTorch
// at benchmark time (webgpu and wasm on the plain export; wasm on the decoder with a KV cache, f32 and
// ORT's dynamic int8 quantization), and PyTorch on the CPU as the native reference. Prints the tables
// and writes bench/out/chromium-swiftshader.json (and, for a full run, bench/RESULTS.md).
//
//   npm run bench:browser [-- --quick] [--only kernels,gpt2,gan,ort,pytorch] [--filter REGEX] [--no-tfjs]
//                         [--ort-runs N] [--ort-steps N] [--ort-webgpu-step] [--out FILE]
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { createServer } from 'vite';
import { finishRun, machine, OUT_DIR, PYTHON, run } from './lib/node-side.js';
import type { Report, Row } from './lib/report.js';
import { SUITES, type SuiteName } from './suites/index.js';
import { ortVariants, type OrtModel, type OrtOptions } from './suites/ort.js';

const USAGE = `usage: npm run bench:browser -- [options]
  --quick              a smoke run: fewer rounds, no context 512, ONNX Runtime wasm only
  --only LIST          suites, comma-separated: ${Object.keys(SUITES).join(', ')}, ort, pytorch (default: all)
  --filter REGEX       only cases whose "group case" matches (GPT-2: "GPT-2 124M <engine>"; ONNX Runtime:
                       "GPT-2 124M <engine> <case>", engines ort webgpu, ort wasm, ort wasm (KV cache) f32|int8)
  --no-tfjs            leave TensorFlow.js out
  --no-variants        leave out src's other kernel paths ("webgen <path>" rows)
  --ort-runs N         timed ONNX Runtime runs per shape after the warm-up, plain export (default: webgpu 2, wasm 3)
  --ort-steps N        timed ONNX Runtime KV-cached decode steps per context (default 16, quick 4)
  --ort-webgpu-step    also time ONNX Runtime webgpu's T=129 step (one to two minutes a run on SwiftShader)
  --out FILE           JSON path (default bench/out/chromium-swiftshader[-quick|-partial].json)
environment: CHROMIUM_PATH (default /usr/bin/chromium), WEBGEN_PYTHON (default /usr/bin/python3)
The int8 graph needs the onnx and onnxruntime Python packages: when they are missing the runner installs
them into bench/out/pydeps (pip --target, no dependencies: Debian's numpy and PyTorch stay as they are).`;

const FLAGS = [
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--enable-webgpu-developer-features', // full-resolution timestamp queries
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
  '--disable-renderer-backgrounding',
  '--disable-background-timer-throttling',
  '--js-flags=--max-old-space-size=8192',
];

/** The graphs ONNX Runtime runs, in bench/out/ (served by the dev server at /bench/out/). */
const ONNX: Record<OrtModel, string> = {
  plain: 'gpt2-124m.onnx',
  past: 'gpt2-124m-past.onnx',
  'past-int8': 'gpt2-124m-past-int8.onnx',
};
const PYDEPS = join(OUT_DIR, 'pydeps');
const PYDEPS_PACKAGES = [
  'onnxruntime==1.30.0',
  'onnx==1.23.1',
  'protobuf==6.33.6',
  'ml_dtypes==0.5.4',
  'flatbuffers',
  'packaging',
  'typing_extensions',
];

/** Exports (or quantizes) the graphs `needed` that bench/out/ lacks; what cannot be made says why. */
async function exportGraphs(needed: OrtModel[], log: (l: string) => void): Promise<OrtOptions['models']> {
  const models: OrtOptions['models'] = {};
  const path = (m: OrtModel) => join(OUT_DIR, ONNX[m]);
  const make = async (m: OrtModel, args: string[], what: string) => {
    if (existsSync(path(m))) return;
    log(`${what} -> ${path(m)} (tools/export_gpt2_onnx.py) ...`);
    const t0 = performance.now();
    log((await run(PYTHON, ['tools/export_gpt2_onnx.py', ...args, '--out', path(m)], log, 15 * 60_000)).trim());
    log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  };
  mkdirSync(OUT_DIR, { recursive: true });
  const attempt = async (m: OrtModel, f: () => Promise<void>) => {
    try {
      await f();
      models[m] = { url: `/bench/out/${ONNX[m]}` };
    } catch (e) {
      const error = `the ${m} graph could not be made: ${(e as Error).message.split('\n')[0].slice(0, 300)}`;
      models[m] = { error };
      log(error);
    }
  };
  if (needed.includes('plain')) await attempt('plain', () => make('plain', [], 'exporting GPT-2 124M (random weights, no KV cache)'));
  if (needed.includes('past') || needed.includes('past-int8'))
    await attempt('past', () => make('past', ['--with-past'], 'exporting GPT-2 124M (random weights, decoder with past)'));
  if (needed.includes('past-int8')) {
    const src = models.past && 'url' in models.past ? path('past') : undefined;
    await attempt('past-int8', async () => {
      if (!src) throw new Error('no f32 decoder with past to quantize');
      const args = ['--quantize', src];
      const what = 'quantizing it to int8 with onnxruntime.quantization.quantize_dynamic';
      try {
        await make('past-int8', args, what);
      } catch (e) {
        if (!/exited with 3:/.test((e as Error).message) || existsSync(join(PYDEPS, 'onnxruntime'))) throw e; // 3: no onnx/onnxruntime
        log(`installing onnx and onnxruntime into ${PYDEPS} (pip --target --no-deps) ...`);
        await run(PYTHON, ['-m', 'pip', 'install', '-q', '--no-deps', '--target', PYDEPS, ...PYDEPS_PACKAGES], log, 10 * 60_000);
        await make('past-int8', args, what);
      }
    });
  }
  return models;
}

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      filter: { type: 'string' },
      'no-tfjs': { type: 'boolean' },
      'no-variants': { type: 'boolean' },
      'ort-runs': { type: 'string' },
      'ort-steps': { type: 'string' },
      'ort-webgpu-step': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = !!v.quick;
  const all = [...Object.keys(SUITES), 'ort', 'pytorch'];
  const only = v.only ? v.only.split(',').map((s) => s.trim()) : all;
  for (const s of only) if (!all.includes(s)) throw new Error(`--only: unknown suite "${s}"\n${USAGE}`);
  const full = !quick && !v.only && !v.filter && !v['no-tfjs'] && !v['no-variants'];
  const log = (l: string) => console.log(l);
  const started = new Date();
  const opts = { quick, filter: v.filter, noTfjs: v['no-tfjs'], noVariants: v['no-variants'] };

  const variants = only.includes('ort') ? ortVariants({ quick, webgpuStep: !!v['ort-webgpu-step'], filter: v.filter }) : [];
  const models = variants.length ? await exportGraphs([...new Set(variants.map((x) => x.model))], log) : {};

  const server = await createServer({
    configFile: false,
    root: process.cwd(),
    logLevel: 'error',
    server: {
      port: 0,
      host: '127.0.0.1',
      // wasm threads (SharedArrayBuffer) need a cross-origin isolated page
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      fs: { allow: ['.'] },
      // a run takes many minutes while others edit src/: never reload the page under it
      hmr: false,
      watch: null,
    },
    optimizeDeps: {
      entries: ['bench/page.html'],
      include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'],
      exclude: ['onnxruntime-web'], // it finds its .wasm/.mjs files next to itself
    },
  });
  await server.listen();
  const addr = server.httpServer!.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: FLAGS,
    headless: true,
    protocolTimeout: 60 * 60_000, // one page.evaluate may run a suite for many minutes
  });
  const report: Report = {
    title: '',
    command: `npm run bench:browser${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    quick,
    started: started.toISOString(),
    env: undefined as unknown as Report['env'],
    rows: [],
  };
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      const t = m.text();
      if (!/^\[vite\]/.test(t)) log(m.type() === 'log' ? t : `[${m.type()}] ${t}`);
    });
    page.on('pageerror', (e) => log(`[pageerror] ${(e as Error).message}`));
    await page.goto(`http://127.0.0.1:${port}/bench/page.html`);
    await page.waitForFunction('window.__ready === true', { timeout: 180_000 });
    const version = await browser.version();
    const env = await page.evaluate((o) => (window as any).bench.open(o), opts);
    report.title = `Headless ${version}, WebGPU on ${/swiftshader/i.test(JSON.stringify(env.adapter)) ? 'SwiftShader' : JSON.stringify(env.adapter)}`;
    report.env = { runtime: 'chromium', version, ...env, ...machine() };
    log(`webgen bench: ${report.title}`);
    log(
      `adapter: ${JSON.stringify(env.adapter)} timestamps=${env.timestamps} f16=${env.f16} crossOriginIsolated=${env.crossOriginIsolated}`,
    );
    log(
      env.tfjs
        ? `TF.js ${env.tfjs.version}: ${env.tfjs.error ?? `adapter ${env.tfjs.adapter}, timestamps=${env.tfjs.timestamps}`}`
        : 'TF.js: off',
    );
    for (const name of Object.keys(SUITES) as SuiteName[]) {
      if (!only.includes(name)) continue;
      const t0 = performance.now();
      log(`\n== ${name}`);
      const rows: Row[] = await page.evaluate((n, o) => (window as any).bench.run(n, o), name, opts);
      report.rows.push(...rows);
      log(`== ${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    if (variants.length) {
      const t0 = performance.now();
      log(`\n== ort (ONNX Runtime Web): ${variants.map((x) => x.engine).join(', ')}`);
      const n = v['ort-runs'] ? Number(v['ort-runs']) : undefined;
      const opts: Omit<OrtOptions, 'log'> = {
        variants,
        models,
        runs: { webgpu: n ?? 2, wasm: n ?? (quick ? 2 : 3) },
        decodeSteps: v['ort-steps'] ? Number(v['ort-steps']) : quick ? 4 : 16,
      };
      const r = await page.evaluate((o) => (window as any).bench.ort(o), opts);
      report.rows.push(...r.rows);
      report.env.ort = { version: r.version };
      log(`== ort: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  await finishRun(report, 'chromium-swiftshader', {
    pytorch: only.includes('pytorch') && !v.filter,
    quick,
    full,
    outFile: v.out,
    started,
    log,
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
