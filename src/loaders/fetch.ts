// Reading model files from wherever they are: memory, a Blob/File, a URL (streamed, with progress)
// or, in Node, a file path. A model "folder" is a directory path, a URL prefix, or a map from file
// names to sources (e.g. the Files a user dropped on a page).
import { FetchError, ModelFormatError } from '../errors.js';
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

/** fetch() that throws a FetchError naming the URL and the HTTP status, or the signal's reason on abort. */
async function fetchOk(url: string, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    throw new FetchError(`fetching ${url} failed: ${(e as Error).message}`, { cause: e });
  }
  if (!res.ok) throw new FetchError(`fetching ${url} failed: HTTP ${res.status} ${res.statusText}`);
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

async function readUrl(url: string, onProgress?: FileProgressCallback, signal?: AbortSignal): Promise<Uint8Array> {
  const res = await fetchOk(url, signal);
  const file = baseName(url);
  const totalHeader = res.headers.get('content-length');
  const total = totalHeader ? Number(totalHeader) : undefined;
  if (!res.body) {
    const buf = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ file, loaded: buf.byteLength, total: buf.byteLength });
    return buf;
  }
  // Stream into one buffer when the size is known, so a large file is not held twice.
  const reader = res.body.getReader();
  let out = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  for (;;) {
    if (signal?.aborted) {
      await reader.cancel().catch(() => undefined);
      throw signal.reason;
    }
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.byteLength > out.byteLength) {
      const grown = new Uint8Array(Math.max(out.byteLength * 2, loaded + value.byteLength));
      grown.set(out.subarray(0, loaded));
      out = grown;
    }
    out.set(value, loaded);
    loaded += value.byteLength;
    onProgress?.({ file, loaded, total });
  }
  return loaded === out.byteLength ? out : out.slice(0, loaded);
}

/** A URL through the cache: a whole, matching entry is used; otherwise fetched and stored. */
async function readCachedUrl(url: string, options: ReadOptions): Promise<Uint8Array> {
  const { cache, onCacheError, onProgress, signal } = options;
  if (cache) {
    const hit = await cache.get(url).catch((e) => void onCacheError?.(e));
    if (hit) {
      onProgress?.({ file: baseName(url), loaded: hit.byteLength, total: hit.byteLength });
      return hit;
    }
  }
  const bytes = await readUrl(url, onProgress, signal);
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

/** True when the folder has `file` (a map: the key exists; a directory: the file exists; a URL: HEAD succeeds). */
export async function folderHas(folder: ModelFolder, file: string, cache?: ModelCache): Promise<boolean> {
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
    return fetch(src, { method: 'HEAD' }).then(
      (r) => r.ok,
      () => false,
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
}

const PIECE = 4 << 20;

async function* slices(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += PIECE) yield bytes.subarray(i, Math.min(i + PIECE, bytes.byteLength));
}

/** The chunks of a stream, with progress and abort. */
async function* streamChunks(
  body: ReadableStream<Uint8Array>,
  file: string,
  total: number | undefined,
  o: ReadOptions,
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let loaded = 0;
  try {
    for (;;) {
      if (o.signal?.aborted) throw o.signal.reason;
      const { done, value } = await reader.read();
      if (done) return;
      loaded += value.byteLength;
      o.onProgress?.({ file, loaded, total });
      yield value;
    }
  } finally {
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
    return { name: 'buffer', total: bytes.byteLength, fromCache: false, chunks: slices(bytes) };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as File).name ?? 'blob';
    return { name, total: source.size, fromCache: false, chunks: streamChunks(source.stream(), name, source.size, options) };
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
    return { name: path, total: size, fromCache: false, chunks: nodeFileChunks(path, baseName(path), size, options) };
  }
  const file = baseName(s);
  if (cache && !(cache instanceof CacheApiCache)) {
    const bytes = await readCachedUrl(s, options);
    return { name: s, total: bytes.byteLength, fromCache: false, chunks: slices(bytes) };
  }
  if (cache) {
    const hit = await cache.openStream(s).catch((e) => void onCacheError?.(e));
    if (hit) return { name: s, total: hit.bytes, fromCache: true, chunks: streamChunks(hit.body, file, hit.bytes, options) };
  }
  const res = await fetchOk(s, signal);
  const header = res.headers.get('content-length');
  const total = header ? Number(header) : undefined;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { name: s, total: bytes.byteLength, fromCache: false, chunks: slices(bytes) };
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
    yield* streamChunks(body, file, total, options);
    await stored;
  }
  return { name: s, total, fromCache: false, chunks: chunks() };
}
