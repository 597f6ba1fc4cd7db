// Fake model sides for testing the generation loop and the sampler without a GPU.
import type { TextCodec, TokenStepper } from '../../src/generation/generate.js';
import type { StreamDecoder } from '../../src/loaders/tokenizer.js';
import { sampleRow, type ResolvedSampling } from '../../src/generation/sampling.js';
import { rng } from './assert.js';

/** A codec whose token i is the i-th string of `pieces` (UTF-8 bytes split across tokens allowed via byte tokens). */
export function byteCodec(eosTokenId?: number): TextCodec {
  // token ids 0..255 are bytes; 256 is EOS
  const decodeBytes = (ids: ArrayLike<number>) => Uint8Array.from(Array.from(ids).filter((i) => i < 256));
  return {
    eosTokenId,
    encode: (text) => Array.from(new TextEncoder().encode(text)),
    decode: (ids) => new TextDecoder().decode(decodeBytes(ids)),
    createStreamDecoder(): StreamDecoder {
      const d = new TextDecoder();
      return {
        push: (id) => (id < 256 ? d.decode(new Uint8Array([id]), { stream: true }) : ''),
        flush: () => d.decode(),
      };
    },
  };
}

/** Replays fixed token sequences (one per batch row), ignoring the sampling options. */
export class ScriptedStepper implements TokenStepper {
  step = 0;
  ended = 0;
  started?: { promptIds: number[]; batch: number; sampling: ResolvedSampling };
  constructor(
    private readonly script: number[][],
    readonly vocabSize = 257,
    readonly contextLength = 1000,
  ) {}
  async start(promptIds: readonly number[], batch: number, sampling: ResolvedSampling) {
    this.started = { promptIds: [...promptIds], batch, sampling };
    this.step = 0;
    return this.take();
  }
  async next() {
    this.step++;
    return this.take();
  }
  end() {
    this.ended++;
  }
  private take() {
    return Array.from({ length: this.started!.batch }, (_, b) => this.script[b % this.script.length][this.step] ?? 0);
  }
}

/** A fake forward pass: logits are a fixed random function of (last token, position); sampling is the CPU sampler. */
export class FakeModelStepper implements TokenStepper {
  private hist: number[][] = [];
  private o!: ResolvedSampling;
  constructor(
    readonly vocabSize: number,
    readonly contextLength = 512,
  ) {}
  logitsFor(history: readonly number[]): Float32Array {
    const r = rng(history[history.length - 1] * 1009 + history.length * 7 + 1);
    return Float32Array.from({ length: this.vocabSize }, () => (r() * 2 - 1) * 4);
  }
  async start(promptIds: readonly number[], batch: number, sampling: ResolvedSampling) {
    this.o = sampling;
    this.hist = Array.from({ length: batch }, () => [...promptIds]);
    return this.take();
  }
  async next() {
    return this.take();
  }
  end() {}
  private take() {
    return this.hist.map((h, b) => {
      const id = sampleRow(this.logitsFor(h), h, this.o, b);
      h.push(id);
      return id;
    });
  }
}

/**
 * A fake model with a KV cache: positions hold the tokens fed at them, and the logits at a position
 * are a fixed random function of every token up to it (as a transformer's are). Continuing at pos0
 * checks that the cache really holds what the caller's history says for positions 0..pos0-1, so a
 * conversation's bookkeeping is tested against what was fed, not against itself.
 */
export class CachedFakeStepper implements TokenStepper {
  /** cache[p]: the token fed at position p (undefined: never fed). */
  readonly cache: (number | undefined)[] = [];
  /** Tokens each start() ran through the model. */
  readonly prefills: number[][] = [];
  private pos = 0;
  private last = -1;
  private hist: number[] = [];
  private o!: ResolvedSampling;
  disposed = false;
  constructor(
    readonly vocabSize: number,
    readonly contextLength = 512,
  ) {}

  static logitsFor(tokens: readonly number[], vocabSize: number): Float32Array {
    let h = 17;
    for (const t of tokens) h = (Math.imul(h, 31) + t + 1) >>> 0;
    const r = rng(h);
    return Float32Array.from({ length: vocabSize }, () => (r() * 2 - 1) * 4);
  }

  async start(promptIds: readonly number[], batch: number, sampling: ResolvedSampling, at?: { pos0: number; history: readonly number[] }) {
    if (batch !== 1) throw new Error('CachedFakeStepper: batch 1 only');
    const pos0 = at?.pos0 ?? 0;
    const history = at?.history ?? promptIds;
    for (let p = 0; p < pos0; p++) {
      if (this.cache[p] !== history[p]) throw new Error(`cache row ${p} holds ${this.cache[p]}, the history says ${history[p]}`);
    }
    if (pos0 + promptIds.length > this.contextLength) throw new Error('past the context');
    this.prefills.push([...promptIds]);
    promptIds.forEach((t, i) => (this.cache[pos0 + i] = t));
    this.pos = pos0 + promptIds.length;
    this.o = sampling;
    this.hist = [...history];
    return [this.take()];
  }
  async next() {
    if (this.pos >= this.contextLength) throw new Error('past the context');
    this.cache[this.pos++] = this.last;
    return [this.take()];
  }
  end() {}
  dispose() {
    this.disposed = true;
  }
  memoryBytes() {
    return 0;
  }
  private take(): number {
    const fed = this.cache.slice(0, this.pos) as number[];
    const id = sampleRow(CachedFakeStepper.logitsFor(fed, this.vocabSize), this.hist, this.o, 0);
    this.hist.push(id);
    this.last = id;
    return id;
  }
}
