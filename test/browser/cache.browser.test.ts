// Weights kept across page loads with the Cache API, in headless Chromium: a second load of the same
// model makes no request at all (counted by the test's server), a truncated entry is fetched again, a
// cache that fails (a full quota) never fails the load, and clearCache() empties it.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_FLAGS } from '../helpers/browser.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const OUT = 'test/.out/cache-dist'; // its own build: other browser tests build dist/browser meanwhile
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json' };

describe('the Cache API across page loads', () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  let base: string;
  const requests: string[] = [];

  beforeAll(async () => {
    await build({ configFile: join(ROOT, 'vite.browser.config.ts'), logLevel: 'error', build: { outDir: OUT, sourcemap: false } });
    server = createServer((req, res) => {
      const path = normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname));
      if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>cache test</title>');
      if (path.startsWith('/pretrained/')) requests.push(`${req.method} ${path}`);
      const file = join(ROOT, path);
      if (!file.startsWith(ROOT) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': statSync(file).size });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    browser = await puppeteer.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_FLAGS,
      headless: true,
    });
    page = await browser.newPage();
    await page.goto(`${base}/`); // a secure context (127.0.0.1): the Cache API exists
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  /** Loads the default model in the page (each time a fresh module instance), greedy-generates 5 tokens. */
  const load = (extra = '') =>
    page.evaluate(
      async (src: string, extra: string) => {
        const w = await (window as any).eval(`import(${JSON.stringify(src)})`);
        const errors: string[] = [];
        const options: any = { dtype: 'f16', onCacheError: (e: any) => errors.push(String(e?.name ?? e)) };
        if (extra === 'indexeddb') options.cache = 'indexeddb';
        if (extra === 'full') {
          const quota = () => Promise.reject(new DOMException('the quota is full', 'QuotaExceededError'));
          options.cache = { get: async () => undefined, put: quota };
        }
        const cacheOpt = extra === 'indexeddb' ? { cache: 'indexeddb' } : {};
        const before = await w.GPT2.isCached('/pretrained/gpt2-kjv/', cacheOpt);
        const lm = await w.GPT2.load('/pretrained/gpt2-kjv/', options);
        const r = await lm.complete('And God said', { maxNewTokens: 5, stopAtEos: false });
        lm.dispose();
        return { ids: r.sequences[0].ids, errors, before, after: await w.GPT2.isCached('/pretrained/gpt2-kjv/', cacheOpt) };
      },
      `${base}/${OUT}/index.js?${Math.random()}`,
      extra,
    );

  it('the first load fetches and stores, the second makes no request', async () => {
    await page.evaluate(
      async (src: string) => (await (window as any).eval(`import(${JSON.stringify(src)})`)).GPT2.clearCache(),
      `${base}/${OUT}/index.js`,
    );
    requests.length = 0;
    const first = await load();
    const firstRequests = [...requests];
    requests.length = 0;
    const second = await load();
    console.log(`cache: first load ${firstRequests.length} requests (${firstRequests.join(', ')}); second load ${requests.length}`);
    expect(first.before).toBe(false);
    expect(first.after).toBe(true);
    expect(firstRequests).toContain('GET /pretrained/gpt2-kjv/model.safetensors');
    expect(requests).toEqual([]);
    expect(second.ids).toEqual(first.ids);
    expect(first.errors).toEqual([]);
  });

  it('a truncated entry is fetched again; a full cache never fails the load; clearCache() empties it', async () => {
    // cut the cached weights short, keeping the recorded length
    await page.evaluate(async (url: string) => {
      const cache = await caches.open('webgen-models-v1');
      const res = (await cache.match(url))!;
      const bytes = new Uint8Array(await res.arrayBuffer());
      await cache.put(url, new Response(bytes.slice(0, 1000), { headers: { 'x-webgen-bytes': String(bytes.byteLength) } }));
    }, `${base}/pretrained/gpt2-kjv/model.safetensors`);
    requests.length = 0;
    const again = await load();
    expect(requests).toEqual(['GET /pretrained/gpt2-kjv/model.safetensors']);
    requests.length = 0;
    const full = await load('full');
    expect(full.errors.length).toBeGreaterThan(0);
    expect(full.errors).toContain('QuotaExceededError');
    expect(full.ids).toEqual(again.ids);
    await page.evaluate(
      async (src: string) => (await (window as any).eval(`import(${JSON.stringify(src)})`)).GPT2.clearCache('/pretrained/gpt2-kjv/'),
      `${base}/${OUT}/index.js`,
    );
    expect(
      await page.evaluate(
        async (src: string) => (await (window as any).eval(`import(${JSON.stringify(src)})`)).GPT2.isCached('/pretrained/gpt2-kjv/'),
        `${base}/${OUT}/index.js`,
      ),
    ).toBe(false);
  });

  it("cache: 'indexeddb' keeps the files too: the second load makes no request", async () => {
    const src = `${base}/${OUT}/index.js`;
    await page.evaluate(async (src: string) => (await (window as any).eval(`import(${JSON.stringify(src)})`)).GPT2.clearCache(), src); // the Cache API's copy
    requests.length = 0;
    const first = await load('indexeddb');
    expect(requests).toContain('GET /pretrained/gpt2-kjv/model.safetensors');
    requests.length = 0;
    const second = await load('indexeddb');
    expect(requests).toEqual([]);
    expect(first.before).toBe(false);
    expect(second.before).toBe(true);
    expect(second.ids).toEqual(first.ids);
    const cleared = await page.evaluate(async (src: string) => {
      const w = await (window as any).eval(`import(${JSON.stringify(src)})`);
      await w.GPT2.clearCache('/pretrained/gpt2-kjv/', { cache: 'indexeddb' });
      return w.GPT2.isCached('/pretrained/gpt2-kjv/', { cache: 'indexeddb' });
    }, src);
    expect(cleared).toBe(false);
  });
});
