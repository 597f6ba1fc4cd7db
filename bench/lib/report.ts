// The results of one benchmark run (Node or Chromium) as JSON, the tables printed from it, the
// benchmark targets (decode and prefill matmuls, the DCGAN batch, the GPT-2 124M steps) checked
// against it, and bench/RESULTS.md made from the latest runs.
import { figure, spread, type Figure } from './stats.js';

/** How `ms` was measured. */
export type Method =
  | 'timestamp' // GPU timestamp queries around each pass
  | 'wall' // many iterations between two onSubmittedWorkDone() waits, per iteration
  | 'e2e'; // wall clock of a user-visible call, result read back (model figures)

export interface Row {
  /** Table the row belongs to. */
  group: string;
  /** What is measured (shape, model, batch). */
  case: string;
  engine: string;
  ms?: Figure;
  method?: Method;
  /** The other timing where both exist (wall time next to timestamps). */
  wallMs?: Figure;
  /** Work of one iteration: for GFLOP/s and GB/s. */
  flops?: number;
  bytes?: number;
  /** First call, including pipeline creation / shader compilation. */
  firstMs?: number;
  /** A figure that is not a time (GPU memory). */
  value?: number;
  unit?: string;
  note?: string;
  error?: string;
}

export interface EnvInfo {
  runtime: 'node' | 'chromium';
  /** Node version, or the browser's version string. */
  version: string;
  userAgent?: string;
  adapter: { vendor: string; architecture: string; device: string; description: string };
  /** WEBGEN_VULKAN in Node. */
  driver?: string;
  features: string[];
  timestamps: boolean;
  f16: boolean;
  crossOriginIsolated?: boolean;
  hardwareConcurrency?: number;
  cpu?: string;
  cores?: number;
  memoryGiB?: number;
  os?: string;
  tfjs?: { version: string; adapter?: string; timestamps?: boolean; error?: string };
  ort?: { version: string };
}

export interface Report {
  title: string;
  command: string;
  quick: boolean;
  started: string;
  finished?: string;
  env: EnvInfo;
  rows: Row[];
  pytorch?: unknown;
}

export function gflops(r: Row): number | undefined {
  return r.ms && r.flops ? r.flops / (r.ms.median * 1e6) : undefined;
}

export function gbps(r: Row): number | undefined {
  return r.ms && r.bytes ? r.bytes / (r.ms.median * 1e6) : undefined;
}

