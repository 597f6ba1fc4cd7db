// The demo page end to end, as a visitor meets it: the built static site (dist/demo's build) served as
// plain files, in headless Chromium on SwiftShader, under its strict Content-Security-Policy. The
// default model loads with progress; greedy text equals PyTorch's and streams; Stop stops; the main
// thread has no long task while generating; two chat turns, the second prefilling only its new
// tokens; other models from a hub id, picked files and dropped files; no WebGPU gives a message.
// Screenshots: test/.out/screenshots/demo-*.png. The Images and Benchmarks tabs have their own files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2Tokenizer } from '../../src/loaders/tokenizer.js';
import { launchChromium, openDemo, ROOT, screenshot, serveDemo, type DemoPage, type DemoSite } from '../helpers/demo_site.js';
import { loadSafetensors } from '../helpers/fixtures.js';

const MODEL = join(ROOT, 'pretrained/gpt2-kjv/');
const FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];
const tok = GPT2Tokenizer.fromVocabAndMerges(readFileSync(MODEL + 'vocab.json', 'utf8'), readFileSync(MODEL + 'merges.txt', 'utf8'));
const ref = loadSafetensors(MODEL + 'reference.safetensors');
const GREEDY = Array.from(ref.ints('greedy_continuation'));
const PROMPT = tok.decode(Array.from(ref.ints('prompt_ids')));

/** Sets an input's value as a user would (select all, type). */
async function fill(page: Page, selector: string, value: string) {
  await page.$eval(selector, (el) => ((el as HTMLInputElement).value = ''));
  await page.type(selector, value);
}

async function select(page: Page, selector: string, value: string) {
  await page.select(selector, value);
}

const state = (page: Page, panel: string) => page.$eval(`#panel-${panel}`, (el) => (el as HTMLElement).dataset.state);

async function waitState(d: DemoPage, panel: string, states: string[], timeout = 240_000) {
  await d.page
    .waitForFunction(
      (p: string, s: string[]) => s.includes(document.getElementById(`panel-${p}`)!.dataset.state ?? ''),
      { timeout },
      panel,
      states,
    )
    .catch((e) => {
      throw new Error(`#panel-${panel} never reached ${states.join('/')}: ${e.message}\n${d.log.join('\n')}`);
    });
}

async function waitModel(d: DemoPage, timeout = 240_000) {
  await d.page
    .waitForFunction(() => document.body.dataset.gpt2 === 'ready', { timeout })
    .catch(async (e) => {
      const err = await d.page.$eval('#model-error', (el) => el.textContent).catch(() => '');
      throw new Error(`the model did not load: ${e.message} ${err}\n${d.log.join('\n')}`);
    });
}

