// One benchmark case: several contenders (webgen's kernel, the peer's op, the copy ceiling) set up,
// checked, warmed up, then timed in interleaved rounds; each becomes a Row.
import type { Gpu } from '../../src/runtime/device.js';
import { Plan } from '../../src/runtime/plan.js';
import type { CheckResult } from './check.js';
import { maybeFigure, type Method, type Row } from './report.js';
import { interleave, type SampleOptions } from './stats.js';
import { GpuTimer, passesFor } from './timer.js';
import { tfRun, type TfEnv } from './tfjs.js';
import type * as TF from '@tensorflow/tfjs-core';

export interface BenchContext {
  gpu: Gpu;
  timer: GpuTimer;
  tf?: TfEnv;
  quick: boolean;
  sampling: SampleOptions;
  /** Milliseconds one kernel round aims at (iterations are chosen from a first run). */
  roundMs: number;
  log: (line: string) => void;
  rows: Row[];
  /** Also time src's other kernel paths for the same op ("webgen <path>" rows). */
  variants: boolean;
  /** Case-name filter (substring or regexp source); undefined: everything. */
  filter?: string;
}

export interface Run {
  gpuMs?: number;
  wallMs: number;
}

export interface Contender {
  engine: string;
  /** Uploads, records and runs once; returns the ms of all that (the first call, with pipeline creation). */
  setup(): Promise<number>;
  /** Checks the output of setup's run. */
  check?(): Promise<CheckResult>;
  /** One timed batch of `iterations`. */
  run(iterations: number): Promise<Run>;
  dispose(): void;
  note?: string;
  /** How run() measures (default: timestamps where the run returns them, else wall). */
  method?: Method;
}

export function wanted(ctx: BenchContext, name: string): boolean {
  if (!ctx.filter) return true;
  try {
    return new RegExp(ctx.filter, 'i').test(name);
  } catch {
    return name.includes(ctx.filter);
  }
}

/** An iteration this slow (ms) is timed in fewer rounds (software adapters at prefill shapes). */
const SLOW_MS = 4000;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);

/**
 * Checks, warms up and times `contenders` in interleaved rounds. `minRounds` keeps a slow case that a
 * target is judged on from dropping to the one or two rounds slow cases get (full runs only).
 */
