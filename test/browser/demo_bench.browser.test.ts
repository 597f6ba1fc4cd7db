// The demo's Benchmarks tab as a visitor uses it: the built site in headless Chromium (SwiftShader),
// one small kernel case (the decode matmul of GPT-2's attention projection, quick) run through the
// tab's worker, its figure in the results table and in the Chart.js chart, TensorFlow.js beside it,
// and no Content-Security-Policy violation in the page or in the worker.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openDemo, screenshot, serveDemo, type DemoPage, type DemoSite } from '../helpers/demo_site.js';

const CASE = 'decode 1x768x2304 attn.c_attn';
const settled = () => ['done', 'error', 'idle'].includes(document.getElementById('panel-bench')?.dataset.state ?? '');
const FILTER = '^matmul decode 1x768x2304';

interface Figure {
  median: number;
  min: number;
  max: number;
  n: number;
}
interface Row {
  group: string;
  case: string;
  engine: string;
  ms?: Figure;
  flops?: number;
  bytes?: number;
  error?: string;
}
interface ChartSummary {
  group: string;
  unit: string;
  labels: string[];
  datasets: { label: string; data: (number | null)[] }[];
}

describe('demo: Benchmarks tab', () => {
  let site: DemoSite;
  let browser: Browser;
  beforeAll(async () => {
    site = await serveDemo('bench');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it('keeps the charts and the benchmarks out of the first load', () => {
    const html = readFileSync(join(site.dir, 'index.html'), 'utf8');
    const entry = /<script type="module"[^>]* src="\.\/([^"]+)"/.exec(html)?.[1];
    expect(entry).toBeDefined();
    const js = readFileSync(join(site.dir, entry!), 'utf8');
    expect(js).toContain('bench_tab'); // the lazy chunk, by name
    expect(js).not.toContain('Canvas is already in use'); // Chart.js
    expect(js).not.toContain('bench_worker');
  });

  it('runs a kernel case in its worker and shows GFLOP/s in the table and the chart, under the CSP', async () => {
    const t0 = performance.now();
    let d: DemoPage | undefined;
    try {
      d = await openDemo(browser, site, '#bench');
      const { page } = d;
      await page.waitForSelector('#bench-run', { timeout: 60_000 });
      expect(await page.$eval('#panel-bench', (p) => (p as HTMLElement).dataset.state)).toBe('idle');
      // the worker (and TF.js with it) loads on Run, not before
      expect(site.requests.some((r) => r.includes('bench_worker'))).toBe(false);

      // one suite, quick, one case
      await setSuites(page, { kernels: true, gpt2: false, gan: false });
      for (const id of ['#bench-quick', '#bench-tfjs']) expect(await page.$eval(id, (e) => (e as HTMLInputElement).checked)).toBe(true);
      await page.type('#bench-filter', FILTER);
      await page.click('#bench-run');
      await page.waitForFunction(() => document.getElementById('panel-bench')?.dataset.state === 'running', { timeout: 10_000 });
      expect(await page.$eval('#bench-run', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
      expect(await page.$eval('#bench-stop', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
      await page.waitForFunction(settled, { timeout: 150_000, polling: 250 });
      const state = await page.$eval('#panel-bench', (p) => (p as HTMLElement).dataset.state);
      const logText = await page.$eval('#bench-log', (e) => e.textContent ?? '');
      expect(state, `${logText}\n${d.log.join('\n')}`).toBe('done');
      expect(site.requests.some((r) => r.includes('bench_worker'))).toBe(true);

      const out = await page.evaluate(() => {
        const b = (window as any).__demoBench;
        return { rows: b.rows as Row[], charts: b.charts() as ChartSummary[], env: b.env, violations: b.violations as string[] };
      });
      // the one case, webgen's figure finite and positive
      expect(out.rows.every((r) => r.group === 'matmul' && r.case === CASE)).toBe(true);
      const mine = out.rows.find((r) => r.engine === 'webgen f32')!;
      expect(mine?.error).toBeUndefined();
      expect(mine.ms!.median).toBeGreaterThan(0);
      expect(Number.isFinite(mine.ms!.median)).toBe(true);
      const gflops = mine.flops! / (mine.ms!.median * 1e6);
      expect(gflops).toBeGreaterThan(0);
      expect(Number.isFinite(gflops)).toBe(true);

      // in the results table: the row of webgen f32, its GFLOP/s column
      const table = await page.$eval('#bench-results section[data-group="matmul"] table', (t) => {
        const heads = [...t.querySelectorAll('thead th')].map((th) => th.textContent);
        const cells = [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent ?? ''));
        return { heads, cells };
      });
      const col = table.heads.indexOf('GFLOP/s');
      expect(col).toBeGreaterThan(0);
      const tableRow = table.cells.find((c) => c[0] === CASE && c[1] === 'webgen f32')!;
      expect(tableRow).toBeDefined();
      const shown = Number(tableRow[col]);
      expect(shown).toBeGreaterThan(0);
      expect(Math.abs(shown - gflops) / gflops).toBeLessThan(0.06); // printed to 2-3 digits

      // in the chart: Chart.js' data holds the same figure
      const chart = out.charts.find((c) => c.group === 'matmul')!;
      expect(chart.unit).toBe('GFLOP/s');
      expect(chart.labels).toEqual([CASE]);
      const series = chart.datasets.find((s) => s.label === 'webgen f32')!;
      expect(series.data[0]).toBeCloseTo(gflops, 6);
      const box = await page.$eval('#bench-results section[data-group="matmul"] canvas', (c) => {
        const r = c.getBoundingClientRect();
        return { w: r.width, h: r.height };
      });
      expect(box.w).toBeGreaterThan(200);
      expect(box.h).toBeGreaterThan(80);

      // TensorFlow.js ran beside it, in the same worker, under the page's policy
      expect(out.env?.tfjs?.error).toBeUndefined();
      expect(out.env?.tfjs?.version).toBe('4.22.0');
      const tf = out.rows.filter((r) => r.engine.startsWith('tfjs'));
      expect(tf.length).toBeGreaterThan(0);
      for (const r of tf) expect(r.ms!.median, `${r.engine}: ${r.error}`).toBeGreaterThan(0);
      expect(chart.datasets.map((s) => s.label)).toEqual(expect.arrayContaining(['webgen f32', ...tf.map((r) => r.engine)]));

      expect(d.violations).toEqual([]);
      expect(out.violations).toEqual([]);
      expect(await page.$eval('#bench-log', (e) => e.getAttribute('aria-live'))).toBe('polite');

      // "Download JSON": the rows and the environment, as a file
      const downloads = mkdtempSync(join(tmpdir(), 'demo-bench-'));
      try {
        const cdp = await page.createCDPSession();
        await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
        expect(await page.$eval('#bench-download', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
        await page.click('#bench-download');
        const t = Date.now();
        while (!readdirSync(downloads).some((f) => f.endsWith('.json')) && Date.now() - t < 10_000)
          await new Promise((r) => setTimeout(r, 100));
        const file = readdirSync(downloads).find((f) => f.endsWith('.json'));
        expect(file).toMatch(/^webgen-bench-.*\.json$/);
        const report = JSON.parse(readFileSync(join(downloads, file!), 'utf8'));
        expect(report.rows).toEqual(out.rows);
        expect(report.quick).toBe(true);
        expect(report.env.runtime).toBe('chromium');
        expect(report.env.adapter).toEqual(out.env.adapter);
      } finally {
        rmSync(downloads, { recursive: true, force: true });
      }

      await screenshot(page, 'demo-bench');
      const env = await page.$eval('#bench-env', (e) => e.textContent);
      console.log(
        `demo bench (${((performance.now() - t0) / 1000).toFixed(1)} s): ${env}\n` +
          out.rows
            .map(
              (r) =>
                `  ${r.engine}: ${r.ms ? `${r.ms.median.toPrecision(3)} ms, ${(r.flops! / (r.ms.median * 1e6)).toFixed(2)} GFLOP/s` : r.error}`,
            )
            .join('\n'),
      );
    } catch (e) {
      if (d) {
        await screenshot(d.page, 'demo-bench-failed').catch(() => {});
        console.log(d.log.join('\n'));
      }
      throw e;
    } finally {
      await d?.page.close();
    }
  });

  it('stops a run: the worker ends, the controls come back', async () => {
    const d = await openDemo(browser, site, '#bench');
    try {
      const { page } = d;
      await page.waitForSelector('#bench-run', { timeout: 60_000 });
      await setSuites(page, { kernels: false, gpt2: false, gan: true });
      await page.click('#bench-run');
      // the GAN suite makes its weights and loads the first generator: seconds on SwiftShader
      await page.waitForFunction(() => document.getElementById('bench-log')?.textContent?.includes('gan:'), { timeout: 60_000 });
      await page.click('#bench-stop');
      expect(await page.$eval('#panel-bench', (p) => (p as HTMLElement).dataset.state)).toBe('idle');
      expect(await page.$eval('#bench-run', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
      expect(await page.$eval('#bench-stop', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
      const log = await page.$eval('#bench-log', (e) => e.textContent ?? '');
      expect(log).toMatch(/Stopped; \d+ results? kept\.\n$/);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await page.$eval('#bench-log', (e) => e.textContent ?? '')).toBe(log); // nothing more from the worker
      expect(d.violations).toEqual([]);
    } finally {
      await d.page.close();
    }
  });

  it('runs the worker under the page policy: without its WebAssembly guard, TF.js is reported', async () => {
    // The tab reads the page's policy to decide; here the meta tag's text (not the policy in force,
    // which a document fixes when it reads the tag) claims 'wasm-unsafe-eval', so the guard stays off.
    const d = await openDemo(browser, site, '#bench');
    try {
      const { page } = d;
      await page.waitForSelector('#bench-run', { timeout: 60_000 });
      await page.evaluate(() => {
        const meta = document.querySelector('meta[http-equiv="Content-Security-Policy"]')!;
        meta.setAttribute('content', meta.getAttribute('content')!.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'"));
      });
      await setSuites(page, { kernels: true, gpt2: false, gan: false });
      await page.type('#bench-filter', 'no case has this name');
      await page.click('#bench-run');
      await page.waitForFunction(settled, { timeout: 60_000, polling: 250 });
      expect(await page.$eval('#panel-bench', (p) => (p as HTMLElement).dataset.state)).toBe('done');
      const out = await page.evaluate(() => ({ v: (window as any).__demoBench.violations, env: (window as any).__demoBench.env }));
      expect(out.env.wasm).toBe('allowed');
      expect(out.env.tfjs.error).toBeUndefined();
      // long.js (inside TF.js) compiling its WebAssembly, refused by the page's script-src
      expect(out.v.length).toBeGreaterThan(0);
      expect(out.v.every((v: string) => v.startsWith('script-src wasm-eval'))).toBe(true);
      expect(await page.$eval('#bench-log', (e) => e.textContent)).toContain('Done: no case matched the filter.');
    } finally {
      await d.page.close();
    }
  });
});

async function setSuites(page: Page, suites: Record<'kernels' | 'gpt2' | 'gan', boolean>): Promise<void> {
  for (const [name, on] of Object.entries(suites)) {
    const id = `#bench-suite-${name}`;
    if ((await page.$eval(id, (e) => (e as HTMLInputElement).checked)) !== on) await page.click(id);
  }
}
