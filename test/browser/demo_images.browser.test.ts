// The demo's Images tab as a visitor uses it: the built site in headless Chromium (SwiftShader). The
// default DCGAN loads in the tab's worker and fills a grid (not blank, the same for the same seed, new
// for a new seed); an image chosen with the keyboard starts a latent walk whose first frame is that
// image and whose frames differ; the walk's 3-D view (a WebGPU render pipeline of the page's own)
// draws, picks the clicked point's frame, rotates on a drag and comes back after its device is lost;
// Download gives a PNG; a visitor's files load (a typed error for a bad set, the same images for the
// default's weights); and the page reports no Content-Security-Policy violation.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { launchChromium, openDemo, ROOT, screenshot, serveDemo, type DemoPage, type DemoSite } from '../helpers/demo_site.js';

/** What a grid holds: per image, the luminance's standard deviation and a hash of its RGBA bytes. */
interface GridStats {
  std: number[];
  hash: string[];
}

const ready = (page: Page, key: string, value: string, timeout = 120_000) =>
  page.waitForFunction((k, v) => document.getElementById('panel-images')?.dataset[k] === v, { timeout, polling: 100 }, key, value);

const dataset = (page: Page) => page.$eval('#panel-images', (p) => ({ ...(p as HTMLElement).dataset }));

/** Per-image statistics of the grid's canvases, computed in the page. */
function gridStats(page: Page): Promise<GridStats> {
  return page.$$eval('#images-grid canvas', (canvases) => {
    const std: number[] = [];
    const hash: string[] = [];
    for (const c of canvases as HTMLCanvasElement[]) {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let s = 0;
      let s2 = 0;
      let fnv = 0x811c9dc5;
      for (let i = 0; i < d.length; i += 4) {
        const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
        s += y;
        s2 += y * y;
      }
      for (let i = 0; i < d.length; i++) fnv = Math.imul(fnv ^ d[i], 0x01000193) >>> 0;
      const n = d.length / 4;
      std.push(Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2)));
      hash.push(fnv.toString(16));
    }
    return { std, hash };
  });
}

/** RGBA bytes of a 2-D canvas. */
const canvasBytes = (page: Page, selector: string) =>
  page.$eval(selector, (c) => {
    const cv = c as HTMLCanvasElement;
    return Array.from(cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data);
  });

/**
 * The 3-D view drawn and copied onto a 2-D canvas: how many pixels are opaque, and how many differ from
 * its background. A WebGPU canvas' picture is readable only until the page presents it, so the copy is
 * made right after the draw settles (a microtask later, in the same task); a 'copy' view's 2-D canvas
 * keeps its picture.
 */
const walk3dDrawn = (page: Page) =>
  page.evaluate(async () => {
    await (window as any).__demoImages.render3d();
    const cv = document.getElementById('walk3d-canvas') as HTMLCanvasElement;
    const copy = new OffscreenCanvas(cv.width, cv.height);
    const ctx = copy.getContext('2d')!;
    ctx.drawImage(cv, 0, 0);
    const d = ctx.getImageData(0, 0, cv.width, cv.height).data;
    let drawn = 0;
    let opaque = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] !== 255) continue;
      opaque++;
      if (Math.abs(d[i] - 17) + Math.abs(d[i + 1] - 21) + Math.abs(d[i + 2] - 28) > 24) drawn++;
    }
    return { drawn, opaque, pixels: d.length / 4, present: cv.dataset.present };
  });

const setFrame = (page: Page, frame: number) =>
  page.$eval(
    '#walk-frame',
    (el, f) => {
      const input = el as HTMLInputElement;
      input.value = String(f);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    },
    frame,
  );

const meanAbsDiff = (a: number[], b: number[]) => a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0) / a.length;

