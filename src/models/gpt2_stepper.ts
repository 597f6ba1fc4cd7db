// GPT-2's side of generation: the forward pass and the sampler recorded once per shape, so each
// token costs one uniform write, one command buffer and a 4-byte-per-sequence read back.
import { DisposedError, OptionError } from '../errors.js';
import type { TokenStepper } from '../generation/generate.js';
import type { ResolvedSampling } from '../generation/sampling.js';
import { sample, samplerMeta } from '../kernels/sample.js';
import { Plan, type Dispatch } from '../runtime/plan.js';
import { Readback } from '../runtime/readback.js';
import { Tensor } from '../runtime/tensor.js';
import type { GPT2Core } from './gpt2.js';

/** Buffers and recorded plans for one batch size. */
interface Session {
  batch: number;
  ids: Tensor; // [max(P, B)] u32: the prompt, then each step's sampled tokens (written by the sampler)
  history: Tensor; // [B, P] u32: prompt + generated tokens, for the repetition penalty
  logits: Tensor; // [B, V] logits of each sequence's last position
  out: Tensor; // [B] u32 chosen ids
  readback: Readback; // of out
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

  /**
   * `cache` names the KV cache this stepper's plans bind: 'generate' for the model's own generations,
   * another name for a conversation, whose cache must outlive other generations on the model.
   */
  constructor(
    private readonly lm: GPT2Core,
    private readonly cache = 'generate',
  ) {
    lm.onInvalidate(() => this.dropPlans());
  }

  get vocabSize(): number {
    return this.lm.config.vocabSize;
  }

  get contextLength(): number {
    return this.lm.config.nPositions;
  }

  /**
   * Feeds the prompt and returns each sequence's first new token. With `at`, one sequence continues
   * what the cache already holds: the prompt goes to positions at.pos0.., cache rows 0..pos0-1 are
   * kept, and `at.history` (every token so far, the prompt included) feeds the repetition penalty.
   */
  async start(
    promptIds: readonly number[],
    batch: number,
    sampling: ResolvedSampling,
    at?: { pos0: number; history: readonly number[] },
  ): Promise<number[]> {
    if (this.lm.isDisposed) throw new DisposedError('this GPT2 model was disposed');
    const T = this.lm.checkIds(promptIds);
    const { vocabSize: V, nPositions: P } = this.lm.config;
    const pos0 = at?.pos0 ?? 0;
    if (at) {
      if (batch !== 1) throw new OptionError('continuing a cached sequence takes one sequence (batch 1)');
      if (!Number.isInteger(pos0) || pos0 < 0 || pos0 + T > P)
        throw new OptionError(`start: ${T} tokens at position ${pos0} do not fit the context of ${P} positions`);
      if (at.history.length !== pos0 + T) throw new OptionError(`start: the history has ${at.history.length} tokens, expected ${pos0 + T}`);
    }
    const s = this.session(batch);
    const q = this.lm.gpu.device.queue;
    q.writeBuffer(s.prefillMeta, 0, samplerMeta(sampling, V, P, 0));
    q.writeBuffer(s.decodeMeta, 0, samplerMeta(sampling, V, P, V));
    const hist = new Uint32Array(batch * P);
    for (let b = 0; b < batch; b++) hist.set(at ? at.history : promptIds, b * P);
    s.history.write(hist);
    s.ids.write(Uint32Array.from(promptIds));
    const plan = await this.prefillPlan(s, T);
    this.current = s;
    this.pos = pos0 + T;
    this.lm.writeStep(pos0, T, 1);
    return this.run(plan, s);
  }

  async next(): Promise<number[]> {
    const s = this.current;
    if (!s) throw new OptionError('next() before start()');
    if (this.pos >= this.lm.config.nPositions) throw new OptionError(`the context of ${this.lm.config.nPositions} positions is full`);
    const plan = await this.decodePlan(s);
    this.lm.writeStep(this.pos, 1, s.batch);
    this.pos++;
    return this.run(plan, s);
  }

  /**
   * The dispatches generation records: a decode step for `batch` sequences, or with `prompt` the
   * prefill of a prompt of that many tokens. For reports (webgen plan) and tests of their shapes.
   */
  async dispatches(o: { batch?: number; prompt?: number } = {}): Promise<readonly Dispatch[]> {
    if (this.lm.isDisposed) throw new DisposedError('this GPT2 model was disposed');
    const batch = o.batch ?? 1;
    if (!Number.isInteger(batch) || batch < 1) throw new OptionError(`dispatches: batch must be an integer >= 1, got ${batch}`);
    const s = this.session(batch);
    if (o.prompt === undefined) return (await this.decodePlan(s)).dispatches;
    const T = o.prompt;
    if (!Number.isInteger(T) || T < 1 || T > this.lm.config.nPositions)
      throw new OptionError(`dispatches: prompt must be 1..${this.lm.config.nPositions} tokens, got ${T}`);
    return (await this.prefillPlan(s, T)).dispatches;
  }

