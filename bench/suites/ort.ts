// ONNX Runtime Web, the peer of the GPT-2 figures in the browser: the same model shape exported from
// PyTorch by tools/export_gpt2_onnx.py (no KV cache: input_ids [1, T] -> logits of the last position),
// on its WebGPU execution provider and on wasm (threads when the page is cross-origin isolated).
// One warm-up run per session and shape, then a few timed runs (each takes seconds to minutes on a
// software adapter): the counts are in the rows.
import { promptIds, GPT2_GROUP } from './gpt2.js';
import { figure } from '../lib/stats.js';
import type { Row } from '../lib/report.js';

export interface OrtOptions {
  /** URL of the .onnx file. */
  model: string;
  providers: ('webgpu' | 'wasm')[];
  /** Timed runs per shape and provider (after one warm-up). */
  runs: { webgpu: number; wasm: number };
  /** Also time the T=129 full step on webgpu (a minute or two per run on SwiftShader). */
  webgpuStep: boolean;
  log: (line: string) => void;
}

export async function runOrt(o: OrtOptions): Promise<{ rows: Row[]; version: string }> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
  const rows: Row[] = [];
  const t0 = performance.now();
  const bytes = new Uint8Array(await (await fetch(o.model)).arrayBuffer());
  o.log(
    `  ORT: fetched ${o.model} (${(bytes.length / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s; wasm threads ${ort.env.wasm.numThreads}`,
  );
  for (const ep of o.providers) {
    const engine = `ort ${ep}`;
    const push = (r: Omit<Row, 'group' | 'engine'>) => {
      const row = { group: GPT2_GROUP, engine, ...r } as Row;
      rows.push(row);
      o.log(`  ${GPT2_GROUP} ${row.case} / ${engine}: ${row.ms ? row.ms.median.toFixed(0) + ' ms' : row.error}`);
    };
    let session: Awaited<ReturnType<typeof ort.InferenceSession.create>> | undefined;
    try {
      let t = performance.now();
      session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all' });
      push({
        case: 'load',
        ms: figure([performance.now() - t]),
        method: 'e2e',
        note: 'InferenceSession.create from the ONNX bytes in memory',
      });
      const cases: { name: string; T: number }[] = [{ name: 'prefill T=128', T: 128 }];
      if (ep === 'wasm' || o.webgpuStep) cases.push({ name: 'full step T=129 (no cache)', T: 129 });
      for (const c of cases) {
        const ids = promptIds(c.T, c.T);
        const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, c.T]) };
        const call = async () => {
          const out = await session!.run(feeds);
          const logits = out.logits;
          const data = (await logits.getData()) as Float32Array;
          if (data.length !== 50257 || !Number.isFinite(data[0]))
            throw new Error(`unexpected logits: ${data.length} values, first ${data[0]}`);
          logits.dispose();
        };
        t = performance.now();
        await call();
        const first = performance.now() - t;
        const samples: number[] = [];
        for (let i = 0; i < o.runs[ep]; i++) {
          t = performance.now();
          await call();
          samples.push(performance.now() - t);
        }
        push({
          case: c.name,
          ms: figure(samples),
          method: 'e2e',
          firstMs: first,
          note: `${samples.length} timed run(s) after 1 warm-up; logits of the last position read back${ep === 'wasm' ? `; ${ort.env.wasm.numThreads} thread(s)` : ''}`,
        });
      }
    } catch (e) {
      push({ case: 'error', error: (e as Error).message.split('\n')[0].slice(0, 300) });
    } finally {
      await session?.release();
    }
  }
  return { rows, version: ort.env.versions?.web ?? '?' };
}