describe('demo page', () => {
  let site: DemoSite;
  let browser: Browser;
  let d: DemoPage;
  const remote: string[] = [];

  beforeAll(async () => {
    // a stand-in for the model hub: /<owner>/<name>/resolve/<revision>/<file>
    site = await serveDemo('main', (path) => {
      const m = /^\/webgen\/gpt2-kjv\/resolve\/main\/([^/]+)$/.exec(path);
      return m && FILES.includes(m[1]) ? MODEL + m[1] : undefined;
    });
    browser = await launchChromium();
    d = await openDemo(browser, site);
    d.page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(site.url) && !u.startsWith('data:') && !u.startsWith('blob:')) remote.push(u);
    });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it('loads the default model with progress and shows the adapter and its memory', async () => {
    await d.page.waitForFunction(() => document.body.dataset.webgpu === 'yes', { timeout: 60_000 });
    expect(await d.page.$eval('#adapter', (el) => el.textContent)).toMatch(/WebGPU adapter: .*swiftshader/i);
    // the progress bar shows while it loads (checked before the load can finish: the first frame)
    await waitModel(d);
    const status = await d.page.$eval('#model-status', (el) => ({
      text: el.textContent!,
      memory: Number((el as HTMLElement).dataset.memory),
    }));
    expect(status.text).toMatch(/default \(gpt2-kjv\) · f16 weights · 4 layers, 192 wide/);
    expect(status.memory).toBeGreaterThan(1_000_000);
    expect(site.requests).toContain('/models/gpt2-kjv/model.safetensors');
  });

  it("greedy text equals PyTorch's, appears piece by piece, with time to first token and tokens per second; the main thread stays free", async () => {
    const page = d.page;
    await fill(page, '#text-prompt', PROMPT);
    await select(page, '#text-mode', 'greedy');
    await fill(page, '#text-penalty', '1'); // PyTorch's reference is plain greedy
    await fill(page, '#text-max', String(GREEDY.length));
    await page.evaluate(() => {
      const w = window as any;
      w.__growth = [];
      new MutationObserver(() => w.__growth.push(performance.now())).observe(document.getElementById('text-continuation')!, {
        childList: true,
        characterData: true,
        subtree: true,
      });
      w.__longTasks = [];
      new PerformanceObserver((list) =>
        w.__longTasks.push(...list.getEntries().map((e) => ({ start: e.startTime, ms: e.duration }))),
      ).observe({
        type: 'longtask',
      });
      w.__t0 = performance.now();
    });
    await page.click('#text-generate');
    await waitState(d, 'text', ['done', 'error']);
    const r = await page.evaluate(() => {
      const w = window as any;
      const stats = document.getElementById('text-stats')!;
      return {
        text: document.getElementById('text-continuation')!.textContent,
        shownPrompt: document.querySelector('#text-output .prompt')!.textContent,
        growth: w.__growth as number[],
        longTasks: (w.__longTasks as { start: number; ms: number }[]).filter((t) => t.start >= w.__t0),
        ttft: Number(stats.dataset.ttftMs),
        rate: Number(stats.dataset.tokensPerSecond),
        stats: stats.textContent,
        error: document.getElementById('text-error')!.textContent,
      };
    });
    expect(r.error).toBe('');
    expect(r.text).toBe(tok.decode(GREEDY));
    expect(r.shownPrompt).toBe(PROMPT);
    expect(r.growth.length).toBeGreaterThan(5); // streamed, not shown at the end
    expect(r.growth[r.growth.length - 1] - r.growth[0]).toBeGreaterThan(50);
    expect(r.ttft).toBeGreaterThan(0);
    expect(r.rate).toBeGreaterThan(0);
    expect(r.longTasks, 'main-thread tasks over 50 ms while generating').toEqual([]);
    console.log(`demo page, default model (f16) on SwiftShader: ${r.stats}`);
    await screenshot(page, 'demo-text');
  });

  it('Stop ends a long generation mid-way and the page stays usable', async () => {
    const page = d.page;
    await select(page, '#text-mode', 'sample');
    await fill(page, '#text-max', '200');
    await page.click('#text-generate');
    await page.waitForFunction(() => Number(document.getElementById('panel-text')!.dataset.pieces ?? 0) >= 3, { timeout: 120_000 });
    await page.click('#text-stop');
    await waitState(d, 'text', ['stopped', 'done']);
    expect(await state(page, 'text')).toBe('stopped');
    const pieces = await page.$eval('#panel-text', (el) => Number((el as HTMLElement).dataset.pieces));
    expect(pieces).toBeLessThan(200);
    expect(await page.$eval('#text-generate', (el) => (el as HTMLButtonElement).disabled)).toBe(false);
  });

  it('two chat turns: the second prefills only its new tokens; the context meter grows', async () => {
    const page = d.page;
    await page.click('#tab-chat');
    await page.waitForSelector('#panel-chat #model-box'); // the model box moved to this tab
    await select(page, '#chat-mode', 'greedy');
    await fill(page, '#chat-max', '10');
    await fill(page, '#chat-stop-at', ' '); // no stop string: each reply runs to its length
    await page.$eval('#chat-stop-at', (el) => ((el as HTMLInputElement).value = ''));
    const turns = ['Who made the light?', 'And what of the darkness?'];
    const used: number[] = [];
    for (const [i, text] of turns.entries()) {
      await fill(page, '#chat-input', text);
      await page.keyboard.press('Enter'); // Enter sends
      await page.waitForFunction(
        (n: number) => document.getElementById('panel-chat')!.dataset.turns === String(n),
        { timeout: 120_000 },
        i + 1,
      );
      expect(await state(page, 'chat')).toBe('done');
      used.push(await page.$eval('#panel-chat', (el) => Number((el as HTMLElement).dataset.contextUsed)));
    }
    const items = await page.$$eval('#chat-log li.turn', (els) =>
      els.map((el) => ({ prefill: Number((el as HTMLElement).dataset.prefill), generated: Number((el as HTMLElement).dataset.generated) })),
    );
    const preamble = tok.encode(await page.$eval('#chat-preamble', (el) => (el as HTMLTextAreaElement).value));
    const sent = turns.map((t) => tok.encode(`\nQ: ${t}\nA:`));
    expect(items[0]).toEqual({ prefill: preamble.length + sent[0].length, generated: 10 });
    expect(items[1]).toEqual({ prefill: sent[1].length + 1, generated: 10 }); // its text and the last reply token
    expect(used).toEqual([preamble.length + sent[0].length + 10, preamble.length + sent[0].length + 10 + sent[1].length + 10]);
    console.log(`demo chat: turn prefills ${items.map((t) => t.prefill).join(', ')} tokens; context used ${used.join(', ')}`);
    await screenshot(page, 'demo-chat');
  });

  it('loads another GPT-2 from a hub id (f32), from picked files and from dropped files; a bad folder gets a typed message', async () => {
    const page = d.page;
    await page.click('#tab-text');
    await page.$eval('#model-other', (el) => ((el as HTMLDetailsElement).open = true));
    const load = async (name: RegExp) => {
      await page.click('#model-load');
      await page.waitForFunction(() => document.body.dataset.gpt2 === 'loading', { timeout: 30_000 });
      await waitModel(d);
      expect(await page.$eval('#model-error', (el) => el.textContent)).toBe('');
      expect(await page.$eval('#model-status', (el) => el.textContent)).toMatch(name);
    };
    await select(page, '#model-source', 'hub');
    await select(page, '#model-dtype', 'f32');
    await fill(page, '#model-hub', 'webgen/gpt2-kjv');
    await fill(page, '#model-hub-host', site.url.replace(/\/$/, ''));
    await load(/Model: webgen\/gpt2-kjv · f32 weights/);
    expect(site.requests).toContain('/webgen/gpt2-kjv/resolve/main/model.safetensors');

    // greedy text from the hub's copy, in f32: PyTorch's again
    await select(page, '#text-mode', 'greedy');
    await fill(page, '#text-prompt', PROMPT);
    await fill(page, '#text-max', String(GREEDY.length));
    await page.click('#text-generate');
    await waitState(d, 'text', ['done', 'error']);
    expect(await page.$eval('#text-continuation', (el) => el.textContent)).toBe(tok.decode(GREEDY));

    await select(page, '#model-source', 'files');
    const picker = await page.$('#model-files');
    await (picker as any).uploadFile(...FILES.map((f) => MODEL + f));
    await load(/Model: local files · f32 weights/);

    // drag and drop: Files made in the page from the site's copy, dropped on the zone
    await page.evaluate(async (files: string[]) => {
      const dt = new DataTransfer();
      for (const f of files) dt.items.add(new File([await (await fetch(`./models/gpt2-kjv/${f}`)).blob()], f));
      document.getElementById('model-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, FILES);
    expect(await page.$eval('#model-drop', (el) => el.textContent)).toMatch(/config.json, merges.txt, model.safetensors, vocab.json/);
    await load(/Model: local files/);

    // only the weights, no config.json: a typed error that names what is missing
    await page.evaluate(async () => {
      const dt = new DataTransfer();
      dt.items.add(new File([await (await fetch('./models/gpt2-kjv/model.safetensors')).blob()], 'model.safetensors'));
      document.getElementById('model-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.click('#model-load');
    await page.waitForFunction(() => document.getElementById('model-error')!.textContent !== '', { timeout: 60_000 });
    expect(await page.$eval('#model-error', (el) => el.textContent)).toMatch(/Could not load local files: \w+Error: .*config\.json/);
    expect(await page.$eval('#model-status', (el) => el.textContent)).toMatch(/Model: local files/); // the loaded model stays
  });

  it('under its Content-Security-Policy nothing was blocked, nothing remote was fetched, and no page error', async () => {
    expect(d.violations).toEqual([]);
    expect(remote).toEqual([]);
    expect(d.log.filter((l) => l.startsWith('[pageerror]'))).toEqual([]);
    const csp = await d.page.$eval('meta[http-equiv="Content-Security-Policy"]', (el) => el.getAttribute('content'));
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(await d.page.$$eval('script:not([src])', (els) => els.length)).toBe(0);
    // every control has a label (a <label> around it, or aria-label)
    const unlabelled = await d.page.$$eval('input, select, textarea, button, progress, meter', (els) =>
      els
        .filter((el) => !(el as HTMLElement).closest('label') && !el.getAttribute('aria-label') && !(el.textContent ?? '').trim())
        .filter((el) => (el as HTMLInputElement).type !== 'hidden')
        .map((el) => el.id || el.outerHTML.slice(0, 60)),
    );
    expect(unlabelled).toEqual([]);
  });

  it('tabs work from the keyboard', async () => {
    const page = d.page;
    await page.focus('#tab-text');
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-chat');
    expect(await page.$eval('#panel-chat', (el) => (el as HTMLElement).hidden)).toBe(false);
    await page.keyboard.press('End');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-bench');
    await page.keyboard.press('Home');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-text');
  });

  it('without WebGPU the page says what the browser needs', async () => {
    const plain = await launchChromium(false);
    try {
      const n = await openDemo(plain, site);
      await n.page.waitForFunction(() => document.body.dataset.webgpu === 'none', { timeout: 60_000 });
      const shown = await n.page.$eval('#no-webgpu', (el) => !(el as HTMLElement).hidden && el.textContent);
      expect(shown).toMatch(/This page needs WebGPU/);
      expect(shown).toMatch(/enable-unsafe-webgpu/);
      expect(await n.page.$eval('#app', (el) => (el as HTMLElement).hidden)).toBe(true);
      expect(n.violations).toEqual([]);
      await screenshot(n.page, 'demo-no-webgpu');
    } finally {
      await plain.close();
    }
  });
});
