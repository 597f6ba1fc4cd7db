// GPT-2's side of generation: the forward pass and the sampler recorded once per shape, so each
// token costs one uniform write, one command buffer and a 4-byte-per-sequence read back.
import { matmul } from '../kernels/matmul/index.js';
import { sample, samplerMeta } from '../kernels/sample.js';
import { DisposedError, OptionError } from '../errors.js';
import type { TokenStepper } from '../generation/generate.js';
import { Plan } from '../runtime/plan.js';
import type { ResolvedSampling } from '../generation/sampling.js';
import { Tensor } from '../runtime/tensor.js';
import type { GPT2 } from './gpt2.js';

/** Buffers and recorded plans for one batch size. */
interface Session {
  batch: number;
  ids: Tensor; // [max(P, B)] u32: the prompt, then each step's sampled tokens (written by the sampler)
  history: Tensor; // [B, P] u32: prompt + generated tokens, for the repetition penalty
  logits: Tensor; // [B, V] logits of each sequence's last position
  out: Tensor; // [B] u32 chosen ids
  staging: GPUBuffer; // MAP_READ copy of out
  prefillMeta: GPUBuffer; // sampler Meta reading logits row 0 for every sequence
  decodeMeta: GPUBuffer; // sampler Meta reading one row per sequence
  decode?: Plan;
  prefill: Map<number, Plan>; // by prompt length
}

const MAX_PREFILL_PLANS = 4;

export class GPT2Stepper implements TokenStepper {
  private sessions = new Map<number, Session>();
  private current?: Session;
  private pos = 0;

  constructor(private readonly lm: GPT2) {
    lm.onInvalidate = () => this.dropPlans();
  }

  get vocabSize(): number {
    return this.lm.config.vocabSize;
  }

  get contextLength(): number {
    return this.lm.config.nPositions;
  }

  async start(promptIds: readonly number[], batch: number, sampling: ResolvedSampling): Promise<number[]> {
    if (this.lm.isDisposed) throw new DisposedError('the model was disposed');
    const T = this.lm.checkIds(promptIds);
    const { vocabSize: V, nPositions: P } = this.lm.config;
    const acts = this.lm.activations(Math.max(T, batch));
    const s = this.session(batch);
    const q = this.lm.gpu.device.queue;
    q.writeBuffer(s.prefillMeta, 0, samplerMeta(sampling, V, P, 0));
    q.writeBuffer(s.decodeMeta, 0, samplerMeta(sampling, V, P, V));
    const hist = new Uint32Array(batch * P);
    for (let b = 0; b < batch; b++) hist.set(promptIds, b * P);
    s.history.write(hist);
    this.lm.writeIds(s.ids, promptIds);
    let plan = s.prefill.get(T);
    if (!plan) {
      plan = new Plan(this.lm.gpu, `gpt2.prefill T=${T} B=${batch}`);
      const cache = this.lm.cache(batch, 'generate');
      await this.lm.recordBody(plan, acts, cache, T, this.lm.config.nLayer, true, batch, s.ids); // k, v -> cache slots 0..B-1
      await matmul(plan, acts.h, this.lm.weights.head, s.logits, { layout: 'nk', xRowOffset: T - 1, rows: 1 }); // logits[0]: [V]
      await sample(plan, s.prefillMeta, this.lm.step, s.logits, s.history, s.ids, s.out, batch, V); // ids[b]
      if (s.prefill.size >= MAX_PREFILL_PLANS) this.evictPrefill(s);
      s.prefill.set(T, plan);
    }
    this.current = s;
    this.pos = T;
    this.lm.writeStep(0, T, 1);
    return this.run(plan, s);
  }

  async next(): Promise<number[]> {
    const s = this.current;
    if (!s) throw new OptionError('next() before start()');
    if (this.pos >= this.lm.config.nPositions) throw new OptionError(`the context of ${this.lm.config.nPositions} positions is full`);
    if (!s.decode) {
      const acts = this.lm.activations(s.batch);
      const plan = new Plan(this.lm.gpu, `gpt2.decode B=${s.batch}`);
      const cache = this.lm.cache(s.batch, 'generate');
      await this.lm.recordBody(plan, acts, cache, s.batch, this.lm.config.nLayer, true, 1, s.ids); // one row per sequence
      await matmul(plan, acts.h, this.lm.weights.head, s.logits, { layout: 'nk', rows: s.batch }); // logits: [B, V]
      await sample(plan, s.decodeMeta, this.lm.step, s.logits, s.history, s.ids, s.out, s.batch, this.vocabSize);
      s.decode = plan;
    }
    this.lm.writeStep(this.pos, 1, s.batch);
    this.pos++;
    return this.run(s.decode, s);
  }

  /** The logits of each sequence's last step, [B, V] (for checks; the generation loop never reads them). */
  async lastLogits(): Promise<Float32Array> {
    const s = this.current;
    if (!s) throw new OptionError('lastLogits() before start()');
    return new Float32Array(await this.lm.gpu.read(s.logits.buffer, s.batch * this.vocabSize * 4));
  }

  end(): void {
    this.current = undefined;
  }

  private async run(plan: Plan, s: Session): Promise<number[]> {
    const gpu = this.lm.gpu;
    const enc = gpu.device.createCommandEncoder({ label: plan.label });
    plan.encode(enc);
    enc.copyBufferToBuffer(s.out.buffer, 0, s.staging, 0, s.batch * 4);
    gpu.submit([enc.finish()]);
    await s.staging.mapAsync(GPUMapMode.READ, 0, s.batch * 4);
    const ids = Array.from(new Uint32Array(s.staging.getMappedRange(0, s.batch * 4)));
    s.staging.unmap();
    return ids;
  }

  private session(batch: number): Session {
    let s = this.sessions.get(batch);
    if (s) return s;
    const g = this.lm.gpu;
    const { vocabSize: V, nPositions: P } = this.lm.config;
    const metaBytes = samplerMeta({ greedy: true, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 }, V, P, 0);
    s = {
      batch,
      ids: Tensor.empty(g, [Math.max(P, batch)], 'u32', 'gen.ids'),
      history: Tensor.empty(g, [batch, P], 'u32', 'history'),
      logits: Tensor.empty(g, [batch, V], 'f32', 'last_logits'),
      out: Tensor.empty(g, [batch], 'u32', 'sampled'),
      staging: g.createBuffer({ label: 'sampled.staging', size: Math.max(16, batch * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
      prefillMeta: g.uniform(metaBytes, 'sampler.prefill'),
      decodeMeta: g.uniform(metaBytes, 'sampler.decode'),
      prefill: new Map(),
    };
    this.sessions.set(batch, s);
    return s;
  }

  private evictPrefill(s: Session): void {
    const [oldest] = s.prefill.keys();
    s.prefill.get(oldest)?.dispose();
    s.prefill.delete(oldest);
  }

  private dropPlans(): void {
    for (const s of this.sessions.values()) {
      for (const p of s.prefill.values()) p.dispose();
      s.prefill.clear();
      s.decode?.dispose();
      s.decode = undefined;
    }
  }

  /** Frees every session's buffers and plans. */
  dispose(): void {
    this.dropPlans();
    const g = this.lm.gpu;
    for (const s of this.sessions.values()) {
      s.ids.dispose();
      s.history.dispose();
      s.logits.dispose();
      s.out.dispose();
      for (const b of [s.staging, s.prefillMeta, s.decodeMeta]) g.destroyBuffer(b);
    }
    this.sessions.clear();
  }
}
