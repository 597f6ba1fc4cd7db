// The benchmark page for headless Chromium (bench/browser.ts drives it through window.bench): the same
// suites as in Node, plus ONNX Runtime Web. Progress goes to console.log, results back as JSON.
import type { Row } from './lib/report.js';
import { runOrt, type OrtOptions } from './suites/ort.js';
import { envOf, openSession, runSuite, type Session, type SuiteName, type SuiteOptions } from './suites/index.js';

let session: Session | undefined;
const log = (line: string) => {
  console.log(line);
  const pre = document.getElementById('log');
  if (pre) pre.textContent += '\n' + line;
};

const bench = {
  async open(opts: SuiteOptions) {
    session ??= await openSession(opts);
    return {
      ...envOf(session),
      userAgent: navigator.userAgent,
      crossOriginIsolated: self.crossOriginIsolated,
      hardwareConcurrency: navigator.hardwareConcurrency,
    };
  },
  async run(name: SuiteName, opts: SuiteOptions): Promise<Row[]> {
    if (!session) throw new Error('bench.open() first');
    return runSuite(session, name, opts, log);
  },
  /** ONNX Runtime gets the device to itself: webgen's and TF.js' are released first. */
  async ort(opts: Omit<OrtOptions, 'log'>) {
    if (session) {
      session.timer.dispose();
      session.gpu.dispose();
      session.tf?.tf.engine().reset();
      session = undefined;
    }
    return runOrt({ ...opts, log });
  },
};

(window as any).bench = bench;
(window as any).__ready = true;
