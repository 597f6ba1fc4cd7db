import source from './sample.wgsl?raw';
import { OptionError } from '../runtime/errors.js';
import { packMeta, type Binding, type Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { ResolvedSampling } from '../runtime/sampling.js';
import type { Tensor } from '../runtime/tensor.js';

export type SampleParams = { readonly vocabSize: number; readonly workgroupSize: number };

export const sampleKernel: Kernel<SampleParams> = {
  name: 'sample',
  source: () => source,
  constants: (p) => ({ WG: p.workgroupSize, SEEN_WORDS: Math.ceil(p.vocabSize / 32) }),
};

/** The sampler's Meta struct for these options; write it into the buffer given to sample(). */
export function samplerMeta(o: ResolvedSampling, V: number, P: number, logitsRowStride: number): Uint32Array<ArrayBuffer> {
  return packMeta([V, P, o.greedy ? 1 : 0, o.topK, { f32: o.topP }, { f32: 1 / o.temperature }, { f32: o.repetitionPenalty }, o.seed, logitsRowStride]);
}

/**
 * Records the choice of one token per row of `logits` ([rows, V], or one row shared by all when the
 * Meta's row stride is 0). `meta` is a uniform buffer holding samplerMeta(); `step` the model's Step
 * ({pos0, T, B}: the history length is pos0 + T). Writes ids[b], out[b] and history[b, pos0 + T].
 */
export async function sample(plan: Plan, meta: Binding, step: Binding, logits: Tensor, history: Tensor, ids: Tensor, out: Tensor, rows: number, V: number): Promise<void> {
  if (logits.shape[logits.shape.length - 1] !== V) throw new OptionError(`sample: logits [${logits.shape.join(', ')}] do not have ${V} columns`);
  if (ids.size < rows || out.size < rows || history.shape[0] < rows) throw new OptionError(`sample: ${rows} rows do not fit ids/out/history`);
  await plan.add(sampleKernel, { vocabSize: V, workgroupSize: 256 }, [meta, step, logits, history, ids, out], [rows], 'sample');
}
