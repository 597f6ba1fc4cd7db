// ONNX Runtime Web, the peer of the GPT-2 figures in the browser: the same model shape (same random
// weights) exported from PyTorch by tools/export_gpt2_onnx.py, in two graphs:
//  - the plain export (input_ids [1, T] -> logits of the last position, no KV cache) on the WebGPU and
//    wasm execution providers: prefill T=128, and a full recompute of 129 tokens, which is what a decode
//    step costs a page that uses a plain export (not comparable to a cached step);
//  - the decoder with past (one token a call, past_key/value.i [1, nh, S, hd] in, present out), f32 and
//    ONNX Runtime's dynamic int8 quantization of it, on wasm: decode steps at the positions of webgen's
//    decode rows, after many warm-up steps (ORT's step time settles slowly), as rows of the same cases.
// wasm runs on threads when the page is cross-origin isolated. The counts are in the rows' notes.
import { promptIds, GPT2_GROUP } from './gpt2.js';
import { figure } from '../lib/stats.js';
import type { Row } from '../lib/report.js';

/** The graphs: plain (no cache), decoder with past in f32, the same in int8. */
export type OrtModel = 'plain' | 'past' | 'past-int8';

/** The no-cache step's case: the whole sequence recomputed for one token. */
export const RECOMPUTE_CASE = 'full recompute T=129 (no KV cache)';

export interface OrtVariant {
  engine: string;
  ep: 'webgpu' | 'wasm';
  model: OrtModel;
  cases: string[];
}

/** Warm-up steps before a timed KV-cached step (at least; ctx=128 feeds the whole prompt as warm-up). */
export const KV_WARMUP = 75;

/** What an ORT run times, its --filter applied to "GPT-2 124M <engine> <case>" (the runner exports what this needs). */
export function ortVariants(o: { quick: boolean; webgpuStep: boolean; filter?: string }): OrtVariant[] {
  const decode = ['decode step ctx=128', ...(o.quick ? [] : ['decode step ctx=512'])];
  const all: OrtVariant[] = [
    ...(o.quick
      ? []
      : [
          {
            engine: 'ort webgpu',
            ep: 'webgpu',
            model: 'plain',
            cases: ['prefill T=128', ...(o.webgpuStep ? [RECOMPUTE_CASE] : [])],
          } satisfies OrtVariant,
        ]),
    { engine: 'ort wasm', ep: 'wasm', model: 'plain', cases: ['prefill T=128', RECOMPUTE_CASE] },
    { engine: 'ort wasm (KV cache) f32', ep: 'wasm', model: 'past', cases: decode },
    { engine: 'ort wasm (KV cache) int8', ep: 'wasm', model: 'past-int8', cases: decode },
  ];
  const want = (name: string) => {
    if (!o.filter) return true;
    try {
      return new RegExp(o.filter, 'i').test(name);
    } catch {
      return name.includes(o.filter);
    }
  };
  return all.map((v) => ({ ...v, cases: v.cases.filter((c) => want(`${GPT2_GROUP} ${v.engine} ${c}`)) })).filter((v) => v.cases.length > 0);
}

