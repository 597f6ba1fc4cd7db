// GPT-2 124M shape with random weights made in memory: load, prefill, decode steps with the KV cache
// and GPU memory, in f32, f16 and q8 (int8, quantized at load) weights, through the public model API (GPT2 + its token stepper), wall
// clock of each user-visible call (the sampled token read back).
import { GPT2 } from '../../src/models/gpt2.js';
import { gpt2Config, randomGPT2 } from '../../src/testing/index.js';
import { Gpu } from '../../src/runtime/device.js';
import { resolveSampling } from '../../src/generation/sampling.js';
import { wanted, type BenchContext } from '../lib/compete.js';
import { figure } from '../lib/stats.js';
import type { Row } from '../lib/report.js';

export const GPT2_GROUP = 'GPT-2 124M';

/** Deterministic token ids (any ids give the same work). */
export function promptIds(n: number, seed = 1): number[] {
  const ids: number[] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    ids.push(s % 50000);
  }
  return ids;
}

const MiB = 2 ** 20;

export async function runGpt2(ctx: BenchContext): Promise<void> {
  const cfg = gpt2Config('gpt2');
  const V = cfg.vocabSize;
  const sampling = resolveSampling({ greedy: true, seed: 1 }, V);
  const loads = ctx.quick ? 1 : 3;
  let prefillRounds = ctx.quick ? { min: 1, max: 2 } : { min: 3, max: 8 };
  let decodeSteps = ctx.quick ? 4 : 16;
  for (const dtype of ['f32', 'f16', 'q8'] as const) {
    const engine = `webgen ${dtype}`;
    if (!wanted(ctx, `${GPT2_GROUP} ${engine}`)) continue;
    const rows: Row[] = [];
    const push = (r: Omit<Row, 'group' | 'engine'> & { engine?: string }) => {
      const row = { group: GPT2_GROUP, engine, ...r } as Row;
      rows.push(row);
      ctx.rows.push(row);
      ctx.log(
        `  ${GPT2_GROUP} ${row.case} / ${row.engine}: ${row.ms ? row.ms.median.toFixed(1) + ' ms' : row.value !== undefined ? row.value.toFixed(1) + ' ' + row.unit : row.error}`,
      );
    };
    let t = performance.now();
    const st = randomGPT2(cfg, 1, dtype === 'f16' ? 'F16' : 'F32');
    const makeMs = performance.now() - t;
    // a device of its own: clean memory figures, and pipelines created (and timed) for this model alone
    const gpu = await Gpu.create();
    let lm: GPT2 | undefined;
    try {
      const loadMs: number[] = [];
      let weightBytes = 0;
      for (let i = 0; i < loads; i++) {
        lm?.dispose();
        t = performance.now();
        lm = await GPT2.fromSafetensors(st, cfg, { dtype, gpu });
        await gpu.device.queue.onSubmittedWorkDone();
        loadMs.push(performance.now() - t);
        weightBytes = gpu.memory().liveBytes;
      }
      push({
        case: 'load',
        ms: figure(loadMs),
        method: 'e2e',
        note: `from a ${dtype === 'f16' ? 'F16' : 'F32'} safetensors in memory (made in ${(makeMs / 1000).toFixed(1)} s, not counted)${dtype === 'q8' ? ', quantized at load' : ''}`,
      });
      push({ case: 'GPU memory: weights', value: weightBytes / MiB, unit: 'MiB' });
      const model = lm!;
      const stepper = model.stepper;
      // prefill T=128, then decode steps at context 128; then the same steps at context 512, reached by
      // moving the stepper's position (a 512-token prefill takes minutes on a software adapter): the
      // cache rows 128..511 then hold zeros instead of keys, and the step does the same work.
      const T = 128;
      const ids = promptIds(T, T);
      const p0 = gpu.pipelines.created;
      t = performance.now();
      await stepper.start(ids, 1, sampling);
      const firstPrefill = performance.now() - t;
      const created = gpu.pipelines.created - p0;
      // a prefill of tens of seconds (SwiftShader): one timed run after the first, fewer decode steps
      const slow = firstPrefill > 20_000;
      if (slow) {
        prefillRounds = { min: ctx.quick ? 0 : 1, max: ctx.quick ? 0 : 1 };
        decodeSteps = Math.min(decodeSteps, 8);
      }
      const prefill: number[] = [];
      const tEnd = performance.now() + ctx.sampling.budgetMs * 2;
      for (let r = 0; r < prefillRounds.max && (r < prefillRounds.min || performance.now() < tEnd); r++) {
        t = performance.now();
        await stepper.start(ids, 1, sampling);
        prefill.push(performance.now() - t);
      }
      push({
        case: `prefill T=${T}`,
        ms: figure(prefill.length ? prefill : [firstPrefill]), // a quick run on a slow adapter: the first call
        method: 'e2e',
        firstMs: firstPrefill,
        note: `forward of ${T} tokens + LM head (last row) + sampling + id read back; the first call records the plan${created ? ` and creates ${created} pipelines` : ''}`,
      });
      // `from`: the position of the first timed step (the warm-up step runs at from - 1)
      const decode = async (ctxLen: number, from: number, first: boolean) => {
        t = performance.now();
        await stepper.next(); // warm-up (the first one records the decode plan)
        const firstMs = performance.now() - t;
        const steps: number[] = [];
        for (let i = 0; i < decodeSteps; i++) {
          t = performance.now();
          await stepper.next();
          steps.push(performance.now() - t);
        }
        push({
          case: `decode step ctx=${ctxLen}`,
          ms: figure(steps),
          method: 'e2e',
          firstMs: first ? firstMs : undefined,
          note:
            `${decodeSteps} steps at positions ${from}..${from + decodeSteps - 1}, after one warm-up step; one token against the KV cache: one command buffer, 4 bytes read back` +
            (ctxLen > T
              ? `; context reached by moving the position after a ${T}-token prefill (cache rows ${T}..${ctxLen - 1} are zeros, same work)`
              : ''),
        });
      };
      await decode(T, T + 1, true); // the warm-up step at position T = 128, right after the prompt
      if (!ctx.quick) {
        stepper.seek(511); // the warm-up step at 511, the timed ones from 512: ORT's cached steps' positions (suites/ort.ts)
        await decode(512, 512, false);
      }
      stepper.end();
      const mem = gpu.memory();
      push({
        case: 'GPU memory: total',
        value: mem.liveBytes / MiB,
        unit: 'MiB',
        note: `weights + activations + KV cache (1 x 1024 positions) + plans; peak ${(mem.peakBytes / MiB).toFixed(0)} MiB`,
      });
    } catch (e) {
      push({ case: 'error', error: (e as Error).message.split('\n')[0] });
    } finally {
      lm?.dispose();
      gpu.dispose();
    }
  }
}
