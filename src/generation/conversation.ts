// A dialogue that keeps its KV cache: each turn appends its text to the conversation and runs only the
// tokens the cache does not hold yet through the model (the new text, and the last token of the
// previous reply, which was sampled but never fed), never the history again.
//
//   const chat = lm.conversation({ preamble: 'A dialogue.\n' });
//   for await (const piece of chat.say('\nQ: Who made the light?\nA:', { maxNewTokens: 40, stop: '\nQ:' })) ...
//
// The conversation holds token ids; what a turn keeps of its reply:
//   - 'length' and 'eos' finishes: every token generated (the end-of-text token itself is not kept);
//   - a stop string: the reply's text without the stop string, encoded again (the cache rows of tokens
//     that differ from the generated ones are run again next turn);
//   - an aborted or failed turn: nothing; the conversation is as it was before the turn.
// When a turn would pass the context (`onFull`): 'slide' (default) drops the oldest whole turns (the
// preamble stays) and runs what is left through the model once, in that turn's prefill; 'error'
// throws a ContextLengthError.
import { ContextLengthError, DisposedError, OptionError } from '../errors.js';
import {
  generateStream,
  type GenerateOptions,
  type GenerationPiece,
  type GenerationResult,
  type TextCodec,
  type TokenStepper,
} from './generate.js';
import type { ResolvedSampling } from './sampling.js';

export interface ConversationOptions {
  /** Text (or token ids) at the start of the context, kept when old turns are dropped. */
  preamble?: string | readonly number[];
  /** A turn that would pass the context: drop the oldest turns ('slide', default) or throw ('error'). */
  onFull?: 'slide' | 'error';
}

export interface TurnOptions extends GenerateOptions {
  /** While a generation runs on the model: wait for it ('queue', default) or reject ('reject'). */
  ifBusy?: 'queue' | 'reject';
}

export interface TurnResult extends GenerationResult {
  /** Tokens this turn ran through the model before its first new token: what the cache lacked. */
  prefillTokens: number;
  /** Tokens the conversation holds after this turn (the context in use). */
  contextUsed: number;
  /** The model's context (n_positions). */
  contextLength: number;
  /** Oldest turns dropped to make room for this one (0: none). */
  droppedTurns: number;
}

/** The model side: a token stepper that can continue the sequence its cache holds. */
export interface ResumableStepper extends TokenStepper {
  start(
    promptIds: readonly number[],
    batch: number,
    sampling: ResolvedSampling,
    at?: { pos0: number; history: readonly number[] },
  ): Promise<number[]>;
  dispose(): void;
  /** GPU bytes of its own buffers. */
  memoryBytes(): number;
}

/** Runs a turn's generator in the model's queue (one generation at a time per model). */
export type TurnRunner = <R>(options: TurnOptions, body: () => AsyncGenerator<GenerationPiece, R>) => AsyncGenerator<GenerationPiece, R>;

export class Conversation {
  private ids: number[] = [];
  /** Leading ids whose keys and values are in the cache. */
  private cached = 0;
  /** Where each turn begins in `ids` (after the preamble). */
  private turns: number[] = [];
  private readonly preambleLength: number;
  private readonly onFull: 'slide' | 'error';
  private disposed = false;

  constructor(
    private readonly stepper: ResumableStepper,
    private readonly codec: (idsOnly: boolean) => TextCodec,
    private readonly run: TurnRunner,
    options: ConversationOptions = {},
  ) {
    const onFull = options.onFull ?? 'slide';
    if (onFull !== 'slide' && onFull !== 'error') throw new OptionError(`onFull must be 'slide' or 'error', got ${JSON.stringify(onFull)}`);
    this.onFull = onFull;
    const p = options.preamble;
    this.ids = p === undefined ? [] : typeof p === 'string' ? codec(false).encode(p) : [...p];
    for (const id of this.ids) {
      if (!Number.isInteger(id) || id < 0 || id >= stepper.vocabSize)
        throw new OptionError(`preamble: token id ${id} is outside the vocabulary (0..${stepper.vocabSize - 1})`);
    }
    if (this.ids.length >= stepper.contextLength)
      throw new ContextLengthError(`the preamble's ${this.ids.length} tokens leave no room in the context of ${stepper.contextLength}`);
    this.preambleLength = this.ids.length;
  }

  /** Every token of the conversation so far (preamble, turns, replies). */
  get tokens(): readonly number[] {
    return [...this.ids];
  }

  /** Tokens in the context now. */
  get contextUsed(): number {
    return this.ids.length;
  }

  get contextLength(): number {
    return this.stepper.contextLength;
  }

  /** Tokens whose keys and values the cache holds (the next turn runs the rest). */
  get cachedTokens(): number {
    return this.cached;
  }

  /** Turns in the context (dropped ones not counted). */
  get turnCount(): number {
    return this.turns.length;
  }

