// The worker engine's page side: the same interface as the in-page models, across postMessage, so
// the GPU work and the tokenizer run off the page's main thread.
//
//   const engine = connectWorker(new Worker(new URL('webgen/worker', import.meta.url), { type: 'module' }));
//   const lm = await engine.loadGPT2('/models/gpt2/', { dtype: 'f16', onProgress });
//   for await (const piece of lm.generate('Once upon a time', { maxNewTokens: 50, signal })) ...
//   lm.dispose(); engine.terminate();
import { DisposedError, ERROR_CLASSES, WebgenError } from '../errors.js';
import type { GenerationPiece, GenerationResult } from '../generation/generate.js';
import { isHubId, type ModelFolder, type ModelSource } from '../loaders/fetch.js';
import type { ProgressCallback } from '../loaders/progress.js';
import type { GenerateRequest } from '../models/gan/generator.js';
import type { GPT2GenerateOptions } from '../models/gpt2.js';
import type { ConversationOptions, TurnOptions, TurnResult } from '../generation/conversation.js';
import type {
  Call,
  ConversationState,
  GeneratorInfo,
  GPT2Info,
  Response,
  SerializedError,
  WorkerGeneratorOptions,
  WorkerGPT2Options,
} from './protocol.js';

/** An error from the worker as the class it was there (name, message and code kept). */
function rebuild(e: SerializedError): Error {
  const Cls = ERROR_CLASSES[e.name];
  if (Cls) return new Cls(e.message);
  if (e.name === 'AbortError' && typeof DOMException !== 'undefined') return new DOMException(e.message, 'AbortError');
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/** Strings are resolved against the page, not against the worker's script (hub ids stay as they are). */
function absolute<T>(source: T): T {
  if (typeof source === 'string' && !isHubId(source) && typeof location !== 'undefined') return new URL(source, location.href).href as T;
  return source;
}

interface Pending {
  onEvent(m: Response): void;
}

/** Wrap a Worker running webgen's worker entry (`webgen/worker`). */
export function connectWorker(worker: Worker): WorkerEngine {
  return new WorkerEngine(worker);
}

export class WorkerEngine {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failed?: Error;

  constructor(readonly worker: Worker) {
    worker.addEventListener('message', (e: MessageEvent<Response>) => this.pending.get(e.data.id)?.onEvent(e.data));
    worker.addEventListener('error', (e: ErrorEvent) => {
      // a worker script that failed to load or threw at top level: every pending call fails with it
      this.failed = new WebgenError(`the webgen worker failed: ${e.message || 'its script did not load'}`);
      for (const p of this.pending.values())
        p.onEvent({ id: 0, type: 'error', error: { name: 'WebgenError', message: this.failed.message } });
    });
  }

  /** Sends a request; events before the result go to `onEvent`; resolves with the result. */
  call<T>(req: Call, onEvent?: (m: Response) => void, transfer: Transferable[] = []): { id: number; done: Promise<T> } {
    const id = this.nextId++;
    const done = new Promise<T>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.pending.set(id, {
        onEvent: (m) => {
          if (m.type === 'result') {
            this.pending.delete(id);
            resolve(m.value as T);
          } else if (m.type === 'error') {
            this.pending.delete(id);
            reject(rebuild(m.error));
          } else onEvent?.(m);
        },
      });
      this.worker.postMessage({ ...req, id }, transfer);
    });
    return { id, done };
  }

  /**
   * Loads a GPT-2 folder in the worker (a URL prefix, a hub id, or a map of File/Blob/ArrayBuffer).
   * `signal` aborts the load there: downloads stop and whatever was uploaded is freed.
   */
  async loadGPT2(
    folder: ModelFolder,
    options: WorkerGPT2Options & { onProgress?: ProgressCallback; signal?: AbortSignal } = {},
  ): Promise<WorkerGPT2> {
    const { onProgress, signal, ...rest } = options;
    const info = await this.abortable<GPT2Info>({ op: 'loadGPT2', folder: absolute(folder), options: rest }, onProgress, signal);
    return new WorkerGPT2(this, info);
  }

  /** Loads a GAN generator in the worker (a folder or a safetensors file); `signal` aborts the load. */
  async loadGenerator(
    source: ModelFolder | ModelSource,
    options: WorkerGeneratorOptions & { onProgress?: ProgressCallback; signal?: AbortSignal } = {},
  ): Promise<WorkerGenerator> {
    const { onProgress, signal, ...rest } = options;
    const info = await this.abortable<GeneratorInfo>({ op: 'loadGenerator', source: absolute(source), options: rest }, onProgress, signal);
    return new WorkerGenerator(this, info);
  }

  /** A load whose progress goes to `onProgress` and which `signal` aborts in the worker. */
  private async abortable<T>(call: Call, onProgress?: ProgressCallback, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const { id, done } = this.call<T>(call, (m) => {
      if (m.type === 'progress') onProgress?.(m.progress);
    });
    const abort = () => this.call({ op: 'abort', target: id });
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return await done;
    } catch (e) {
      if (signal?.aborted && (e as Error)?.name === 'AbortError') throw signal.reason;
      throw e;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /** Stops the worker (its GPU device goes with it). */
  terminate(): void {
    this.worker.terminate();
    this.failed ??= new DisposedError('this worker engine was terminated');
    for (const p of this.pending.values())
      p.onEvent({ id: 0, type: 'error', error: { name: 'DisposedError', message: this.failed.message } });
  }
}

