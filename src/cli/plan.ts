// `webgen plan`: what a decode step (or a prefill) of a GPT-2 dispatches, recorded exactly as
// generation records it: each dispatch's kernel, workgroups and their size, bytes read and written,
// and the time it would take at a bandwidth and a per-dispatch cost you give (default: an H200's
// ~4.8 TB/s and 5 us), with the totals per token against the minimum (the weights and the KV cache
// read once). A model folder, or a published shape with random weights (no download).
import { parseArgs } from 'node:util';
import { GPT2, OptionError, type GPT2Config } from '../index.js';
import { formatPlanReport, planReport } from '../kernels/index.js';
import { GPT2_SHAPES, gpt2Config, randomGPT2 } from '../testing/index.js';

export const PLAN_USAGE = `  plan                            the dispatches of a GPT-2 decode step (or prefill) and their cost
      --model DIR | --shape ${Object.keys(GPT2_SHAPES).join('|')}   (default --shape gpt2, random weights)
      --layers L                      with --shape: only L blocks (each block's dispatches are the same)
      --dtype f32|f16|q8  --batch B (1)  --context N (128: the step's position)  --prompt T (a prefill of T tokens)
      --kernels auto|gpu|software     the kernel shapes to record (default auto: by the adapter)
      --layout auto|kn|nk             the matrices' layout (default auto: nk)
      --bandwidth GB/s (4800)  --dispatch-us US (5)  --json`;

/** Bytes a token must read at least: every weight matrix once (the tied head too), one wpe row, the KV cache to `context`. */
export function minimumBytes(c: GPT2Config, dtype: 'f32' | 'f16' | 'q8', batch: number, context: number): number {
  const { nLayer: L, nEmbd: C, nInner: F, vocabSize: V } = c;
  const matrices = (V * C + L * (C * 3 * C + C * C + C * F + F * C)) * (dtype === 'f16' ? 2 : dtype === 'q8' ? 1 + 2 / 32 : 4); // q8: an int8 and 1/32 of an f16 scale
  const vectors = (L * (4 * C + 3 * C + C + F + C) + 2 * C + C) * 4;
  return matrices + vectors + batch * 2 * L * context * C * 4;
}

export async function runPlan(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      shape: { type: 'string' },
      dtype: { type: 'string' },
      batch: { type: 'string' },
      context: { type: 'string' },
      prompt: { type: 'string' },
      kernels: { type: 'string' },
      layout: { type: 'string' },
      layers: { type: 'string' },
      bandwidth: { type: 'string' },
      'dispatch-us': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const int = (name: string, def: number, min: number) => {
    const s = v[name as keyof typeof v] as string | undefined;
    const n = s === undefined ? def : Number(s);
    if (!Number.isInteger(n) || n < min) throw new OptionError(`--${name} must be an integer >= ${min}, got "${s}"`);
    return n;
  };
  const positive = (name: string, def: number) => {
    const s = v[name as keyof typeof v] as string | undefined;
    const n = s === undefined ? def : Number(s);
    if (!(n > 0) || !Number.isFinite(n)) throw new OptionError(`--${name} must be a number > 0, got "${s}"`);
    return n;
  };
  const dtype = (v.dtype ?? 'f32') as 'f32' | 'f16' | 'q8';
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'q8') throw new OptionError(`--dtype must be f32, f16 or q8, got "${v.dtype}"`);
  const kernels = (v.kernels ?? 'auto') as 'auto' | 'gpu' | 'software';
  if (!['auto', 'gpu', 'software'].includes(kernels)) throw new OptionError(`--kernels must be auto, gpu or software, got "${v.kernels}"`);
  const layout = (v.layout ?? 'auto') as 'auto' | 'kn' | 'nk';
  if (!['auto', 'kn', 'nk'].includes(layout)) throw new OptionError(`--layout must be auto, kn or nk, got "${v.layout}"`);
  const batch = int('batch', 1, 1);
  const context = int('context', 128, 0);
  const prompt = v.prompt === undefined ? undefined : int('prompt', 1, 1);
  const cost = { bandwidthGBs: positive('bandwidth', 4800), dispatchUs: positive('dispatch-us', 5) };
  if (v.model !== undefined && v.shape !== undefined) throw new OptionError('give --model or --shape, not both');
  if (v.model !== undefined && v.layers !== undefined) throw new OptionError('--layers goes with --shape, not --model');
  let lm: GPT2;
  let name: string;
  if (v.model !== undefined) {
    lm = await GPT2.load(v.model, { dtype, kernels, layout });
    name = v.model;
  } else {
    const shape = v.shape ?? 'gpt2';
    if (!(shape in GPT2_SHAPES)) throw new OptionError(`--shape must be one of ${Object.keys(GPT2_SHAPES).join(', ')}, got "${shape}"`);
    const layers = v.layers === undefined ? undefined : int('layers', 1, 1);
    const config = gpt2Config(shape as keyof typeof GPT2_SHAPES, layers === undefined ? {} : { nLayer: layers });
    lm = await GPT2.fromSafetensors(randomGPT2(config), config, { dtype, kernels, layout });
    name = `${shape} (random weights)`;
  }
  try {
    const c = lm.config;
    if (context + 1 > c.nPositions) throw new OptionError(`--context must be < n_positions = ${c.nPositions}, got ${context}`);
    const dispatches = await lm.stepper.dispatches({ batch, prompt });
    const step = prompt === undefined ? { pos0: context, T: 1, B: batch } : { pos0: 0, T: prompt, B: batch };
    const r = planReport(dispatches, step, cost);
    const min = minimumBytes(c, dtype, batch, prompt === undefined ? context + 1 : prompt);
    const perLayer =
      r.rows.filter((d) => /^(layernorm|matmul|attention|kv_store)/.test(d.label) && !/ln_f|lnf|wte/.test(d.label)).length / c.nLayer;
    const what =
      prompt === undefined ? `decode step at position ${context}, batch ${batch}` : `prefill of ${prompt} tokens, batch ${batch}`;
    if (v.json) {
      console.log(
        JSON.stringify({
          model: name,
          dtype,
          kernels: lm.kernels,
          layout: lm.layout,
          adapter: lm.gpu.adapter.description,
          what,
          cost,
          ...r,
          minimumBytes: min,
        }),
      );
      return 0;
    }
    console.log(
      `${name}, ${dtype} weights [${lm.layout}], ${lm.kernels} kernel shapes (adapter: ${lm.gpu.adapter.description || 'unnamed'}): ${what}`,
    );
    console.log(formatPlanReport(r));
    const minUs = min / (cost.bandwidthGBs * 1e3);
    console.log(
      `per layer: ${perLayer} dispatches; ${r.dispatches - perLayer * c.nLayer} for embedding, final norm, head and sampling\n` +
        `at ${cost.bandwidthGBs} GB/s and ${cost.dispatchUs} us per dispatch: ${r.us.toFixed(1)} us per step; ` +
        `the bytes alone: ${((r.reads + r.writes) / (cost.bandwidthGBs * 1e3)).toFixed(1)} us; ` +
        `the minimum (weights and KV cache read once, ${(min / 1e6).toFixed(1)} MB): ${minUs.toFixed(1)} us (${(r.us / minUs).toFixed(2)}x)`,
    );
    return 0;
  } finally {
    lm.dispose();
  }
}
