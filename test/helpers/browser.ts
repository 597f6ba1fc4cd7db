// Headless Chromium (Debian's /usr/bin/chromium) with WebGPU, driven by puppeteer-core, on a page
// served by a Vite dev server started by the test itself. The page exposes the engine as window.webgen.
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createServer, type ViteDevServer } from 'vite';

export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

export interface BrowserSession {
  page: Page;
  browser: Browser;
  server: ViteDevServer;
  url: string;
  /** Console lines the page printed (for failure messages). */
  console: string[];
  close(): Promise<void>;
}

export async function openHarness(path = '/test/browser/harness.html'): Promise<BrowserSession> {
  const server = await createServer({ configFile: false, root: process.cwd(), logLevel: 'error', server: { port: 0, host: '127.0.0.1' } });
  await server.listen();
  const addr = server.httpServer!.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://127.0.0.1:${port}${path}`;
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_FLAGS,
    headless: true,
  });
  const page = await browser.newPage();
  const lines: string[] = [];
  page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`[pageerror] ${(e as Error).message}`));
  await page.goto(url);
  await page.waitForFunction('window.__ready === true', { timeout: 120_000 }).catch((e) => {
    throw new Error(`harness did not load: ${e.message}\n${lines.join('\n')}`);
  });
  return {
    page,
    browser,
    server,
    url,
    console: lines,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
