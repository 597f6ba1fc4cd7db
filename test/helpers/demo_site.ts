// The demo as a visitor meets it: the static site `npm run build` writes (built here, into a folder of
// this test file's own), served as plain files by a small server, in headless Chromium on SwiftShader.
// Screenshots go to test/.out/screenshots/ (gitignored).
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { build } from 'vite';
import { CHROMIUM_FLAGS } from './browser.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const SCREENSHOTS = join(ROOT, 'test/.out/screenshots');

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export interface DemoSite {
  /** The page's URL (index.html). */
  url: string;
  /** The built site's folder. */
  dir: string;
  /** Requests the server saw (paths), for "fetches nothing remote" and caching checks. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Builds the demo into test/.out/demo-<name>/ and serves it on a free port. `extra` maps other paths
 * to files (e.g. a stand-in for the model hub's /<id>/resolve/<revision>/<file>).
 */
export async function serveDemo(name: string, extra?: (path: string) => string | undefined): Promise<DemoSite> {
  const dir = join(ROOT, 'test/.out', `demo-${name}`);
  await build({ configFile: join(ROOT, 'demo/vite.config.ts'), logLevel: 'error', build: { outDir: dir, emptyOutDir: true } });
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    requests.push(path);
    if (path.endsWith('/')) path += 'index.html';
    const file = extra?.(path) ?? join(dir, path);
    if (!(file.startsWith(dir) || extra?.(path)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;
  return { url, dir, requests, close: () => new Promise((r) => server.close(() => r())) };
}

export async function launchChromium(webgpu = true): Promise<Browser> {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: webgpu ? CHROMIUM_FLAGS : CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu'),
    headless: true,
  });
}

export interface DemoPage {
  page: Page;
  /** Console lines, page errors and CSP violations, for failure messages. */
  log: string[];
  /** Content-Security-Policy violations the page reported. */
  violations: string[];
}

/** Opens the demo in a new tab, collecting its console and any CSP violation. */
export async function openDemo(browser: Browser, site: DemoSite, hash = ''): Promise<DemoPage> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  const log: string[] = [];
  const violations: string[] = [];
  page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${(e as Error).message}`));
  await page.exposeFunction('__cspViolation', (v: string) => violations.push(v));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).__cspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });
  await page.goto(site.url + hash);
  return { page, log, violations };
}

/** Saves a screenshot as test/.out/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}
