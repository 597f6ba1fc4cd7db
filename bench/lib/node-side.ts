// What both runners do in Node: the PyTorch reference, the machine's description, and writing the JSON,
// the printed tables and bench/RESULTS.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { markdown, pytorchTable, targetsTable, type EnvInfo, type Report, type Row } from './report.js';

export const ROOT = process.cwd();
export const OUT_DIR = join(ROOT, 'bench/out');
export const PYTHON = process.env.WEBGEN_PYTHON ?? '/usr/bin/python3';

export function machine(): Pick<EnvInfo, 'cpu' | 'cores' | 'memoryGiB' | 'os'> {
  const cpus = os.cpus();
  let distro = '';
  try {
    distro = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? '';
  } catch {
    /* not Linux */
  }
  return {
    cpu: cpus[0]?.model?.trim() ?? os.arch(),
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${distro || os.type()} (${os.release()})`,
  };
}

/** Runs a command, collecting stdout; stderr lines go to `log`. Rejects on a non-zero exit or after timeoutMs. */
export function run(cmd: string, args: string[], log: (l: string) => void, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      p.kill('SIGTERM');
      reject(new Error(`${cmd} ${args.join(' ')}: timed out after ${timeoutMs / 1000} s`));
    }, timeoutMs);
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => {
      err += d;
      for (const line of String(d).split('\n')) if (line.trim()) log(`  | ${line}`);
    });
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

const PYTORCH_CASES: Record<string, string> = {
  'prefill T=128': 'prefill T=128',
  'prefill T=512': 'prefill T=512',
  'decode ctx=128': 'decode step ctx=128',
  'decode ctx=512': 'decode step ctx=512',
  'recompute T=129': 'full recompute T=129 (no KV cache)',
};

/** tools/pytorch_decode_bench.py: the JSON it prints, and its figures as rows of the GPT-2 table. */
export async function pytorchReference(quick: boolean, log: (l: string) => void): Promise<{ json: unknown; rows: Row[] }> {
  try {
    const out = await run(PYTHON, ['tools/pytorch_decode_bench.py', ...(quick ? ['--quick'] : [])], log, 10 * 60_000);
    const json = JSON.parse(out.trim().split('\n').pop()!);
    const rows: Row[] = Object.entries(json.figures as Record<string, any>).map(([k, f]) => ({
      group: 'GPT-2 124M',
      case: PYTORCH_CASES[k] ?? k,
      engine: 'pytorch cpu',
      ms: { median: f.median, min: f.min, max: f.max, n: f.n, samples: f.samples },
      method: 'e2e' as const,
      note: `PyTorch ${json.torch}, ${json.threads} threads, f32${k.startsWith('decode') ? ', KV cache' : ''}`,
    }));
    return { json, rows };
  } catch (e) {
    log(`PyTorch reference failed: ${(e as Error).message}`);
    return { json: { error: (e as Error).message }, rows: [] };
  }
}

export interface Outputs {
  json: string;
  results?: string;
}

/** Writes the run's JSON; a full run (not quick, not filtered) also rewrites bench/RESULTS.md. */
export function writeOutputs(report: Report, name: string, full: boolean, outFile?: string): Outputs {
  mkdirSync(OUT_DIR, { recursive: true });
  const json = outFile ?? join(OUT_DIR, `${name}${full ? '' : report.quick ? '-quick' : '-partial'}.json`);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(report, null, 1));
  if (!full) return { json };
  return { json, results: writeResults() };
}

/** The files RESULTS.md is made from, in its order. */
const RESULT_FILES = ['node-lavapipe', 'chromium-swiftshader', 'node-swiftshader', 'node-gpu'];

/**
 * The end of a run, for both runners: the PyTorch reference (when asked for), the tables on stdout,
 * the JSON and, for a full run, RESULTS.md.
 */
export async function finishRun(
  report: Report,
  name: string,
  o: { pytorch: boolean; quick: boolean; full: boolean; outFile?: string; started: Date; log: (l: string) => void },
): Promise<void> {
  if (o.pytorch) {
    o.log('\n== pytorch (tools/pytorch_decode_bench.py)');
    const t0 = performance.now();
    const pt = await pytorchReference(o.quick, o.log);
    report.pytorch = pt.json;
    report.rows.push(...pt.rows);
    o.log(`== pytorch: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  report.finished = new Date().toISOString();
  console.log('\n' + markdown(report));
  const out = writeOutputs(report, name, o.full, o.outFile);
  o.log(
    `\nwrote ${out.json}${out.results ? ` and ${out.results}` : ''} (${((Date.now() - o.started.getTime()) / 1000).toFixed(0)} s in all)`,
  );
}

export function writeResults(): string {
  const reports: Report[] = [];
  for (const f of RESULT_FILES) {
    const p = join(OUT_DIR, `${f}.json`);
    if (existsSync(p)) reports.push(JSON.parse(readFileSync(p, 'utf8')));
  }
  const m = reports.find((r) => r.env.cpu)?.env;
  const parts = [
    '# Benchmark results',
    'Made by the harness in `bench/` from the latest full runs (JSON in `bench/out/`, not committed); each full run of ' +
      '`npm run bench` (Node + Dawn on Mesa lavapipe) or `npm run bench:browser` (headless Chromium on SwiftShader) rewrites this file. ' +
      'Both adapters are CPUs: only ratios within one run mean anything, and the machine is shared and noisy (the spread column says how much).',
    m ? `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB?.toFixed(0)} GiB, ${m.os}.` : '',
    'Reading the tables:\n\n' +
      [
        '- "webgen" rows run the kernels of `src/` as the models use them on this adapter; "webgen <path>" rows (transposed convolutions) run src\'s other paths for the same layer, to show why the model picks the one it does. Matmul targets are stated for f32 weights (TF.js\'s only dtype) and, as rows of their own, for f16 weights.',
        '- Kernel figures are GPU time from timestamp queries around each pass (TF.js: `tf.time()`); model figures are the wall clock of the user-visible call with its result read back ("e2e"). "first call ms" includes pipeline creation and, on these adapters, shader compilation.',
        '- Rows with n = 1 or 2 are the slow ones (a prefill or ONNX Runtime webgpu run of a minute or more): one warm-up, then that many timed runs.',
        '- Decode at context 512 is reached by moving the stepper to position 511 after the 128-token prefill (the skipped cache rows hold zeros; the step does the same work).',
        '- ONNX Runtime Web\'s decode rows ("ort wasm (KV cache) f32 / int8") run its decoder-with-past export (int8: ORT\'s `quantize_dynamic`) one token a call at the positions of webgen\'s decode rows, after 75 or more warm-up steps; "full recompute T=129 (no KV cache)" is the plain export recomputing the whole sequence for one token, not comparable to a cached step.',
        '- The same figure moves by up to 2x between runs on this shared 2-core machine (see the spread column); compare within one run.',
      ].join('\n'),
    '## Targets',
    ...reports.map((r) => `### ${r.title}\n\n${targetsTable(r)}`),
    ...reports.map((r) => markdown(r, false).replace(/^## /, '## Full tables: ')),
  ].filter(Boolean);
  const file = join(ROOT, 'bench/RESULTS.md');
  writeFileSync(file, parts.join('\n\n') + '\n');
  return file;
}

export { pytorchTable };