export async function compete(
  ctx: BenchContext,
  group: string,
  caseName: string,
  work: { flops?: number; bytes?: number },
  contenders: Contender[],
  opts: { minRounds?: number } = {},
): Promise<Row[]> {
  if (!wanted(ctx, `${group} ${caseName}`)) {
    for (const c of contenders) c.dispose();
    return [];
  }
  const rows: Row[] = [];
  const live: { c: Contender; row: Row; iters: number; estMs: number; gpu: (number | undefined)[]; wall: number[] }[] = [];
  for (const c of contenders) {
    const row: Row = { group, case: caseName, engine: c.engine, ...work, note: c.note };
    rows.push(row);
    try {
      row.firstMs = await c.setup();
      if (c.check) {
        const r = await c.check();
        if (!r.ok) throw new Error(`wrong result (${r.firstBad}; max rel err ${r.relErr.toExponential(1)})`);
        row.note = [row.note, `checked, rel err ${r.relErr.toExponential(0)}`].filter(Boolean).join('; ');
      }
      // a second warm-up and the estimate of one iteration; a first call of seconds is warm-up enough
      const estMs = row.firstMs > SLOW_MS ? row.firstMs : await c.run(1).then((est) => Math.max(est.gpuMs ?? 0, est.wallMs));
      live.push({ c, row, iters: passesFor(estMs, ctx.roundMs, 32), estMs, gpu: [], wall: [] });
    } catch (e) {
      row.error = message(e);
      ctx.log(`  ${caseName} / ${c.engine}: ERROR ${row.error}`);
      c.dispose();
    }
  }
  // slow cases (a round of all contenders over ~1.5 s: TF.js at prefill shapes on a CPU adapter) get fewer rounds
  const roundMs = live.reduce((a, l) => a + l.iters * l.estMs, 0);
  let sampling =
    roundMs > 1500
      ? {
          ...ctx.sampling,
          minRounds: Math.min(ctx.sampling.minRounds, ctx.quick || roundMs > 4 * SLOW_MS ? 1 : roundMs > 2 * SLOW_MS ? 2 : 3),
        }
      : ctx.sampling;
  if (opts.minRounds && !ctx.quick)
    sampling = {
      ...sampling,
      minRounds: Math.max(sampling.minRounds, opts.minRounds),
      maxRounds: Math.max(sampling.maxRounds, opts.minRounds),
    };
  const t0 = performance.now();
  await interleave(
    live.map((l) => async () => {
      const r = await l.c.run(l.iters);
      l.gpu.push(r.gpuMs);
      l.wall.push(r.wallMs);
      return r.gpuMs ?? r.wallMs;
    }),
    sampling,
  ).catch((e) => {
    for (const l of live) l.row.error ??= message(e);
  });
  for (const l of live) {
    const gpuAll = l.gpu.length > 0 && l.gpu.every((x) => x !== undefined);
    const method: Method = l.c.method ?? (gpuAll ? 'timestamp' : 'wall');
    l.row.ms = maybeFigure(gpuAll ? (l.gpu as number[]) : l.wall);
    l.row.method = method;
    if (gpuAll) l.row.wallMs = maybeFigure(l.wall);
    l.c.dispose();
  }
  const spent = performance.now() - t0;
  ctx.log(
    `  ${group} ${caseName}: ${rows.map((r) => `${r.engine} ${r.ms ? r.ms.median.toPrecision(3) + ' ms' : 'ERROR'}`).join(', ')} (${(spent / 1000).toFixed(1)} s)`,
  );
  ctx.rows.push(...rows);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Contenders

/** Encodes a recorded plan's dispatches into an open pass (the timer owns the pass and its timestamps). */
export function encodeInto(pass: GPUComputePassEncoder, plan: Plan): void {
  for (const d of plan.dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
}

/** webgen: a plan recorded by `record` (its kernels, as the models record them), timed by the GpuTimer. */
export function webgenContender(
  ctx: BenchContext,
  engine: string,
  record: (plan: Plan) => Promise<void>,
  opts: { check?: () => Promise<CheckResult>; dispose?: () => void; note?: string; gpu?: Gpu; timer?: GpuTimer } = {},
): Contender {
  const gpu = opts.gpu ?? ctx.gpu;
  const timer = opts.timer ?? ctx.timer;
  let plan: Plan | undefined;
  return {
    engine,
    note: opts.note,
    async setup() {
      const t0 = performance.now();
      plan = new Plan(gpu, engine);
      await gpu.checked(engine, () => record(plan!));
      const p = plan;
      await gpu.checked(engine, () => timer.run(1, (pass) => encodeInto(pass, p)));
      return performance.now() - t0;
    },
    check: opts.check,
    run: (n) => timer.run(n, (pass) => encodeInto(pass, plan!)),
    dispose() {
      plan?.dispose();
      opts.dispose?.();
    },
  };
}

/** TF.js: `op` on tensors made by `make` (uploaded during setup). */
export function tfContender<T>(
  ctx: BenchContext,
  engine: string,
  make: (tf: TfEnv['tf']) => T,
  op: (tf: TfEnv['tf'], inputs: T) => TF.Tensor,
  opts: { check?: (out: Float32Array) => CheckResult; dispose?: (inputs: T) => void; note?: string } = {},
): Contender {
  const env = ctx.tf!;
  let inputs: T | undefined;
  let first: Float32Array | undefined;
  return {
    engine,
    note: opts.note,
    async setup() {
      if (!env) throw new Error('TensorFlow.js is not available');
      inputs = make(env.tf);
      const t0 = performance.now();
      const out = op(env.tf, inputs);
      first = (await out.data()) as Float32Array;
      out.dispose();
      return performance.now() - t0;
    },
    check: opts.check ? async () => opts.check!(first!) : undefined,
    run: (n) => tfRun(env, () => op(env.tf, inputs!), n),
    dispose() {
      if (inputs !== undefined) {
        if (opts.dispose) opts.dispose(inputs);
        else disposeAll(inputs);
      }
      inputs = undefined;
      first = undefined;
    },
  };
}

function disposeAll(x: unknown): void {
  if (!x) return;
  if (Array.isArray(x)) for (const t of x) disposeAll(t);
  else if (typeof (x as TF.Tensor).dispose === 'function') (x as TF.Tensor).dispose();
  else if (typeof x === 'object') for (const v of Object.values(x as object)) disposeAll(v);
}

/** A user-visible call, timed by the wall clock from the call to its result on the CPU. */
export function e2eContender(
  engine: string,
  setup: () => Promise<void>,
  call: () => Promise<void>,
  opts: { check?: () => Promise<CheckResult>; dispose?: () => void; note?: string } = {},
): Contender {
  return {
    engine,
    note: opts.note,
    method: 'e2e',
    async setup() {
      await setup();
      const t0 = performance.now();
      await call();
      return performance.now() - t0;
    },
    check: opts.check,
    async run(n) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await call();
      return { wallMs: (performance.now() - t0) / n };
    },
    dispose: () => opts.dispose?.(),
  };
}