/**
 * Sends a streaming request (generate, say): yields its pieces as they come and returns its result.
 * Aborting `signal`, or leaving the loop early, stops the worker's loop too.
 */
async function* streamCall<R>(engine: WorkerEngine, call: Call, signal?: AbortSignal): AsyncGenerator<GenerationPiece, R> {
  signal?.throwIfAborted();
  const queue: GenerationPiece[] = [];
  let wake: (() => void) | undefined;
  const { id, done } = engine.call<R>(call, (m) => {
    if (m.type === 'piece') {
      queue.push(m.piece);
      wake?.();
    }
  });
  let finished = false;
  let outcome: { value?: R; error?: unknown } | undefined;
  done
    .then(
      (value) => (outcome = { value }),
      (error) => (outcome = { error }),
    )
    .finally(() => {
      finished = true;
      wake?.();
    });
  const abort = () => engine.call({ op: 'abort', target: id });
  signal?.addEventListener('abort', abort, { once: true });
  try {
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (finished) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    if (outcome!.error !== undefined) {
      // an abort rejects with the signal's reason, as the in-page model does
      if (signal?.aborted && (outcome!.error as Error)?.name === 'AbortError') throw signal.reason;
      throw outcome!.error;
    }
    return outcome!.value!;
  } finally {
    signal?.removeEventListener('abort', abort);
    if (!finished) abort(); // the caller stopped iterating: stop the worker's loop too
  }
}

/** A conversation living in the worker (see Conversation): its state comes back after each turn. */
export class WorkerConversation {
  private readonly handle: Promise<ConversationState>;
  private last?: ConversationState;
  private disposed = false;

  constructor(
    private readonly engine: WorkerEngine,
    model: number,
    options: ConversationOptions,
  ) {
    this.handle = engine.call<ConversationState>({ op: 'conversation', model, options }).done;
    this.handle.then((s) => (this.last ??= s)).catch(() => undefined);
  }

  /** The state after the last turn (or creation): tokens, context used, cached tokens, turns. */
  get state(): ConversationState | undefined {
    return this.last;
  }

  /** As Conversation.say(): streams the reply; the result has the turn's prefillTokens and context use. */
  async *say(input: string | readonly number[], options: TurnOptions = {}): AsyncGenerator<GenerationPiece, TurnResult> {
    if (this.disposed) throw new DisposedError('this worker conversation was disposed');
    const { conversation } = await this.handle;
    const { signal, ...rest } = options;
    const call: Call = { op: 'say', conversation, input: typeof input === 'string' ? input : [...input], options: rest };
    try {
      return yield* streamCall<TurnResult>(this.engine, call, signal);
    } finally {
      this.last = await this.engine.call<ConversationState>({ op: 'conversationState', conversation }).done.catch(() => this.last);
    }
  }

