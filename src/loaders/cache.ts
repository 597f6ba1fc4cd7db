// Model files kept across page loads. The default in pages and workers is the Cache API (the storage
// transformers.js uses too); a site may pass any object with get/put, or 'none'. A cache that is
// missing, full (QuotaExceededError) or refused (opaque origins, private mode) never fails a load: the
// load goes on without it and says so through onCacheError. An entry whose length does not match what
// was stored is dropped and fetched again.

/** Where model files are kept between visits, by URL. */
export interface ModelCache {
  get(url: string): Promise<Uint8Array | undefined>;
  put(url: string, bytes: Uint8Array): Promise<void>;
  /** Whether an entry exists (without reading it); default: get() !== undefined. */
  has?(url: string): Promise<boolean>;
  delete?(url: string): Promise<void>;
}

export type CacheOption = 'cache-api' | 'indexeddb' | 'none' | ModelCache;

/** Whether `cache` holds `url` (without reading it where the cache can tell); a failing cache holds nothing. */
export function cacheHas(cache: ModelCache, url: string): Promise<boolean> {
  return (cache.has ? cache.has(url) : cache.get(url).then((b) => b !== undefined)).catch(() => false);
}

const CACHE_NAME = 'webgen-models-v1';
const LENGTH_HEADER = 'x-webgen-bytes';

/** The Cache API, under one cache name; every entry records its length to catch truncation. */
export class CacheApiCache implements ModelCache {
  private open(): Promise<Cache> {
    if (typeof caches === 'undefined') throw new Error('the Cache API is not available here');
    return caches.open(CACHE_NAME);
  }

  async get(url: string): Promise<Uint8Array | undefined> {
    const cache = await this.open();
    const res = await cache.match(url);
    if (!res) return undefined;
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength !== Number(res.headers.get(LENGTH_HEADER))) {
      await cache.delete(url);
      return undefined;
    }
    return bytes;
  }

  async has(url: string): Promise<boolean> {
    return (await (await this.open()).match(url)) !== undefined;
  }

  async put(url: string, bytes: Uint8Array): Promise<void> {
    const cache = await this.open();
    await cache.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { [LENGTH_HEADER]: String(bytes.byteLength) } }));
  }

  /** A cached entry as a stream and the length it was stored with (streamed loads; checked by the reader). */
  async openStream(url: string): Promise<{ body: ReadableStream<Uint8Array>; bytes: number } | undefined> {
    const res = await (await this.open()).match(url);
    if (!res?.body) return undefined;
    return { body: res.body, bytes: Number(res.headers.get(LENGTH_HEADER)) };
  }

  /** Stores a stream as it is read elsewhere (one branch of a tee), with its expected length. */
  async putStream(url: string, body: ReadableStream<Uint8Array>, bytes: number): Promise<void> {
    await (await this.open()).put(url, new Response(body, { headers: { [LENGTH_HEADER]: String(bytes) } }));
  }

  async delete(url: string): Promise<void> {
    await (await this.open()).delete(url);
  }

  /** Removes every entry, or those whose URL starts with `prefix`. */
  static async clear(prefix?: string): Promise<void> {
    if (typeof caches === 'undefined') return;
    if (prefix === undefined) {
      await caches.delete(CACHE_NAME);
      return;
    }
    const cache = await caches.open(CACHE_NAME);
    for (const req of await cache.keys()) if (req.url.startsWith(prefix)) await cache.delete(req);
  }
}

/**
 * IndexedDB, one record per URL holding the bytes and their length. Whole files go in and out (the
 * Cache API is the one a streamed load reads piece by piece).
 */
export class IndexedDbCache implements ModelCache {
  private static db?: Promise<IDBDatabase>;

  private static open(): Promise<IDBDatabase> {
    if (typeof indexedDB === 'undefined') return Promise.reject(new Error('IndexedDB is not available here'));
    return (IndexedDbCache.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(CACHE_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('files');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => {
        IndexedDbCache.db = undefined;
        reject(req.error);
      };
    }));
  }

  private static async run<T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await IndexedDbCache.open();
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction('files', mode);
      const req = op(tx.objectStore('files'));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () => reject(tx.error ?? req.error);
    });
  }

  async get(url: string): Promise<Uint8Array | undefined> {
    const rec = (await IndexedDbCache.run('readonly', (s) => s.get(url))) as { bytes: ArrayBuffer; length: number } | undefined;
    if (!rec) return undefined;
    if (rec.bytes.byteLength !== rec.length) {
      await this.delete(url);
      return undefined;
    }
    return new Uint8Array(rec.bytes);
  }

  async has(url: string): Promise<boolean> {
    return (await IndexedDbCache.run('readonly', (s) => s.count(url))) > 0;
  }

  async put(url: string, bytes: Uint8Array): Promise<void> {
    const copy = bytes.slice().buffer;
    await IndexedDbCache.run('readwrite', (s) => s.put({ bytes: copy, length: bytes.byteLength }, url));
  }

  async delete(url: string): Promise<void> {
    await IndexedDbCache.run('readwrite', (s) => s.delete(url));
  }

  /** Removes every entry, or those whose URL starts with `prefix`. */
  static async clear(prefix?: string): Promise<void> {
    if (typeof indexedDB === 'undefined') return;
    const range = prefix === undefined ? undefined : IDBKeyRange.bound(prefix, prefix + '\uffff');
    await IndexedDbCache.run('readwrite', (s) => (range ? s.delete(range) : s.clear()));
  }
}

/** The cache a load uses: the option, else the Cache API where it exists (pages and workers), else none. */
export function resolveCache(option: CacheOption | undefined): ModelCache | undefined {
  if (option === 'none') return undefined;
  if (option === 'indexeddb') return typeof indexedDB !== 'undefined' ? new IndexedDbCache() : undefined;
  if (option !== undefined && option !== 'cache-api') return option;
  return typeof caches !== 'undefined' ? new CacheApiCache() : undefined;
}
