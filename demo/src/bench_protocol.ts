// The messages between the Benchmarks tab and its worker (bench_worker.ts), which runs bench/'s suites.
import type { EnvInfo, Row } from '../../bench/lib/report.js';
import type { SuiteName, SuiteOptions } from '../../bench/suites/index.js';

export type { EnvInfo, Row, SuiteName, SuiteOptions };

/** What the worker's session reports about itself: envOf() and the browser. */
export type BenchEnv = Pick<EnvInfo, 'adapter' | 'features' | 'timestamps' | 'f16' | 'tfjs'> & {
  userAgent: string;
  hardwareConcurrency: number;
  /** What long.js (inside TF.js) met: see bench_worker.ts. */
  wasm: 'allowed' | 'refused';
};

export type ToWorker = {
  type: 'run';
  suites: SuiteName[];
  opts: SuiteOptions;
  /** 'refuse': WebAssembly's compilers throw in the worker before the browser's policy is asked (bench_worker.ts). */
  wasm: 'allow' | 'refuse';
};

export type FromWorker =
  | { type: 'log'; line: string }
  | { type: 'env'; env: BenchEnv }
  | { type: 'row'; row: Row }
  | { type: 'suite'; name: SuiteName; rows: number; ms: number }
  | { type: 'done' }
  | { type: 'error'; message: string }
  /** A Content-Security-Policy violation inside the worker (it runs under the page's policy). */
  | { type: 'csp'; violation: string };