  /** Says `input` and returns the whole reply. */
  async reply(input: string | readonly number[], options: TurnOptions = {}): Promise<TurnResult> {
    const it = this.say(input, options);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  }

  /** Forgets the turns (the preamble stays). */
  async reset(): Promise<ConversationState> {
    const { conversation } = await this.handle;
    this.last = await this.engine.call<ConversationState>({ op: 'conversationState', conversation, reset: true }).done;
    return this.last;
  }

  /** Frees the conversation's KV cache in the worker. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const { conversation } = await this.handle;
    await this.engine.call({ op: 'disposeConversation', conversation }).done;
  }
}

/** A GPT2 living in the worker. */
export class WorkerGPT2 {
  private disposed = false;

  constructor(
    private readonly engine: WorkerEngine,
    readonly info: GPT2Info,
  ) {}

  get config(): GPT2Info['config'] {
    return this.info.config;
  }

  /** As GPT2.generate(): pieces as they come; `signal` stops the worker's loop. */
  async *generate(
    prompt: string | readonly number[],
    options: GPT2GenerateOptions = {},
  ): AsyncGenerator<GenerationPiece, GenerationResult> {
    this.check();
    const { signal, ...rest } = options;
    const call: Call = { op: 'generate', model: this.info.model, prompt: typeof prompt === 'string' ? prompt : [...prompt], options: rest };
    return yield* streamCall<GenerationResult>(this.engine, call, signal);
  }

  /**
   * As GPT2.conversation(): a dialogue whose KV cache stays in the worker between turns. Made at
   * once; the worker's side is created with the first request.
   */
  conversation(options: ConversationOptions = {}): WorkerConversation {
    this.check();
    return new WorkerConversation(this.engine, this.info.model, options);
  }

  /** GPU bytes the model holds in the worker (weights, activations, caches). */
  memoryBytes(): Promise<number> {
    this.check();
    return this.engine.call<number>({ op: 'memory', model: this.info.model }).done;
  }

  /** Generates to the end and returns the texts, ids and timings. */
  async complete(prompt: string | readonly number[], options: GPT2GenerateOptions = {}): Promise<GenerationResult> {
    const it = this.generate(prompt, options);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  }

  /** Logits of every position of `ids`: [T, vocab] row-major. */
  logits(ids: readonly number[]): Promise<Float32Array> {
    this.check();
    return this.engine.call<Float32Array>({ op: 'logits', model: this.info.model, ids: [...ids] }).done;
  }

  /** Frees the model's GPU memory in the worker. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.engine.call({ op: 'dispose', model: this.info.model }).done;
  }

  private check(): void {
    if (this.disposed) throw new DisposedError('this worker GPT2 was disposed');
  }
}

/** A GAN generator living in the worker. */
export class WorkerGenerator {
  private disposed = false;

  constructor(
    private readonly engine: WorkerEngine,
    readonly info: GeneratorInfo,
  ) {}

  get nz(): number {
    return this.info.nz;
  }

  get image(): GeneratorInfo['image'] {
    return this.info.image;
  }

  /** GPU bytes the generator holds in the worker. */
  memoryBytes(): Promise<number> {
    if (this.disposed) return Promise.reject(new DisposedError('this worker Generator was disposed'));
    return this.engine.call<number>({ op: 'memory', model: this.info.model }).done;
  }

  /** As Generator.generate(): [count, ...] float32 images in the layout of `image`. */
  generate(request: GenerateRequest): Promise<Float32Array> {
    if (this.disposed) return Promise.reject(new DisposedError('this worker Generator was disposed'));
    const r = 'z' in request ? { z: Float32Array.from(request.z) } : request;
    return this.engine.call<Float32Array>({ op: 'images', model: this.info.model, request: r }).done;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.engine.call({ op: 'dispose', model: this.info.model }).done;
  }
}
