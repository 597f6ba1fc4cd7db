// The generation loop, in plain TypeScript: prompt -> tokens -> streamed text, with stop strings,
// EOS, several sequences, abort. The model side is a TokenStepper (the GPU one samples on the device
// and hands back only token ids; tests also drive this loop with a fake one).
import { ContextLengthError, OptionError } from '../errors.js';
import type { StreamDecoder } from '../loaders/tokenizer.js';
import { resolveSampling, type ResolvedSampling, type SamplingOptions } from './sampling.js';

export interface TokenStepper {
  readonly vocabSize: number;
  /** n_positions: prompt + new tokens must fit. */
  readonly contextLength: number;
  /** Feeds the prompt (shared by all `batch` sequences) and returns each sequence's first new token. */
  start(promptIds: readonly number[], batch: number, sampling: ResolvedSampling): Promise<number[]>;
  /** Feeds the tokens returned last and returns the next token of each sequence. */
  next(): Promise<number[]>;
  /** Ends the generation (frees nothing the next one will need). */
  end(): void;
}

/** What the loop needs from a tokenizer. */
export interface TextCodec {
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  createStreamDecoder(): StreamDecoder;
  readonly eosTokenId: number | undefined;
  /** Whether a token is special (left out of the text with skipSpecialTokens). */
  isSpecial?(id: number): boolean;
}

export interface GenerateOptions extends SamplingOptions {
  /** New tokens per sequence (default 50). */
  maxNewTokens?: number;
  /** Prompt plus new tokens, as transformers' `max_length` (give it or maxNewTokens, not both). */
  maxLength?: number;
  /** Leave special tokens (e.g. "<|endoftext|>" when stopAtEos is false) out of the text, as transformers' skip_special_tokens. */
  skipSpecialTokens?: boolean;
  /** Stop a sequence when its text contains one of these (the stop string is not emitted). */
  stop?: string | readonly string[];
  /** Stop a sequence at the end-of-text token (default true). */
  stopAtEos?: boolean;
  /** Sequences sampled from the same prompt, decoded as one batch (default 1). */
  numReturnSequences?: number;
  signal?: AbortSignal;
}

export interface GenerationPiece {
  /** Which of the numReturnSequences sequences this text belongs to. */
  sequence: number;
  /** New text; never splits a UTF-8 character. */
  text: string;
}

export type FinishReason = 'length' | 'eos' | 'stop';

export interface GenerationResult {
  promptIds: number[];
  sequences: { ids: number[]; text: string; finishReason: FinishReason }[];
  /** Prompt forward pass plus the first token, in ms. */
  prefillMs: number;
  /** Mean time per further token (one decode step for the whole batch), in ms. */
  msPerToken: number;
}

class SequenceText {
  readonly ids: number[] = [];
  text = '';
  private pending = '';
  finish: FinishReason | undefined;
  private readonly decoder: StreamDecoder;

  constructor(
    codec: TextCodec,
    private readonly stops: readonly string[],
    private readonly skip?: (id: number) => boolean,
  ) {
    this.decoder = codec.createStreamDecoder();
  }

  /** Adds a token; returns the text that can be shown now (held back: a possible stop-string start). */
  push(id: number): string {
    this.ids.push(id);
    if (!this.skip?.(id)) this.pending += this.decoder.push(id);
    return this.release(false);
  }

  end(reason: FinishReason): string {
    this.finish ??= reason;
    if (reason === 'stop') return '';
    this.pending += this.decoder.flush();
    return this.release(true);
  }

  private release(final: boolean): string {
    let cut = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      const out = this.pending.slice(0, cut);
      this.pending = '';
      this.finish = 'stop';
      this.text += out;
      return out;
    }
    let hold = 0;
    if (!final) {
      // the longest suffix of pending that begins some stop string
      for (const s of this.stops) {
        for (let n = Math.min(s.length - 1, this.pending.length); n > hold; n--) {
          if (this.pending.endsWith(s.slice(0, n))) {
            hold = n;
            break;
          }
        }
      }
    }
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    this.text += out;
    return out;
  }
}