export interface OrtOptions {
  variants: OrtVariant[];
  /** URL of each graph's .onnx file, or why there is none (an error row). */
  models: Partial<Record<OrtModel, { url: string } | { error: string }>>;
  /** Timed runs per shape (plain graph) after one warm-up. */
  runs: { webgpu: number; wasm: number };
  /** Timed KV-cached decode steps per context. */
  decodeSteps: number;
  log: (line: string) => void;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export async function runOrt(o: OrtOptions): Promise<{ rows: Row[]; version: string }> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
  const threads = ort.env.wasm.numThreads;
  type Session = Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  type Tensor = InstanceType<typeof ort.Tensor>;
  const rows: Row[] = [];
  const fetched = new Map<string, Uint8Array>();
  const bytesOf = async (url: string) => {
    let b = fetched.get(url);
    if (!b) {
      const t0 = performance.now();
      b = new Uint8Array(await (await fetch(url)).arrayBuffer());
      o.log(
        `  ORT: fetched ${url} (${(b.length / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s; wasm threads ${threads}`,
      );
      fetched.clear(); // one graph in memory at a time
      fetched.set(url, b);
    }
    return b;
  };
  for (const v of o.variants) {
    const push = (r: Omit<Row, 'group' | 'engine'>) => {
      const row = { group: GPT2_GROUP, engine: v.engine, ...r } as Row;
      rows.push(row);
      o.log(`  ${GPT2_GROUP} ${row.case} / ${v.engine}: ${row.ms ? row.ms.median.toFixed(1) + ' ms' : row.error}`);
    };
    const m = o.models[v.model];
    if (!m || 'error' in m) {
      push({ case: 'error', error: m ? m.error : `no ${v.model} graph` });
      continue;
    }
    let session: Session | undefined;
    try {
      const bytes = await bytesOf(m.url);
      let t = performance.now();
      session = await ort.InferenceSession.create(bytes, { executionProviders: [v.ep], graphOptimizationLevel: 'all' });
      push({
        case: 'load',
        ms: figure([performance.now() - t]),
        method: 'e2e',
        note: `InferenceSession.create from the ONNX bytes in memory (${(bytes.length / 2 ** 20).toFixed(0)} MiB)`,
      });
      const s = session;
      if (v.model === 'plain') {
        for (const c of v.cases) {
          const T = c === RECOMPUTE_CASE ? 129 : 128;
          const ids = promptIds(T, T);
          const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, T]) };
          const call = async () => {
            const out = await s.run(feeds);
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
          for (let i = 0; i < o.runs[v.ep]; i++) {
            t = performance.now();
            await call();
            samples.push(performance.now() - t);
          }
          const threadNote = v.ep === 'wasm' ? `; ${threads} thread(s)` : '';
          push({
            case: c,
            ms: figure(samples),
            method: 'e2e',
            firstMs: first,
            note:
              c === RECOMPUTE_CASE
                ? `the plain export has no KV cache: one new token costs a forward of all 129 tokens (not comparable to a cached decode step); ${samples.length} timed run(s) after 1 warm-up${threadNote}`
                : `${samples.length} timed run(s) after 1 warm-up; logits of the last position read back${threadNote}`,
          });
        }
        continue;
      }
      // the decoder with past: one token a call, the presents fed back as the next call's past
      const pastNames = s.inputNames.filter((n) => n !== 'input_ids');
      const meta = s.inputMetadata.find((x) => x.name === pastNames[0]);
      const shape = meta && meta.isTensor ? meta.shape : [];
      const nh = Number(shape[1]);
      const hd = Number(shape[3]);
      if (!pastNames.length || !(nh > 0) || !(hd > 0)) throw new Error(`not a decoder with past: inputs ${s.inputNames.join(', ')}`);
      let past: Tensor[] = [];
      let S = 0;
      const reset = (len: number) => {
        past = pastNames.map(() => new ort.Tensor('float32', new Float32Array(nh * len * hd), [1, nh, len, hd]));
        S = len;
      };
      const step = async (token: number): Promise<number> => {
        const feeds: Record<string, Tensor> = { input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(token)), [1, 1]) };
        pastNames.forEach((n, i) => (feeds[n] = past[i]));
        const out = await s.run(feeds);
        const logits = (await out.logits.getData()) as Float32Array;
        if (logits.length !== 50257 || !Number.isFinite(logits[0]))
          throw new Error(`unexpected logits: ${logits.length} values, first ${logits[0]}`);
        past = pastNames.map((n) => out[n.replace(/^past/, 'present')]);
        S++;
        if (past.some((p) => !p || p.dims[2] !== S)) throw new Error(`the presents are not [1, ${nh}, ${S}, ${hd}]`);
        return argmax(logits); // greedy, as webgen's decode rows
      };
      for (const c of v.cases) {
        const ctx = Number(/ctx=(\d+)/.exec(c)![1]);
        let token: number;
        let warm = 0;
        let firstMs: number | undefined;
        let how: string;
        if (ctx === 128) {
          // as webgen's row: the 128-token prompt (fed one token a call here: the graph has no prefill),
          // one more step at position 128, then the timed steps from 129
          reset(0);
          t = performance.now();
          const prompt = promptIds(128, 128);
          token = await step(prompt[0]);
          firstMs = performance.now() - t; // the first call: ORT's buffers and kernels set up
          for (const id of prompt.slice(1)) token = await step(id);
          token = await step(token);
          warm = prompt.length + 1;
          how = `the 128-token prompt fed one token a call, then 1 step: ${warm} warm-up steps`;
        } else {
          // as webgen's row (its position moved to 511 after the prefill): the timed steps from position
          // `ctx`, after KV_WARMUP steps on a cache whose first rows hold zeros (same work)
          reset(ctx - KV_WARMUP);
          token = promptIds(1, ctx)[0];
          for (let i = 0; i < KV_WARMUP; i++) token = await step(token);
          warm = KV_WARMUP;
          how = `${KV_WARMUP} warm-up steps from a cache of ${ctx - KV_WARMUP} zero rows (same work)`;
        }
        const p0 = S;
        const samples: number[] = [];
        for (let i = 0; i < o.decodeSteps; i++) {
          t = performance.now();
          token = await step(token);
          samples.push(performance.now() - t);
        }
        push({
          case: c,
          ms: figure(samples),
          method: 'e2e',
          firstMs,
          note:
            `${samples.length} steps at positions ${p0}..${S - 1}, after ${how}; one token against the KV cache, ` +
            `${pastNames.length} past tensors in and presents out (copied between JS and the wasm heap each call), ` +
            `logits read back, greedy argmax in JS; ${threads} thread(s)`,
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
