// Reading model files from wherever they are: memory, a Blob/File, a URL (streamed, with progress)
// or, in Node, a file path. A model "folder" is a directory path, a URL prefix, or a map from file
// names to sources (e.g. the Files a user dropped on a page).
import { FetchError, ModelFormatError, WebgenError } from '../errors.js';
import { isNode } from '../util.js';
import { CacheApiCache, cacheHas, type ModelCache } from './cache.js';
import type { FileProgressCallback } from './progress.js';

export type ModelSource = string | URL | ArrayBuffer | Uint8Array | Blob;
export type ModelFolder = string | URL | Readonly<Record<string, ModelSource>>;

export interface ReadOptions {
  onProgress?: FileProgressCallback;
  /** Aborts the read: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Where URL files are kept across page loads (cache.ts); undefined: not cached. */
  cache?: ModelCache;
  /** Told when the cache could not be read or written; the read goes on without it. */
  onCacheError?: (error: unknown) => void;
  /**
   * A URL read fails with a FetchError naming the URL when the server sends nothing for this long: no
   * response, or no next bytes of the body (a stalled server, a hung connection). Idle time only: a slow
   * but steady download never trips it. Default 30 000 ms; 0 or Infinity: wait forever.
   */
  stallTimeoutMs?: number;
}

/** How long a URL read waits for the server's next sign of life (ReadOptions.stallTimeoutMs). */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/**
 * One URL request: its own AbortController (fired by the caller's signal, or by the stall watchdog),
 * and what it has received, so that a failure says where it happened. The watchdog runs only while
 * the request waits on the network (wait()), not while the reader handles what arrived.
 */
class UrlRequest {
  readonly ctl = new AbortController();
  private readonly ms: number;
  private stall?: FetchError;
  private readonly onAbort = () => this.ctl.abort(this.signal?.reason);
  /** Body bytes received, and the size the server announced. */
  loaded = 0;
  total: number | undefined;
  responded = false;