/** Checks options against the model and resolves defaults. */
export function resolveGenerate(o: GenerateOptions, promptLength: number, stepper: TokenStepper) {
  if (o.maxLength !== undefined && o.maxNewTokens !== undefined)
    throw new OptionError('give maxNewTokens or maxLength (prompt plus new tokens), not both');
  if (o.maxLength !== undefined && (!Number.isInteger(o.maxLength) || o.maxLength <= promptLength))
    throw new OptionError(
      `maxLength ${JSON.stringify(o.maxLength)} leaves no room for new tokens after a prompt of ${promptLength} tokens`,
    );
  const maxNewTokens = o.maxLength !== undefined ? o.maxLength - promptLength : (o.maxNewTokens ?? 50);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1)
    throw new OptionError(`maxNewTokens must be an integer >= 1, got ${JSON.stringify(o.maxNewTokens)}`);
  const batch = o.numReturnSequences ?? 1;
  if (!Number.isInteger(batch) || batch < 1 || batch > 256)
    throw new OptionError(`numReturnSequences must be an integer in 1..256, got ${JSON.stringify(o.numReturnSequences)}`);
  if (promptLength < 1) throw new OptionError('the prompt is empty: give at least one token');
  if (promptLength + maxNewTokens > stepper.contextLength) {
    throw new ContextLengthError(
      `prompt of ${promptLength} tokens + maxNewTokens ${maxNewTokens} = ${promptLength + maxNewTokens} exceeds the model's context of ` +
        `${stepper.contextLength} tokens (n_positions); shorten the prompt or lower maxNewTokens`,
    );
  }
  const stops = o.stop === undefined ? [] : typeof o.stop === 'string' ? [o.stop] : [...o.stop];
  if (stops.some((s) => typeof s !== 'string' || s.length === 0)) throw new OptionError('stop strings must be non-empty strings');
  return { maxNewTokens, batch, stops, sampling: resolveSampling(o, stepper.vocabSize) };
}

/**
 * Streams the continuation of `prompt` (text, or token ids) as pieces of text; the iterator's return
 * value is the full result with timings. Aborting `signal` rejects with its reason (an AbortError).
 */
export async function* generateStream(
  stepper: TokenStepper,
  codec: TextCodec,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
): AsyncGenerator<GenerationPiece, GenerationResult> {
  const promptIds = typeof prompt === 'string' ? codec.encode(prompt) : [...prompt];
  const { maxNewTokens, batch, stops, sampling } = resolveGenerate(options, promptIds.length, stepper);
  const eos = options.stopAtEos === false ? undefined : codec.eosTokenId;
  const skip = options.skipSpecialTokens && codec.isSpecial ? (id: number) => codec.isSpecial!(id) : undefined;
  const seqs = Array.from({ length: batch }, () => new SequenceText(codec, stops, skip));
  const signal = options.signal;
  signal?.throwIfAborted();
  let prefillMs = 0;
  let decodeMs = 0;
  let decodeSteps = 0;
  try {
    let t0 = performance.now();
    let tokens = await stepper.start(promptIds, batch, sampling);
    prefillMs = performance.now() - t0;
    for (let produced = 1; ; produced++) {
      signal?.throwIfAborted();
      for (let b = 0; b < batch; b++) {
        const s = seqs[b];
        if (s.finish) continue;
        let text: string;
        if (tokens[b] === eos) text = s.end('eos');
        else {
          text = s.push(tokens[b]);
          if (!s.finish && produced >= maxNewTokens) text += s.end('length');
        }
        if (text) yield { sequence: b, text };
      }
      if (seqs.every((s) => s.finish)) break;
      signal?.throwIfAborted();
      t0 = performance.now();
      tokens = await stepper.next();
      decodeMs += performance.now() - t0;
      decodeSteps++;
    }
  } finally {
    stepper.end();
  }
  return {
    promptIds,
    sequences: seqs.map((s) => ({ ids: s.ids, text: s.text, finishReason: s.finish ?? 'length' })),
    prefillMs,
    msPerToken: decodeSteps ? decodeMs / decodeSteps : 0,
  };
}

/** Runs generateStream to the end and returns its result. */
export async function generateAll(
  stepper: TokenStepper,
  codec: TextCodec,
  prompt: string | readonly number[],
  options: GenerateOptions = {},
  onPiece?: (p: GenerationPiece) => void,
): Promise<GenerationResult> {
  const it = generateStream(stepper, codec, prompt, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    onPiece?.(r.value);
  }
}
