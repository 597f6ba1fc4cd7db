// examples/plain.html and examples/worker.html as a user opens them: the built browser files served
// as plain static files (no bundler, no dev server transforming them), in headless Chromium; greedy
// tokens from the default model equal PyTorch's, in the page and in the worker.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2Tokenizer } from '../../src/loaders/tokenizer.js';
import { CHROMIUM_FLAGS } from '../helpers/browser.js';
import { loadSafetensors } from '../helpers/fixtures.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.map': 'application/json',
};

describe('examples without a bundler', () => {
  let server: Server;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    await build({ configFile: join(ROOT, 'vite.browser.config.ts'), logLevel: 'error' });
    server = createServer((req, res) => {
      const path = normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname));
      const file = join(ROOT, path);
      if (!file.startsWith(ROOT) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': statSync(file).size });
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
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  for (const page of ['plain', 'worker']) {
    it(`examples/${page}.html generates PyTorch's greedy tokens`, async () => {
      const ref = loadSafetensors(join(ROOT, 'pretrained/gpt2-kjv/reference.safetensors'));
      const want = Array.from(ref.ints('greedy_continuation'));
      const dir = join(ROOT, 'pretrained/gpt2-kjv/');
      const tok = GPT2Tokenizer.fromVocabAndMerges(readFileSync(dir + 'vocab.json', 'utf8'), readFileSync(dir + 'merges.txt', 'utf8'));
      const prompt = tok.decode(Array.from(ref.ints('prompt_ids')));
      const tab = await browser.newPage();
      const log: string[] = [];
      tab.on('console', (m) => log.push(m.text()));
      tab.on('pageerror', (e) => log.push(String(e)));
      await tab.goto(`${base}/examples/${page}.html?greedy=1&max=${want.length}&prompt=${encodeURIComponent(prompt)}`);
      await tab.waitForFunction('window.webgenResult !== undefined', { timeout: 300_000 }).catch((e) => {
        throw new Error(`${page}.html did not finish: ${e.message}\n${log.join('\n')}`);
      });
      const r = await tab.evaluate(() => (window as any).webgenResult);
      const shown = await tab.$eval('#out', (el) => el.textContent);
      await tab.close();
      expect(r.error, log.join('\n')).toBeUndefined();
      expect(r.ids).toEqual(want);
      expect(shown).toBe(prompt + r.text);
    });
  }
});
