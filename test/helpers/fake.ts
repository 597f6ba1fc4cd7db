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
