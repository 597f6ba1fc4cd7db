// The Benchmarks tab's worker: bench/'s suites (the same code `npm run bench:browser` runs), so that
// the page stays responsive while they time the GPU. The tab starts it from a blob: URL that imports
// this module, so it runs under the page's Content-Security-Policy (a worker loaded from its own URL
// would get only the policy of its HTTP response: none from a static host). One run per worker: the
// tab ends the worker to stop a run, and starts a new one for the next.
import type { Row } from '../../bench/lib/report.js';
import { envOf, openSession, runSuite, type Session } from '../../bench/suites/index.js';
import type { FromWorker, ToWorker } from './bench_protocol.js';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromWorker) => scope.postMessage(m);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

scope.addEventListener('securitypolicyviolation', (event) => {
  const e = event as SecurityPolicyViolationEvent;
  post({ type: 'csp', violation: `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}` });
});
scope.addEventListener('unhandledrejection', (e) => post({ type: 'error', message: message(e.reason) }));

/**
 * TF.js imports long.js, which compiles a 200-byte WebAssembly module when it loads (a faster 64-bit
 * multiply, for TF.js' string hashes; never used by these benchmarks) inside a try/catch, and uses its
 * JavaScript code when that throws. The page's policy has no 'wasm-unsafe-eval', so the compile is
 * refused and reported as a violation. With `refuse`, WebAssembly's compilers throw here before the
 * browser is asked: long.js takes its fallback and nothing is reported. Nothing else in the worker
 * uses WebAssembly.
 */
function refuseWasm(): void {
  const refused = () => {
    throw new WebAssembly.CompileError("WebAssembly is off in this worker (the page's policy has no 'wasm-unsafe-eval')");
  };
  const W = WebAssembly as unknown as Record<string, unknown>;
  for (const k of ['Module', 'Instance', 'compile', 'instantiate', 'compileStreaming', 'instantiateStreaming', 'validate'])
    Object.defineProperty(W, k, { value: refused, configurable: true, writable: true });
}

/** Passes each row on to the tab as the suite adds it (runSuite puts its rows here). */
class RowSink extends Array<Row> {
  override push(...rows: Row[]): number {
    for (const row of rows) post({ type: 'row', row });
    return super.push(...rows);
  }
}

async function run(msg: ToWorker): Promise<void> {
  if (msg.wasm === 'refuse') refuseWasm();
  const log = (line: string) => post({ type: 'log', line });
  const t0 = performance.now();
  log(msg.opts.noTfjs ? 'Opening a WebGPU device…' : 'Opening a WebGPU device and loading TensorFlow.js WebGPU…');
  let session: Session | undefined;
  try {
    session = await openSession(msg.opts);
    post({
      type: 'env',
      env: {
        ...envOf(session),
        userAgent: navigator.userAgent,
        hardwareConcurrency: navigator.hardwareConcurrency,
        wasm: msg.wasm === 'refuse' ? 'refused' : 'allowed',
      },
    });
    if (session.tfError) log(`TensorFlow.js is not available: ${session.tfError}`);
    log(`Ready in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    for (const name of msg.suites) {
      const t = performance.now();
      log(`${name}:`);
      const rows = await runSuite(session, name, msg.opts, log, new RowSink());
      post({ type: 'suite', name, rows: rows.length, ms: performance.now() - t });
    }
    post({ type: 'done' });
  } catch (e) {
    post({ type: 'error', message: message(e) });
  } finally {
    if (session) {
      session.tf?.tf.engine().reset();
      session.timer.dispose();
      session.gpu.dispose();
    }
  }
}

scope.addEventListener('message', (e: MessageEvent<ToWorker>) => {
  if (e.data?.type === 'run') void run(e.data);
});