describe('demo: Images tab', () => {
  let site: DemoSite;
  let browser: Browser;
  let d: DemoPage;
  let page: Page;
  let first: { seed: string; stats: GridStats };
  const t0 = performance.now();
  const seconds = () => ((performance.now() - t0) / 1000).toFixed(1);

  beforeAll(async () => {
    site = await serveDemo('images');
    browser = await launchChromium();
    d = await openDemo(browser, site, '#images');
    page = d.page;
    // a download stays in the page (the test reads the link's blob), not on disk
    const cdp = await page.createCDPSession();
    await cdp
      .send('Browser.setDownloadBehavior', { behavior: 'deny' })
      .catch(() => cdp.send('Page.setDownloadBehavior', { behavior: 'deny' }));
  });
  afterAll(async () => {
    console.log(`demo images: ${seconds()} s in all`);
    await browser?.close();
    await site?.close();
  });
  const onFailure = (name: string) =>
    onTestFailed(async () => {
      console.log(d?.log.join('\n'));
      if (page) await screenshot(page, `demo-images-failed-${name}`).catch(() => {});
    });

  it('loads the default generator and shows a grid of images that are not blank', async () => {
    onFailure('grid');
    await ready(page, 'grid', 'ready');
    const ds = await dataset(page);
    expect(ds.generator).toBe('default');
    const stats = await gridStats(page);
    expect(stats.std).toHaveLength(64);
    // every image has structure (a blank or flat image has a deviation near 0)
    expect(Math.min(...stats.std), `luminance deviations ${stats.std.map((s) => s.toFixed(1))}`).toBeGreaterThan(8);
    expect(new Set(stats.hash).size).toBe(64);
    first = { seed: ds.seed!, stats };

    // crisp upscaling, labels, focus, live status
    const cell = await page.$eval('#images-grid button', (b) => {
      const c = b.querySelector('canvas')!;
      return {
        label: b.getAttribute('aria-label'),
        tabIndex: b.tabIndex,
        rendering: getComputedStyle(c).imageRendering,
        css: c.getBoundingClientRect().width,
        w: c.width,
      };
    });
    expect(cell.label).toMatch(/^Image 1 of 64, seed \d+/);
    expect(cell.tabIndex).toBe(0);
    expect(cell.rendering).toBe('pixelated');
    expect(cell.css).toBe(cell.w * 2);
    expect(await page.$eval('#images-status', (e) => e.getAttribute('aria-live'))).toBe('polite');
    for (const id of ['images-seed', 'walk-frame', 'images-files']) {
      expect(await page.$eval(`#${id}`, (e) => !!(e as HTMLInputElement).labels?.length), `#${id} has a label`).toBe(true);
    }
    await screenshot(page, 'demo-images-grid');
  });

  it('New seed changes the images; the same seed gives the same images again', async () => {
    onFailure('seed');
    await page.click('#images-new-seed');
    await page.waitForFunction((s) => document.getElementById('panel-images')?.dataset.seed !== s, { timeout: 120_000 }, first.seed);
    await ready(page, 'grid', 'ready');
    const other = await gridStats(page);
    expect(other.hash.filter((h, i) => h === first.stats.hash[i]).length).toBe(0);

    await page.$eval('#images-seed', (e, s) => ((e as HTMLInputElement).value = s), first.seed);
    await page.focus('#images-seed');
    await page.keyboard.press('Enter');
    await page.waitForFunction((s) => document.getElementById('panel-images')?.dataset.seed === s, { timeout: 120_000 }, first.seed);
    await ready(page, 'grid', 'ready');
    expect((await gridStats(page)).hash).toEqual(first.stats.hash);
  });

  it('an image chosen with the keyboard starts a walk: its first frame is that image, its frames differ', async () => {
    onFailure('walk');
    // one tab stop in the grid; the arrow keys move, Enter chooses
    await page.focus('#images-grid button[tabindex="0"]');
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index)).toBe('13');
    await page.keyboard.press('Enter');
    await ready(page, 'walkFrom', '13');
    await ready(page, 'walk', 'ready');
    let ds = await dataset(page);
    expect(ds.walkFrom).toBe('13');
    expect(await page.$eval('#images-grid button[data-index="13"]', (b) => b.getAttribute('aria-current'))).toBe('true');
    const frames = await page.evaluate(() => (window as any).__demoImages.frames as number);
    expect(frames).toBe(96);

    // it plays: the frame moves on
    expect(ds.playing).toBe('true');
    const f0 = Number(ds.frame);
    await page.waitForFunction((f) => Number(document.getElementById('panel-images')?.dataset.frame) !== f, { timeout: 5_000 }, f0);
    await page.click('#walk-play');
    ds = await dataset(page);
    expect(ds.playing).toBe('false');
    expect(await page.$eval('#walk-play', (b) => b.textContent)).toBe('Play');

    // frame 0 is image 13's latent through the same engine: the same pixels as the grid's image
    await setFrame(page, 0);
    expect((await dataset(page)).frame).toBe('0');
    const frame0 = await canvasBytes(page, '#walk-canvas');
    const image13 = await canvasBytes(page, '#images-grid button[data-index="13"] canvas');
    expect(frame0.length).toBe(32 * 32 * 4);
    expect(Math.max(...frame0.map((x, i) => Math.abs(x - image13[i])))).toBeLessThanOrEqual(1);
    // frames along the walk differ from it, a little at first, more farther on
    await setFrame(page, 2);
    const frame2 = await canvasBytes(page, '#walk-canvas');
    await setFrame(page, 36);
    const frame36 = await canvasBytes(page, '#walk-canvas');
    expect(meanAbsDiff(frame0, frame2)).toBeGreaterThan(0.05);
    expect(meanAbsDiff(frame0, frame36)).toBeGreaterThan(10);
    expect(meanAbsDiff(frame0, frame36)).toBeGreaterThan(meanAbsDiff(frame0, frame2));
    expect(await page.$eval('#walk-canvas', (c) => getComputedStyle(c).imageRendering)).toBe('pixelated');
  });

  it('draws the walk in 3-D; a click on a point shows that frame; a drag rotates the view', async () => {
    onFailure('walk3d');
    await ready(page, 'walk3d', 'ready', 30_000);
    await page.$eval('#walk3d-canvas', (c) => c.scrollIntoView({ block: 'center' }));
    await new Promise((r) => setTimeout(r, 300));
    const drawn = await walk3dDrawn(page);
    console.log(`demo images: the 3-D view presents by '${drawn.present}'`);
    expect(drawn.opaque).toBe(drawn.pixels);
    expect(drawn.drawn, JSON.stringify(drawn)).toBeGreaterThan(400);

    // the point farthest on screen from every other (so a click can only mean it), not the current frame
    const current = Number((await dataset(page)).frame);
    const points = await page.evaluate(() => (window as any).__demoImages.points() as { x: number; y: number }[]);
    expect(points).toHaveLength(96);
    const box = (await (await page.$('#walk3d-canvas'))!.boundingBox())!;
    let target = -1;
    let room = 0;
    points.forEach((p, i) => {
      const inside = p.x > box.x + 4 && p.x < box.x + box.width - 4 && p.y > box.y + 4 && p.y < box.y + box.height - 4;
      if (i === current || !inside) return;
      const gap = Math.min(...points.map((q, j) => (j === i ? Infinity : Math.hypot(p.x - q.x, p.y - q.y))));
      if (gap > room) [target, room] = [i, gap];
    });
    expect(target).toBeGreaterThanOrEqual(0);
    await page.click('#walk-play'); // playing again: the click must pause it
    expect((await dataset(page)).playing).toBe('true');
    await page.mouse.click(points[target].x, points[target].y);
    await page.waitForFunction((f) => document.getElementById('panel-images')?.dataset.frame === String(f), { timeout: 5_000 }, target);
    const ds = await dataset(page);
    expect(ds.playing).toBe('false');
    expect(await page.$eval('#walk-canvas', (c) => (c as HTMLElement).dataset.frame)).toBe(String(target));
    await new Promise((r) => setTimeout(r, 200));
    await screenshot(page, 'demo-images-walk');

    // a drag turns the view: the points move on screen, the frame stays
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    for (let i = 1; i <= 5; i++) await page.mouse.move(cx + i * 12, cy + i * 3);
    await page.mouse.up();
    const moved = await page.evaluate(() => (window as any).__demoImages.points() as { x: number; y: number }[]);
    expect(Math.max(...moved.map((p, i) => Math.hypot(p.x - points[i].x, p.y - points[i].y)))).toBeGreaterThan(10);
    expect((await dataset(page)).frame).toBe(String(target));
  });

  it('the 3-D view comes back after its device is lost', async () => {
    onFailure('lost');
    const devices = await page.evaluate(() => (window as any).__demoImages.walk3dDevices as number);
    await page.evaluate(() => (window as any).__demoImages.loseWalk3dDevice());
    await page.waitForFunction((n) => (window as any).__demoImages.walk3dDevices > n, { timeout: 30_000 }, devices);
    await ready(page, 'walk3d', 'ready', 30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect((await walk3dDrawn(page)).drawn).toBeGreaterThan(400);
    expect(await page.$eval('#walk3d-status', (e) => e.textContent)).toBe('');
  });

  it('Download saves the shown frame as a PNG', async () => {
    onFailure('download');
    const frame = Number((await dataset(page)).frame);
    await page.click('#images-download');
    await page.waitForFunction(() => !!document.getElementById('panel-images')?.dataset.download, { timeout: 10_000 });
    const out = await page.$eval('#images-download-link', async (a) => {
      const link = a as HTMLAnchorElement;
      const bytes = new Uint8Array(await (await fetch(link.href)).arrayBuffer());
      return { href: link.href, name: link.download, head: Array.from(bytes.subarray(0, 24)) };
    });
    expect(out.href).toMatch(/^blob:/);
    expect(out.name).toMatch(new RegExp(`^webgen-default-seed${first.seed}-image14-frame${frame + 1}\\.png$`));
    expect(out.head.slice(0, 8)).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const u32 = (o: number) => ((out.head[o] << 24) | (out.head[o + 1] << 16) | (out.head[o + 2] << 8) | out.head[o + 3]) >>> 0;
    expect([u32(16), u32(20)]).toEqual([256, 256]); // IHDR: 32x32 upscaled 8x
  });

  it("loads a visitor's generator files: a typed error for a bad set, the default's weights give the same images", async () => {
    onFailure('load');
    const input = (await page.$('#images-files')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(join(ROOT, 'pretrained/dcgan-emoji/config.json'));
    await page.waitForFunction(() => !!document.getElementById('images-load-error')?.textContent, { timeout: 30_000 });
    const error = await page.$eval('#images-load-error', (e) => ({ text: e.textContent!, role: e.getAttribute('role') }));
    expect(error.text).toMatch(/^ModelFormatError: .*model\.safetensors/);
    expect(error.text).not.toContain('\n');
    expect(error.role).toBe('alert');
    expect((await dataset(page)).generator).toBe('default'); // still the default

    await input.uploadFile(join(ROOT, 'pretrained/dcgan-emoji/model.safetensors'), join(ROOT, 'pretrained/dcgan-emoji/config.json'));
    await page.waitForFunction(() => document.getElementById('panel-images')?.dataset.generator === 'model.safetensors', {
      timeout: 60_000,
    });
    await ready(page, 'grid', 'ready');
    const ds = await dataset(page);
    expect(ds.seed).toBe(first.seed);
    expect(ds.walk).toBe('none');
    expect(await page.$eval('#images-load-error', (e) => e.textContent)).toBe('');
    expect((await gridStats(page)).hash).toEqual(first.stats.hash);
    expect(await page.$eval('#images-use-default', (b) => (b as HTMLElement).hidden)).toBe(false);

    // a mouse click on an image walks on the visitor's generator too
    await page.click('#images-grid button[data-index="40"]');
    await page.waitForFunction(() => document.getElementById('panel-images')?.dataset.walkFrom === '40', { timeout: 120_000 });
    await ready(page, 'walk', 'ready');
    await page.click('#walk-play');
    await setFrame(page, 0);
    const frame0 = await canvasBytes(page, '#walk-canvas');
    const image40 = await canvasBytes(page, '#images-grid button[data-index="40"] canvas');
    expect(Math.max(...frame0.map((x, i) => Math.abs(x - image40[i])))).toBeLessThanOrEqual(1);
    await setFrame(page, 60);
    expect(meanAbsDiff(frame0, await canvasBytes(page, '#walk-canvas'))).toBeGreaterThan(10);
  });

  it('reports no Content-Security-Policy violation and no page error', () => {
    expect(d.violations).toEqual([]);
    // the one request that may fail: the engine asks whether the default has a generator.json (it has not)
    const missing = [...new Set(site.requests)].filter((r) => !existsSync(join(site.dir, r.endsWith('/') ? r + 'index.html' : r)));
    expect(missing.filter((r) => r !== '/favicon.ico')).toEqual(['/models/dcgan-emoji/generator.json']);
    const notFound = (l: string) => /^\[error\] Failed to load resource: .* 404/.test(l);
    expect(d.log.filter((l) => (l.startsWith('[pageerror]') || l.startsWith('[error]')) && !notFound(l))).toEqual([]);
    console.log(`demo images: the tab's checks passed in ${seconds()} s`);
  });
});