export function fmtMs(ms: number): string {
  if (ms >= 10000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

function fmtNum(x: number | undefined, digits = 2): string {
  if (x === undefined || !Number.isFinite(x)) return '';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(digits);
}

const msOrSec = (ms: number) => (ms >= 10000 ? fmtMs(ms) : `${fmtMs(ms)} ms`);

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/** Engines that are not webgen: TF.js, ONNX Runtime, PyTorch (not webgen's other kernel paths, not the copy). */
export function isPeer(engine: string): boolean {
  return /^(tfjs|ort|pytorch)/.test(engine);
}

/** Peer of a webgen row in the same case (for the "x" column): the first non-webgen engine. */
function peerOf(rows: Row[], r: Row): Row | undefined {
  if (!r.engine.startsWith('webgen')) return undefined;
  return rows.find((p) => p.case === r.case && isPeer(p.engine) && p.ms);
}

/** Markdown tables, one per group. */
export function tables(report: Report): string {
  const groups = [...new Set(report.rows.map((r) => r.group))];
  const out: string[] = [];
  for (const g of groups) {
    const rows = report.rows.filter((r) => r.group === g);
    const anyWork = rows.some((r) => r.flops || r.bytes);
    const anyFirst = rows.some((r) => r.firstMs !== undefined);
    const header = ['case', 'engine', 'ms (median)', 'spread min-max', 'n', 'method'];
    if (anyWork) header.push('GFLOP/s', 'GB/s');
    header.push('peer / webgen');
    if (anyFirst) header.push('first call ms');
    header.push('note');
    const body = rows.map((r) => {
      const cells: string[] = [r.case, r.engine];
      if (r.ms) {
        cells.push(
          fmtMs(r.ms.median),
          `${fmtMs(r.ms.min)}-${fmtMs(r.ms.max)} (${(spread(r.ms) * 100).toFixed(0)}%)`,
          String(r.ms.n),
          r.method ?? '',
        );
      } else if (r.value !== undefined) {
        cells.push(`${fmtNum(r.value, 1)} ${r.unit ?? ''}`, '', '', '');
      } else cells.push('', '', '', '');
      if (anyWork) cells.push(fmtNum(gflops(r), 3), fmtNum(gbps(r), 2));
      const p = peerOf(rows, r);
      cells.push(p && r.ms ? `${(p.ms!.median / r.ms.median).toFixed(1)}x` : '');
      if (anyFirst) cells.push(r.firstMs !== undefined ? fmtMs(r.firstMs) : '');
      cells.push([r.error ? `ERROR: ${r.error}` : '', r.note ?? ''].filter(Boolean).join('; ').replace(/\|/g, '/'));
      return cells;
    });
    out.push(`### ${g}\n\n${table(header, body)}`);
  }
  return out.join('\n\n');
}

export interface Target {
  target: string;
  webgen: string;
  peer: string;
  ratio: number | undefined;
  goal: string;
  met: boolean | undefined;
  note?: string;
}

const find = (rows: Row[], group: string, caseName: string, engine: string) =>
  rows.find((r) => r.group === group && r.case === caseName && r.engine === engine && r.ms);

/** The benchmark targets (see bench/README.md) that this run can check. */
export function targets(report: Report): Target[] {
  const rows = report.rows;
  const out: Target[] = [];
  const ratioTarget = (
    name: string,
    w: Row | undefined,
    p: Row | undefined,
    goal: string,
    ok: (ratio: number) => boolean,
    peerOverWebgen = true,
  ) => {
    if (!w || !p) return;
    const ratio = peerOverWebgen ? p.ms!.median / w.ms!.median : w.ms!.median / p.ms!.median;
    out.push({
      target: name,
      webgen: `${w.engine}: ${msOrSec(w.ms!.median)}`,
      peer: `${p.engine}: ${msOrSec(p.ms!.median)}`,
      ratio,
      goal,
      met: ok(ratio),
    });
  };
  // webgen as the models run it; f16 weights against TF.js's f32 are a row of their own
  const copy = rows.find((r) => r.engine === 'copy' && r.ms);
  const copyGBps = copy ? gbps(copy) : undefined;
  for (const engine of ['webgen f32', 'webgen f16']) {
    for (const r of rows.filter((r) => r.group === 'matmul' && r.engine === engine)) {
      // TF.js's faster layout ('tfjs' [K, N] or 'tfjs nk' [N, K])
      const p = rows
        .filter((q) => q.group === 'matmul' && q.case === r.case && /^tfjs( nk)?$/.test(q.engine) && q.ms)
        .sort((a, b) => a.ms!.median - b.ms!.median)[0];
      const decode = r.case.startsWith('decode');
      const before = out.length;
      ratioTarget(
        `matmul ${r.case}: GFLOP/s vs TF.js (its faster layout)`,
        r,
        p,
        decode ? '>= 10x' : '>= 2x',
        (x) => x >= (decode ? 10 : 2),
      );
      if (out.length === before || !p) continue;
      const notes: string[] = [];
      const other = rows.find(
        (q) => q.group === 'matmul' && q.case === r.case && /^tfjs( nk)?$/.test(q.engine) && q.engine !== p.engine && q.ms,
      );
      if (other) notes.push(`vs ${other.engine}: ${(other.ms!.median / r.ms!.median).toFixed(1)}x`);
      if (decode && copyGBps && r.bytes) {
        // a GEMV reads its weights once: the copy kernel's bandwidth is a rough ceiling
        const floorMs = r.bytes / (copyGBps * 1e6);
        notes.push(
          `reading the weights at the copy kernel's ${copyGBps.toFixed(2)} GB/s takes ${fmtMs(floorMs)} ms, ${(p.ms!.median / floorMs).toFixed(1)}x under ${p.engine}`,
        );
      }
      out[out.length - 1].note = notes.join('; ');
    }
  }
  for (const engine of ['webgen f32', 'webgen f16']) {
    ratioTarget(
      `GPT-2 124M prefill T=128 (${engine.split(' ').pop()}) vs ORT Web webgpu`,
      find(rows, 'GPT-2 124M', 'prefill T=128', engine),
      find(rows, 'GPT-2 124M', 'prefill T=128', 'ort webgpu'),
      '<= 0.5x time',
      (x) => x <= 0.5,
      false,
    );
  }
  for (const engine of ['webgen f32', 'webgen f16']) {
    ratioTarget(
      `GPT-2 124M decode step ctx=128 (${engine.split(' ').pop()}, KV cache) vs one warm ORT Web wasm full recompute (T=129, no KV cache)`,
      find(rows, 'GPT-2 124M', 'decode step ctx=128', engine),
      find(rows, 'GPT-2 124M', 'full recompute T=129 (no KV cache)', 'ort wasm'),
      '< 1x time',
      (x) => x < 1,
      false,
    );
  }
  // the like-for-like peer: ORT Web wasm's decoder with past, one token against its KV cache
  for (const engine of ['webgen f32', 'webgen f16']) {
    for (const ort of ['ort wasm (KV cache) f32', 'ort wasm (KV cache) int8']) {
      ratioTarget(
        `GPT-2 124M decode step ctx=128 (${engine.split(' ').pop()}) vs ORT Web wasm decode step (KV cache, ${ort.split(' ').pop()} weights)`,
        find(rows, 'GPT-2 124M', 'decode step ctx=128', engine),
        find(rows, 'GPT-2 124M', 'decode step ctx=128', ort),
        '< 1x time',
        (x) => x < 1,
        false,
      );
    }
  }
  // 8-bit weights against f32 in the same run: a step reads a quarter of the bytes (issue 15)
  for (const c of ['decode step ctx=128', 'decode step ctx=512']) {
    ratioTarget(
      `GPT-2 124M ${c}: q8 weights vs f32`,
      find(rows, 'GPT-2 124M', c, 'webgen q8'),
      find(rows, 'GPT-2 124M', c, 'webgen f32'),
      '<= 0.35x time',
      (x) => x <= 0.35,
      false,
    );
  }
  ratioTarget(
    'GPT-2 124M prefill T=128: q8 weights vs f32',
    find(rows, 'GPT-2 124M', 'prefill T=128', 'webgen q8'),
    find(rows, 'GPT-2 124M', 'prefill T=128', 'webgen f32'),
    '<= 1x time',
    (x) => x <= 1,
    false,
  );
  for (const engine of ['webgen']) {
    ratioTarget(
      'DCGAN 64x64 batch 16 vs TF.js WebGPU',
      find(rows, 'GAN generators', 'DCGAN 64x64 batch 16', engine),
      find(rows, 'GAN generators', 'DCGAN 64x64 batch 16', 'tfjs'),
      '<= 0.5x time',
      (x) => x <= 0.5,
      false,
    );
  }
  return out;
}

export function targetsTable(report: Report): string {
  const t = targets(report);
  if (!t.length) return '(no target could be checked in this run)';
  return table(
    ['target', 'webgen', 'peer', 'ratio', 'goal', 'met', 'note'],
    t.map((x) => [
      x.target,
      x.webgen,
      x.peer,
      x.ratio === undefined ? '' : `${x.ratio.toFixed(x.ratio < 10 ? 2 : 1)}x`,
      x.goal,
      x.met === undefined ? '?' : x.met ? 'yes' : 'NO',
      x.note ?? '',
    ]),
  );
}

export function envLines(e: EnvInfo): string {
  const a = e.adapter;
  const lines = [
    `- runtime: ${e.runtime} ${e.version}${e.driver ? ` (WEBGEN_VULKAN=${e.driver})` : ''}`,
    `- adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no adapter info)'}; timestamp-query: ${e.timestamps ? 'yes' : 'no'}; shader-f16: ${e.f16 ? 'yes' : 'no'}`,
  ];
  if (e.cpu) lines.push(`- machine: ${e.cpu}, ${e.cores} cores, ${e.memoryGiB?.toFixed(0)} GiB, ${e.os}`);
  if (e.crossOriginIsolated !== undefined)
    lines.push(`- page: crossOriginIsolated=${e.crossOriginIsolated}, hardwareConcurrency=${e.hardwareConcurrency}`);
  if (e.tfjs)
    lines.push(
      `- TensorFlow.js ${e.tfjs.version} WebGPU backend${e.tfjs.adapter ? ` on ${e.tfjs.adapter}` : ''}${e.tfjs.timestamps !== undefined ? `, timestamp-query: ${e.tfjs.timestamps ? 'yes' : 'no'}` : ''}${e.tfjs.error ? `: ERROR ${e.tfjs.error}` : ''}`,
    );
  if (e.ort) lines.push(`- ONNX Runtime Web ${e.ort.version}`);
  return lines.join('\n');
}

export function pytorchTable(p: any): string {
  if (!p || !p.figures) return p?.error ? `PyTorch reference: ERROR ${p.error}` : '';
  const rows = Object.entries(p.figures as Record<string, { median: number; min: number; max: number; n: number }>).map(([k, f]) => [
    k,
    fmtMs(f.median),
    `${fmtMs(f.min)}-${fmtMs(f.max)}`,
    String(f.n),
  ]);
  return `PyTorch ${p.torch} on the CPU, ${p.threads} threads, f32 (${p.linear === 'fast' ? 'Linear layers on oneDNN for prefill, GEMV for one row' : 'default BLAS'}), the same model as the ONNX export, wall clock:\n\n${table(['case', 'ms (median)', 'min-max', 'n'], rows)}`;
}

/** The whole report of one run as Markdown. */
export function markdown(report: Report, withTargets = true): string {
  const parts = [
    `## ${report.title}`,
    `Command: \`${report.command}\`${report.quick ? ' (quick: fewer rounds, smaller budgets)' : ''}; ${report.started}${report.finished ? ` to ${report.finished}` : ''}`,
    envLines(report.env),
    ...(withTargets ? [`### Targets (ratios within this run)\n\n${targetsTable(report)}`] : []),
    tables(report),
  ];
  const pt = pytorchTable(report.pytorch);
  if (pt) parts.push(`### Native reference\n\n${pt}`);
  return parts.join('\n\n');
}

/** Samples -> Figure, tolerating an empty list (an engine that failed). */
export function maybeFigure(samples: number[]): Figure | undefined {
  return samples.length ? figure(samples) : undefined;
}
