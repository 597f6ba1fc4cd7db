// The suites both runners share (Node on Dawn, and the page in Chromium), and the device set-up they need.
import { Gpu } from '../../src/runtime/device.js';
import type { BenchContext } from '../lib/compete.js';
import type { EnvInfo, Row } from '../lib/report.js';
import { FULL, QUICK } from '../lib/stats.js';
import { GpuTimer } from '../lib/timer.js';
import { loadTfjs, type TfEnv } from '../lib/tfjs.js';
import { runGan } from './gan.js';
import { runGpt2 } from './gpt2.js';
import { runKernels } from './kernels.js';

export const SUITES = { kernels: runKernels, gpt2: runGpt2, gan: runGan } as const;
export type SuiteName = keyof typeof SUITES;

export interface SuiteOptions {
  quick?: boolean;
  filter?: string;
  /** Leave TensorFlow.js out. */
  noTfjs?: boolean;
  /** Leave out src's other kernel paths ("webgen <path>" rows). */
  noVariants?: boolean;
}

export interface Session {
  gpu: Gpu;
  timer: GpuTimer;
  tf?: TfEnv;
  tfError?: string;
}

/** webgen's device (with its timer) and TF.js on the same adapter. */
export async function openSession(opts: SuiteOptions): Promise<Session> {
  const gpu = await Gpu.create();
  const timer = new GpuTimer(gpu.device, gpu.hasTimestamps);
  let tf: TfEnv | undefined;
  let tfError: string | undefined;
  if (!opts.noTfjs) {
    try {
      tf = await loadTfjs();
    } catch (e) {
      tfError = (e as Error).message;
    }
  }
  return { gpu, timer, tf, tfError };
}

export function envOf(s: Session): Pick<EnvInfo, 'adapter' | 'features' | 'timestamps' | 'f16' | 'tfjs'> {
  const { vendor, architecture, device, description } = s.gpu.adapter;
  return {
    adapter: { vendor, architecture, device, description },
    features: [...s.gpu.device.features].map(String).sort(),
    timestamps: s.gpu.hasTimestamps,
    f16: s.gpu.hasF16,
    tfjs: s.tf
      ? { version: s.tf.version, adapter: s.tf.adapter, timestamps: s.tf.timestamps }
      : s.tfError
        ? { version: '4.22.0', error: s.tfError }
        : undefined,
  };
}

/** `rows`: where the suite puts its rows (a caller that shows them as they come passes an array that does so). */
export async function runSuite(
  s: Session,
  name: SuiteName,
  opts: SuiteOptions,
  log: (line: string) => void,
  rows: Row[] = [],
): Promise<Row[]> {
  const quick = !!opts.quick;
  const ctx: BenchContext = {
    gpu: s.gpu,
    timer: s.timer,
    tf: s.tf,
    quick,
    sampling: quick ? QUICK : FULL,
    roundMs: quick ? 30 : 100,
    log,
    rows,
    filter: opts.filter,
    variants: !opts.noVariants,
  };
  await SUITES[name](ctx);
  return ctx.rows;
}