  /**
   * Appends `input` (text, or token ids) and streams the reply. Options as generate() (one sequence).
   * The iterator's return value has the reply and what the turn cost (prefillTokens).
   */
  async *say(input: string | readonly number[], options: TurnOptions = {}): AsyncGenerator<GenerationPiece, TurnResult> {
    if (this.disposed) throw new DisposedError('this conversation was disposed');
    if ((options.numReturnSequences ?? 1) !== 1)
      throw new OptionError('a conversation has one reply per turn: numReturnSequences must be 1');
    if (options.maxLength !== undefined) throw new OptionError('a conversation turn takes maxNewTokens, not maxLength');
    return yield* this.run(options, () => this.turn(input, options));
  }

  /** Says `input` and returns the whole reply. */
  async reply(input: string | readonly number[], options: TurnOptions = {}): Promise<TurnResult> {
    const it = this.say(input, options);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  }

  /** Forgets the turns (the preamble stays, and its cache rows). */
  reset(): void {
    this.ids.length = this.preambleLength;
    this.cached = Math.min(this.cached, this.preambleLength);
    this.turns = [];
  }

  /** Frees the conversation's KV cache and buffers. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stepper.dispose();
  }

  /** GPU bytes of the conversation's own buffers (its KV cache is counted in the model's memoryBytes()). */
  memoryBytes(): number {
    return this.disposed ? 0 : this.stepper.memoryBytes();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private async *turn(input: string | readonly number[], options: GenerateOptions): AsyncGenerator<GenerationPiece, TurnResult> {
    if (this.disposed) throw new DisposedError('this conversation was disposed');
    const codec = this.codec(typeof input !== 'string');
    const newIds = typeof input === 'string' ? codec.encode(input) : [...input];
    if (newIds.length === 0) throw new OptionError('say: the input is empty; give at least one token');
    const P = this.stepper.contextLength;
    const maxNewTokens = options.maxNewTokens ?? 50;
    const snapshot = { ids: [...this.ids], cached: this.cached, turns: [...this.turns] };
    let dropped = 0;
    const need = () => this.ids.length + newIds.length + maxNewTokens;
    if (Number.isInteger(maxNewTokens) && need() > P) {
      if (this.onFull === 'error') {
        throw new ContextLengthError(
          `the conversation holds ${this.ids.length} tokens; this turn's ${newIds.length} + maxNewTokens ${maxNewTokens} ` +
            `pass the context of ${P} (onFull: 'error'); reset() the conversation or start a new one`,
        );
      }
      while (need() > P && this.turns.length > 0) {
        this.dropOldestTurn();
        dropped++;
      }
      if (need() > P) {
        this.restore(snapshot, snapshot.cached);
        throw new ContextLengthError(
          `this turn's ${newIds.length} tokens + maxNewTokens ${maxNewTokens}${this.preambleLength ? ` + the preamble's ${this.preambleLength}` : ''} ` +
            `pass the context of ${P} even with every earlier turn dropped`,
        );
      }
    }
    const turnStart = this.ids.length;
    this.ids.push(...newIds);
    const pos0 = this.cached;
    const pending = this.ids.slice(pos0);
    const history = [...this.ids];
    const inner = this.stepper;
    let fed = 0;
    const view: TokenStepper = {
      vocabSize: inner.vocabSize,
      contextLength: P - pos0,
      start: (prompt, _batch, sampling) => inner.start(prompt, 1, sampling, { pos0, history }),
      next: () => {
        fed++; // each step feeds the token returned last
        return inner.next();
      },
      end: () => inner.end(),
    };
    try {
      const result = yield* generateStream(view, codec, pending, options);
      const seq = result.sequences[0];
      const keep = seq.finishReason === 'stop' ? codec.encode(seq.text) : seq.ids;
      let same = 0;
      while (same < Math.min(keep.length, fed) && keep[same] === seq.ids[same]) same++;
      this.ids.push(...keep);
      this.cached = turnStart + newIds.length + same;
      this.turns.push(turnStart);
      return { ...result, prefillTokens: pending.length, contextUsed: this.ids.length, contextLength: P, droppedTurns: dropped };
    } catch (e) {
      // rows from pos0 on may hold this turn's tokens now; rows before it are untouched
      this.restore(snapshot, Math.min(snapshot.cached, pos0));
      throw e;
    }
  }

  private dropOldestTurn(): void {
    const start = this.turns[0];
    const end = this.turns[1] ?? this.ids.length;
    this.ids.splice(start, end - start);
    this.turns = this.turns.slice(1).map((t) => t - (end - start));
    this.cached = Math.min(this.cached, start); // later rows moved to other positions
  }

  private restore(s: { ids: number[]; turns: number[] }, cached: number): void {
    this.ids = s.ids;
    this.turns = s.turns;
    this.cached = cached;
  }
}
