// The ready worker (`webgen/worker`): a page starts it with
//   new Worker(new URL('webgen/worker', import.meta.url), { type: 'module' })
// and talks to it through connectWorker() (client.ts). It holds the models it loaded and runs one
// request's work at a time per model (a GPT2 queues its generations).
import { DisposedError, WebgenError } from '../errors.js';
import { Generator } from '../models/gan/generator.js';
import { GPT2 } from '../models/gpt2.js';
import type { Conversation } from '../generation/conversation.js';
import type { LoadProgress } from '../loaders/progress.js';
import type { ConversationState, GeneratorInfo, GPT2Info, Request, Response, SerializedError } from './protocol.js';

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(m: Response, transfer?: Transferable[]): void;
};
const models = new Map<number, GPT2 | Generator>();
const conversations = new Map<number, { model: number; chat: Conversation }>();
const running = new Map<number, AbortController>();
let nextModel = 1;

function serialize(e: unknown): SerializedError {
  if (e instanceof WebgenError) return { name: e.name, message: e.message, code: e.code };
  if (e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException)) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

function gpt2(id: number): GPT2 {
  const m = models.get(id);
  if (!(m instanceof GPT2)) throw new DisposedError(`no GPT2 with handle ${id} in this worker (disposed?)`);
  return m;
}

function generator(id: number): Generator {
  const m = models.get(id);
  if (!(m instanceof Generator)) throw new DisposedError(`no Generator with handle ${id} in this worker (disposed?)`);
  return m;
}

function conversation(id: number): Conversation {
  const c = conversations.get(id)?.chat;
  if (!c || c.isDisposed) throw new DisposedError(`no conversation with handle ${id} in this worker (disposed?)`);
  return c;
}

function stateOf(id: number, c: Conversation): ConversationState {
  const { contextUsed, contextLength, cachedTokens, turnCount } = c;
  return { conversation: id, tokens: [...c.tokens], contextUsed, contextLength, cachedTokens, turnCount };
}

/** Runs a request's work with a signal that an 'abort' request for its id fires. */
async function abortable<T>(id: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  running.set(id, ctl);
  try {
    return await work(ctl.signal);
  } finally {
    running.delete(id);
  }
}

async function handle(req: Request, post: (m: Response, transfer?: Transferable[]) => void): Promise<void> {
  const result = (value: Extract<Response, { type: 'result' }>['value'], transfer?: Transferable[]) =>
    post({ id: req.id, type: 'result', value }, transfer);
  const onProgress = (progress: LoadProgress) => post({ id: req.id, type: 'progress', progress });
  switch (req.op) {
    case 'loadGPT2': {
      const lm = await abortable(req.id, (signal) => GPT2.load(req.folder, { ...req.options, onProgress, signal }));
      const id = nextModel++;
      models.set(id, lm);
      const info: GPT2Info = {
        model: id,
        config: lm.config,
        hasTokenizer: !!lm.tokenizer,
        adapter: { description: lm.gpu.adapter.description, hasF16: lm.gpu.hasF16 },
      };
      return result(info);
    }
    case 'loadGenerator': {
      const gan = await abortable(req.id, (signal) => Generator.load(req.source, { ...req.options, onProgress, signal }));
      const id = nextModel++;
      models.set(id, gan);
      const info: GeneratorInfo = { model: id, nz: gan.nz, image: gan.image };
      return result(info);
    }
    case 'generate':
    case 'say': {
      const ctl = new AbortController();
      running.set(req.id, ctl);
      try {
        const options = { ...req.options, signal: ctl.signal };
        const it =
          req.op === 'generate' ? gpt2(req.model).generate(req.prompt, options) : conversation(req.conversation).say(req.input, options);
        for (;;) {
          const r = await it.next();
          if (r.done) return result(r.value);
          post({ id: req.id, type: 'piece', piece: r.value });
        }
      } finally {
        running.delete(req.id);
      }
    }
    case 'conversation': {
      const chat = gpt2(req.model).conversation(req.options);
      const id = nextModel++;
      conversations.set(id, { model: req.model, chat });
      return result(stateOf(id, chat));
    }
    case 'conversationState': {
      const chat = conversation(req.conversation);
      if (req.reset) chat.reset();
      return result(stateOf(req.conversation, chat));
    }
    case 'disposeConversation':
      conversations.get(req.conversation)?.chat.dispose();
      conversations.delete(req.conversation);
      return result(null);
    case 'memory': {
      const m = models.get(req.model);
      if (!m) throw new DisposedError(`no model with handle ${req.model} in this worker (disposed?)`);
      return result(m.memoryBytes());
    }
    case 'logits': {
      const logits = await gpt2(req.model).logits(req.ids);
      return result(logits, [logits.buffer]);
    }
    case 'images': {
      const images = await generator(req.model).generate(req.request);
      return result(images, [images.buffer]);
    }
    case 'abort':
      running.get(req.target)?.abort(new DOMException('aborted by the page', 'AbortError'));
      return result(null);
    case 'dispose':
      for (const [id, c] of conversations) if (c.model === req.model) conversations.delete(id);
      models.get(req.model)?.dispose();
      models.delete(req.model);
      return result(null);
  }
}

scope.onmessage = (e) => {
  const req = e.data;
  handle(req, (m, transfer) => scope.postMessage(m, transfer ?? [])).catch((err) =>
    scope.postMessage({ id: req.id, type: 'error', error: serialize(err) }),
  );
};