  constructor(
    readonly url: string,
    private readonly signal: AbortSignal | undefined,
    stallTimeoutMs: number | undefined,
  ) {
    this.ms = stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    if (signal?.aborted) this.ctl.abort(signal.reason);
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Waits for `p` (the response, or the next read of the body); a server silent for stallTimeoutMs fails it. */
  async wait<T>(p: Promise<T>): Promise<T> {
    if (!(this.ms > 0 && Number.isFinite(this.ms))) return p;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const where = this.responded ? `after ${this.loaded} of ${this.total ?? 'an unknown number of'} bytes` : 'waiting for the response';
        this.stall = new FetchError(
          `fetching ${this.url} stalled: nothing arrived for ${this.ms} ms ${where} (stallTimeoutMs); ` +
            'the server or the connection hangs: try again, or raise stallTimeoutMs',
        );
        this.ctl.abort(this.stall); // ends the request and frees its connection
        reject(this.stall);
      }, this.ms);
    });
    try {
      return await Promise.race([p, stalled]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** What to throw for `e` from fetch() or a read: the caller's abort reason, the stall, or a FetchError naming the URL. */
  failure(e: unknown): unknown {
    if (this.signal?.aborted) return this.signal.reason;
    if (this.stall) return this.stall;
    if (e instanceof WebgenError) return e;
    const err = e as Error & { cause?: { message?: string; code?: string } };
    const why = [err?.message ?? String(e), err?.cause?.message ?? err?.cause?.code].filter(Boolean).join(': ');
    if (!this.responded) return new FetchError(`fetching ${this.url} failed: ${why}`, { cause: e });
    return new FetchError(
      `fetching ${this.url} failed after ${this.loaded} of ${this.total ?? 'an unknown number of'} bytes: ${why} ` +
        '(the connection was cut: try again)',
      { cause: e },
    );
  }

  /** The server went silent for stallTimeoutMs (the request failed with the stall's FetchError). */
  get stalled(): boolean {
    return this.stall !== undefined;
  }

  /** Stops listening to the caller's signal (the request is over). */
  close(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Ends the request early (the reader gave up on it): frees its connection. */
  cancel(): void {
    if (!this.ctl.signal.aborted) this.ctl.abort(new DOMException('the read was given up', 'AbortError'));
    this.close();
  }
}

function baseName(s: string): string {
  const clean = s.split(/[?#]/)[0];
  return clean.slice(clean.lastIndexOf('/') + 1) || clean;
}

/** In Node, the file path a source string names (a path or a file: URL); otherwise undefined (a URL to fetch). */
function localPath(s: string): string | undefined {
  if (!isNode || /^(https?|data|blob):/i.test(s)) return undefined;
  return s.startsWith('file:') ? new URL(s).pathname : s;
}

/** A file that could not be read, as a FetchError naming it. */
function readFailure(path: string, e: unknown): FetchError {
  const code = (e as NodeJS.ErrnoException).code;
  return new FetchError(`cannot read "${path}": ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { cause: e });
}

/**
 * fetch() that throws a FetchError naming the URL and the HTTP status (or the network error, or the
 * stall), or the signal's reason on abort. On success the request is open until its body is read.
 */
async function fetchOk(req: UrlRequest, method = 'GET'): Promise<Response> {
  let res: Response;
  try {
    res = await req.wait(fetch(req.url, { signal: req.ctl.signal, method }));
  } catch (e) {
    req.close();
    throw req.failure(e);
  }
  req.responded = true;
  const length = res.headers.get('content-length');
  req.total = length ? Number(length) : undefined;
  if (!res.ok) {
    req.cancel();
    await res.body?.cancel().catch(() => undefined);
    throw new FetchError(`fetching ${req.url} failed: HTTP ${res.status} ${res.statusText}`);
  }
  return res;
}

/** node:fs/promises, imported by name at run time so that no browser build bundles or stubs it. */
function nodeFs(): Promise<typeof import('node:fs/promises')> {
  const name = 'node:fs/promises';
  return import(/* @vite-ignore */ name);
}

async function readNodeFile(path: string, onProgress?: FileProgressCallback, signal?: AbortSignal): Promise<Uint8Array> {
  const fs = await nodeFs();
  let data: Uint8Array;
  try {
    data = await fs.readFile(path, { signal });
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    throw readFailure(path, e);
  }
  onProgress?.({ file: baseName(path), loaded: data.byteLength, total: data.byteLength });
  // A fresh ArrayBuffer of exactly the file, so typed views at any offset are safe to make.
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

async function readUrl(url: string, options: ReadOptions): Promise<Uint8Array> {
  const { onProgress, signal } = options;
  const req = new UrlRequest(url, signal, options.stallTimeoutMs);
  const res = await fetchOk(req);
  const file = baseName(url);
  const total = req.total;
  if (!res.body) {
    let buf: Uint8Array;
    try {
      buf = new Uint8Array(await req.wait(res.arrayBuffer()));
    } catch (e) {
      throw req.failure(e);
    } finally {
      req.close();
    }
    onProgress?.({ file, loaded: buf.byteLength, total: buf.byteLength });
    return buf;
  }
  // Stream into one buffer when the size is known, so a large file is not held twice.
  let out = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  for await (const value of streamChunks(res.body, file, total, options, req)) {
    if (loaded + value.byteLength > out.byteLength) {
      const grown = new Uint8Array(Math.max(out.byteLength * 2, loaded + value.byteLength));
      grown.set(out.subarray(0, loaded));
      out = grown;
    }
    out.set(value, loaded);
    loaded += value.byteLength;
  }
  return loaded === out.byteLength ? out : out.slice(0, loaded);
}

/** A URL through the cache: a whole, matching entry is used; otherwise fetched and stored. */
async function readCachedUrl(url: string, options: ReadOptions): Promise<Uint8Array> {
  const { cache, onCacheError, onProgress } = options;
  if (cache) {
    const hit = await cache.get(url).catch((e) => void onCacheError?.(e));
    if (hit) {
      onProgress?.({ file: baseName(url), loaded: hit.byteLength, total: hit.byteLength });
      return hit;
    }
  }
  const bytes = await readUrl(url, options);
  if (cache) await cache.put(url, bytes).catch((e) => onCacheError?.(e));
  return bytes;
}

/** Reads a whole source into memory; `name` is what errors call it. */
export async function readSource(source: ModelSource, options: ReadOptions = {}): Promise<{ bytes: Uint8Array; name: string }> {
  const { onProgress, signal } = options;
  signal?.throwIfAborted();
  if (source instanceof Uint8Array) return { bytes: source, name: 'buffer' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: 'buffer' };
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as File).name ?? 'blob';
    const bytes = new Uint8Array(await source.arrayBuffer());
    onProgress?.({ file: name, loaded: bytes.byteLength, total: bytes.byteLength });
    return { bytes, name };
  }
  const s = source instanceof URL ? source.href : String(source);
  const path = localPath(s);
  if (path !== undefined) return { bytes: await readNodeFile(path, onProgress, signal), name: path };
  return { bytes: await readCachedUrl(s, options), name: s };
}

/** Reads a text file (config.json, vocab.json, merges.txt). */
export async function readText(source: ModelSource, options: ReadOptions = {}): Promise<{ text: string; name: string }> {
  const { bytes, name } = await readSource(source, options);
  return { text: new TextDecoder().decode(bytes), name };
}

/** Reads and parses a JSON file; a syntax error names the file. */
export async function readJson<T = unknown>(source: ModelSource, options: ReadOptions = {}): Promise<{ json: T; name: string }> {
  const { text, name } = await readText(source, options);
  try {
    return { json: JSON.parse(text) as T, name };
  } catch (e) {
    throw new ModelFormatError(`${name}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

/** The source of `file` inside a model folder, or undefined when a file map lacks it. */
export function fileIn(folder: ModelFolder, file: string): ModelSource | undefined {
  if (typeof folder === 'string' || folder instanceof URL) {
    const base = folder instanceof URL ? folder.href : folder;
    if (isNode && !/^(https?|data|blob|file):/i.test(base)) return base.replace(/\/+$/, '') + '/' + file;
    // relative folders resolve against the page (or worker) location
    const abs = new URL(base.endsWith('/') ? base : base + '/', (globalThis as any).location?.href);
    return new URL(file, abs).href;
  }
  return folder[file];
}

/**
 * True when the folder has `file` (a map: the key exists; a directory: the file exists; a URL: HEAD
 * succeeds). An aborted or stalled HEAD throws (the signal's reason, a FetchError); other failures are
 * a no.
 */
export async function folderHas(folder: ModelFolder, file: string, read: ReadOptions = {}): Promise<boolean> {
  const { cache } = read;
  const src = fileIn(folder, file);
  if (src === undefined) return false;
  if (cache && (typeof src === 'string' || src instanceof URL)) {
    // a cached file needs no request; a failing cache is only a miss here
    if (await cacheHas(cache, src instanceof URL ? src.href : src)) return true;
  }
  const path = typeof src === 'string' ? localPath(src) : undefined;
  if (path !== undefined) {
    const fs = await nodeFs();
    return fs.access(path).then(
      () => true,
      () => false,
    );
  }
  if (typeof src === 'string' || src instanceof URL) {
    const req = new UrlRequest(src instanceof URL ? src.href : src, read.signal, read.stallTimeoutMs);
    return fetchOk(req, 'HEAD').then(
      (res) => {
        req.cancel();
        void res.body?.cancel().catch(() => undefined);
        return true;
      },
      (e) => {
        if (read.signal?.aborted || req.stalled) throw e;
        return false;
      },
    );
  }
  return true;
}

export interface HubOptions {
  /** A branch, tag or commit of the hub repository (default 'main'). */
  revision?: string;
  /** The hub's address (default https://huggingface.co; a mirror or a local server serving the same paths). */
  hubHost?: string;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/** Whether a folder string reads as a hub id ("owner/name"). */
export const isHubId = (folder: unknown): boolean => typeof folder === 'string' && HUB_ID.test(folder);

/**
 * A Hugging Face hub id ("owner/name": one slash, no scheme, no leading '.' or '/', no trailing '/')
 * becomes the URL prefix of its files, `<hubHost>/<id>/resolve/<revision>/`. In Node a local directory
 * of that name wins. Other folders are returned as they are (a relative folder URL in a page: end it
 * with '/', or start it with './').
 */
export async function resolveFolder(folder: ModelFolder, options: HubOptions = {}): Promise<ModelFolder> {
  if (typeof folder !== 'string' || !HUB_ID.test(folder)) return folder;
  if (isNode) {
    const local = await (await nodeFs()).stat(folder).then(
      () => true,
      () => false,
    );
    if (local) return folder;
  }
  const host = (options.hubHost ?? 'https://huggingface.co').replace(/\/+$/, '');
  return `${host}/${folder}/resolve/${encodeURIComponent(options.revision ?? 'main')}/`;
}

/** A source read piece by piece: a streamed load holds one piece (and one tensor) at a time. */
export interface OpenedSource {
  readonly name: string;
  /** The size in bytes, when known before reading. */
  readonly total: number | undefined;
  /** True when the bytes come from the cache (a truncated entry shows only while reading). */
  readonly fromCache: boolean;
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Gives the read up before its end (a load that failed elsewhere): frees the connection or file. */
  cancel(): void;
}

const PIECE = 4 << 20;

async function* slices(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += PIECE) yield bytes.subarray(i, Math.min(i + PIECE, bytes.byteLength));
}

/**
 * The chunks of a stream, with progress and abort; for a URL's body (`req`), a stall or a cut
 * connection is a FetchError naming the URL and how far it got.
 */
async function* streamChunks(
  body: ReadableStream<Uint8Array>,
  file: string,
  total: number | undefined,
  o: ReadOptions,
  req?: UrlRequest,
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let loaded = 0;
  try {
    for (;;) {
      if (o.signal?.aborted) throw o.signal.reason;
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = req ? await req.wait(reader.read()) : await reader.read();
      } catch (e) {
        throw req ? req.failure(e) : e;
      }
      if (r.done) return;
      loaded += r.value.byteLength;
      if (req) req.loaded = loaded;
      o.onProgress?.({ file, loaded, total });
      yield r.value;
    }
  } finally {
    req?.cancel();
    await reader.cancel().catch(() => undefined);
  }
}

async function* nodeFileChunks(path: string, file: string, total: number, o: ReadOptions): AsyncGenerator<Uint8Array> {
  const handle = await (await nodeFs()).open(path, 'r');
  let loaded = 0;
  try {
    for (;;) {
      if (o.signal?.aborted) throw o.signal.reason;
      const buf = new Uint8Array(PIECE);
      const { bytesRead } = await handle.read(buf, 0, PIECE, loaded);
      if (bytesRead === 0) return;
      loaded += bytesRead;
      o.onProgress?.({ file, loaded, total });
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Opens a source for reading piece by piece: a URL streams from the network (or the cache, stored in
 * the Cache API as it streams), a File as its stream, a Node path in 4 MiB reads. A custom cache's
 * whole-file get/put is used as it is.
 */
export async function openSource(source: ModelSource, options: ReadOptions = {}): Promise<OpenedSource> {
  const { signal, cache, onCacheError } = options;
  signal?.throwIfAborted();
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    options.onProgress?.({ file: 'buffer', loaded: bytes.byteLength, total: bytes.byteLength });
    return { name: 'buffer', total: bytes.byteLength, fromCache: false, chunks: slices(bytes), cancel: () => undefined };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as File).name ?? 'blob';
    const stream = source.stream();
    const cancel = () => void stream.cancel().catch(() => undefined);
    return { name, total: source.size, fromCache: false, chunks: streamChunks(stream, name, source.size, options), cancel };
  }
  const s = source instanceof URL ? source.href : String(source);
  const path = localPath(s);
  if (path !== undefined) {
    const size = await (await nodeFs()).stat(path).then(
      (st) => st.size,
      (e) => {
        throw readFailure(path, e);
      },
    );
    const chunks = nodeFileChunks(path, baseName(path), size, options);
    return { name: path, total: size, fromCache: false, chunks, cancel: () => void chunks.return(undefined).catch(() => undefined) };
  }
  const file = baseName(s);
  if (cache && !(cache instanceof CacheApiCache)) {
    const bytes = await readCachedUrl(s, options);
    return { name: s, total: bytes.byteLength, fromCache: false, chunks: slices(bytes), cancel: () => undefined };
  }
  if (cache) {
    const hit = await cache.openStream(s).catch((e) => void onCacheError?.(e));
    if (hit) {
      const cancel = () => void hit.body.cancel().catch(() => undefined);
      return { name: s, total: hit.bytes, fromCache: true, chunks: streamChunks(hit.body, file, hit.bytes, options), cancel };
    }
  }
  const req = new UrlRequest(s, signal, options.stallTimeoutMs);
  const res = await fetchOk(req);
  const total = req.total;
  if (!res.body) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await req.wait(res.arrayBuffer()));
    } catch (e) {
      throw req.failure(e);
    } finally {
      req.close();
    }
    return { name: s, total: bytes.byteLength, fromCache: false, chunks: slices(bytes), cancel: () => undefined };
  }
  let body = res.body;
  let stored: Promise<void> | undefined;
  if (cache && total !== undefined) {
    // one branch to the cache, one to the reader; a failing cache only says so
    const [a, b] = body.tee();
    body = a;
    stored = cache.putStream(s, b, total).catch((e) => onCacheError?.(e));
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield* streamChunks(body, file, total, options, req);
    await stored;
  }
  return { name: s, total, fromCache: false, chunks: chunks(), cancel: () => req.cancel() };
}
