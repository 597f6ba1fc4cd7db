import template from './sample.wgsl?raw';
import { OptionError } from '../errors.js';
import type { ResolvedSampling } from '../generation/sampling.js';
import type { Binding, Plan } from '../runtime/plan.js';
import type { Kernel } from '../runtime/pipelines.js';
import type { Tensor } from '../runtime/tensor.js';
import { STEP, uniformStruct } from './uniform.js';
import { fill } from './wgsl.js';

const META = uniformStruct('Meta', {
  V: 'u32',
  P: 'u32', // history row stride (n_positions)
  greedy: 'u32',
  topK: 'u32', // 0: off
  topP: 'f32', // 1: off
  invTemperature: 'f32',
  penalty: 'f32', // 1: off
  seed: 'u32',
  logitsRowStride: 'u32', // 0: every row reads logits row 0 (a prompt shared by the batch)
});

export type SampleParams = { readonly vocabSize: number; readonly workgroupSize: number; readonly cap: number };

export const sampleKernel: Kernel<SampleParams> = {
  name: 'sample',
  source: () => fill(template, { META: META.declare(0, 'u'), STEP: STEP.declare(1, 'step') }),
  constants: (p) => ({ WG: p.workgroupSize, SEEN_WORDS: Math.ceil(p.vocabSize / 32), CAP: p.cap }),
};

/**
 * How many kept tokens the gathered path may hold (12 bytes each) in the workgroup storage left by the
 * history bitmap, the two reduction arrays and the 256-bin histogram: 1024, or fewer (a multiple of 32)
 * on a device with less than ~21 KB of it for GPT-2's vocabulary (WebGPU guarantees 16 KB).
 */
export function gatherCapacity(V: number, workgroupSize: number, storageBytes: number): number {
  const fixed = 4 * Math.ceil(V / 32) + 8 * workgroupSize + 4 * 256 + 4;
  return Math.max(32, Math.min(1024, Math.floor((storageBytes - fixed) / 12 / 32) * 32));
}

/** The sampler's Meta for these options; write it into the buffer given to sample(). */
export function samplerMeta(o: ResolvedSampling, V: number, P: number, logitsRowStride: number): Uint32Array<ArrayBuffer> {
  return META.pack({
    V,
    P,
    greedy: o.greedy ? 1 : 0,
    topK: o.topK,
    topP: o.topP,
    invTemperature: o.greedy ? 1 : 1 / o.temperature, // greedy ignores the temperature, as the CPU sampler does
    penalty: o.repetitionPenalty,
    seed: o.seed,
    logitsRowStride,
  });
}

/**
 * Records the choice of one token per row of `logits` ([rows, V], or one row shared by all when the
 * Meta's row stride is 0). `meta` is a uniform buffer holding samplerMeta(); `step` the Step uniform
 * (the history length is pos0 + T). Writes ids[b], out[b] and history[b, pos0 + T].
 */
export async function sample(
  plan: Plan,
  meta: Binding,
  step: Binding,
  logits: Tensor,
  history: Tensor,
  ids: Tensor,
  out: Tensor,
  rows: number,
  V: number,
): Promise<void> {
  if (logits.shape[logits.shape.length - 1] !== V)
    throw new OptionError(`sample: logits "${logits.label}" [${logits.shape.join(', ')}] do not have ${V} columns`);
  for (const [t, n] of [
    [ids, ids.size],
    [out, out.size],
    [history, history.shape[0]],
  ] as const) {
    if (n < rows) throw new OptionError(`sample: ${rows} rows do not fit "${t.label}" [${t.shape.join(', ')}]`);
  }
  const cap = gatherCapacity(V, 256, plan.gpu.limits.maxComputeWorkgroupStorageSize);
  await plan.add(
    sampleKernel,
    { vocabSize: V, workgroupSize: 256, cap },
    [meta, step, logits, history, ids, out],
    [rows],
    'sample',
    (s) => ({
      reads: rows * (V + s.pos0 + s.T) * 4, // logits and the history (the repetition penalty)
      writes: rows * 4 * 3, // ids, out, history
    }),
  );
}