  /** The prefill plan for T prompt tokens (recorded once per length; the oldest of 4 evicted). */
  private async prefillPlan(s: Session, T: number): Promise<Plan> {
    let plan = s.prefill.get(T);
    if (plan) return plan;
    plan = new Plan(this.lm.gpu, `gpt2.prefill T=${T} B=${s.batch}`);
    try {
      // the prompt once, its keys and values copied to cache slots 0..B-1; logits[0]: its last position
      await this.lm.recordForward(plan, {
        cache: this.cache,
        rows: T,
        batch: s.batch,
        copies: s.batch,
        ids: s.ids,
        headRow: T - 1,
        headRows: 1,
        logits: s.logits,
      });
      await sample(plan, s.prefillMeta, this.lm.step, s.logits, s.history, s.ids, s.out, s.batch, this.vocabSize); // ids[b]
    } catch (e) {
      plan.dispose(); // a plan half recorded (out of memory, a lost device) frees its uniforms
      throw e;
    }
    if (s.prefill.size >= MAX_PREFILL_PLANS) this.evictPrefill(s);
    s.prefill.set(T, plan);
    return plan;
  }

  /** The decode plan: one row per sequence; logits [B, V]. */
  private async decodePlan(s: Session): Promise<Plan> {
    if (s.decode) return s.decode;
    const plan = new Plan(this.lm.gpu, `gpt2.decode B=${s.batch}`);
    try {
      await this.lm.recordForward(plan, {
        cache: this.cache,
        rows: s.batch,
        batch: s.batch,
        copies: 1,
        ids: s.ids,
        headRow: 0,
        headRows: s.batch,
        logits: s.logits,
      });
      await sample(plan, s.decodeMeta, this.lm.step, s.logits, s.history, s.ids, s.out, s.batch, this.vocabSize);
    } catch (e) {
      plan.dispose();
      throw e;
    }
    s.decode = plan;
    return plan;
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

  /**
   * Moves the position of the next decode step to `position` (the cache rows in between keep what they
   * hold). For benchmarks: a step at a long context measured without paying for its prefill.
   */
  seek(position: number): void {
    if (!this.current) throw new OptionError('seek() before start()');
    if (!Number.isInteger(position) || position < 1 || position >= this.lm.config.nPositions) {
      throw new OptionError(`seek: position must be an integer in 1..${this.lm.config.nPositions - 1}, got ${position}`);
    }
    this.pos = position;
  }

  private async run(plan: Plan, s: Session): Promise<number[]> {
    return Array.from(new Uint32Array(await s.readback.run(plan, s.out.buffer, s.batch * 4)));
  }

  /** Bytes of the sessions' buffers (ids, history, logits, sampled ids, read back, sampler Meta). */
  memoryBytes(): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      n += s.ids.byteLength + s.history.byteLength + s.logits.byteLength + s.out.byteLength;
      n += s.readback.capacity + s.prefillMeta.size + s.decodeMeta.size;
    }
    return n;
  }

  private session(batch: number): Session {
    let s = this.sessions.get(batch);
    if (s) return s;
    const g = this.lm.gpu;
    const { vocabSize: V, nPositions: P } = this.lm.config;
    const metaBytes = samplerMeta({ greedy: true, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 }, V, P, 0);
    // all of the session's buffers, or (one cannot be made: out of memory, a lost device) none
    const made: { dispose(): void }[] = [];
    const keep = <T extends { dispose(): void }>(x: T): T => (made.push(x), x);
    const uniform = (label: string) => {
      const b = g.uniform(metaBytes, label);
      made.push({ dispose: () => g.destroyBuffer(b) });
      return b;
    };
    try {
      s = {
        batch,
        ids: keep(Tensor.empty(g, [Math.max(P, batch)], 'u32', 'gen.ids')),
        history: keep(Tensor.empty(g, [batch, P], 'u32', 'history')),
        logits: keep(Tensor.empty(g, [batch, V], 'f32', 'last_logits')),
        out: keep(Tensor.empty(g, [batch], 'u32', 'sampled')),
        readback: keep(new Readback(g, batch * 4, 'sampled.readback')),
        prefillMeta: uniform('sampler.prefill'),
        decodeMeta: uniform('sampler.decode'),
        prefill: new Map(),
      };
    } catch (e) {
      for (const x of made) x.dispose();
      throw e;
    }
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

  /** Frees every session's buffers and plans (and a named cache of its own). */
  dispose(): void {
    this.dropPlans();
    if (this.cache !== 'generate') this.lm.releaseCache(this.cache);
    const g = this.lm.gpu;
    for (const s of this.sessions.values()) {
      s.ids.dispose();
      s.history.dispose();
      s.logits.dispose();
      s.out.dispose();
      s.readback.dispose();
      for (const b of [s.prefillMeta, s.decodeMeta]) g.destroyBuffer(b);
    }
    this.sessions.clear();
  }
}
