// The worker engine in headless Chromium: models loaded and run in a Web Worker (the worker entry,
// src/worker/worker.ts) through connectWorker(), against PyTorch's greedy tokens and the in-page
// engine; abort across the boundary, the generation queue, typed errors, the GAN, dispose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type BrowserSession } from '../helpers/browser.js';
import { loadSafetensors } from '../helpers/fixtures.js';

const WORKER = '/src/worker/worker.ts';

describe('worker engine in Chromium', () => {
  let s: BrowserSession;
  beforeAll(async () => {
    s = await openHarness();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('loads the default model in a worker with progress; greedy tokens equal PyTorch, pieces stream', async () => {
    const ref = loadSafetensors(new URL('../../pretrained/gpt2-kjv/reference.safetensors', import.meta.url).pathname);
    const prompt = Array.from(ref.ints('prompt_ids'));
    const want = Array.from(ref.ints('greedy_continuation'));
    const r = await s.page.evaluate(
      async (url: string, prompt: number[], n: number) => {
        const w = (window as any).webgen;
        const engine = w.connectWorker(new Worker(url, { type: 'module' }));
        const progress: string[] = [];
        const lm = await engine.loadGPT2('/pretrained/gpt2-kjv/', { dtype: 'f16', onProgress: (p: any) => progress.push(p.file) });
        let streamed = '';
        const it = lm.generate(prompt, { maxNewTokens: n, stopAtEos: false });
        let res;
        for (;;) {
          const step = await it.next();
          if (step.done) {
            res = step.value;
            break;
          }
          streamed += step.value.text;
        }
        const logits = await lm.logits(prompt);
        await lm.dispose();
        engine.terminate();
        return {
          ids: res.sequences[0].ids,
          text: res.sequences[0].text,
          streamed,
          progress,
          logitsLength: logits.length,
          vocab: lm.config.vocabSize,
        };
      },
      WORKER,
      prompt,
      want.length,
    );
    expect(r.ids).toEqual(want);
    expect(r.streamed).toBe(r.text);
    expect(r.progress).toContain('model.safetensors');
    expect(r.logitsLength).toBe(prompt.length * r.vocab);
  });

  it('a conversation in the worker keeps its cache: turn 2 prefills only its new tokens; replies equal greedy generation from scratch', async () => {
    const r = await s.page.evaluate(async (url: string) => {
      const w = (window as any).webgen;
      const engine = w.connectWorker(new Worker(url, { type: 'module' }));
      const lm = await engine.loadGPT2('/pretrained/gpt2-kjv/');
      const o = { maxNewTokens: 12, stopAtEos: false, greedy: true };
      const chat = lm.conversation({ preamble: 'And God said,' });
      const turns = [];
      for (const text of [' Let there be light:', '\nAnd the evening']) {
        const before = chat.state ? chat.state.tokens : (await chat.reset()).tokens;
        let streamed = '';
        const it = chat.say(text, o);
        let res;
        for (;;) {
          const step = await it.next();
          if (step.done) {
            res = step.value;
            break;
          }
          streamed += step.value.text;
        }
        const after = chat.state.tokens;
        const newIds = after.slice(before.length, after.length - res.sequences[0].ids.length);
        const scratch = await lm.complete([...before, ...newIds], o);
        turns.push({
          ids: res.sequences[0].ids,
          scratch: scratch.sequences[0].ids,
          streamed,
          text: res.sequences[0].text,
          prefill: res.prefillTokens,
          newIds: newIds.length,
          used: chat.state.contextUsed,
        });
      }
      const mem = await lm.memoryBytes();
      await chat.dispose();
      const memAfter = await lm.memoryBytes();
      await lm.dispose();
      engine.terminate();
      return { turns, mem, memAfter };
    }, WORKER);
    for (const t of r.turns) {
      expect(t.ids).toEqual(t.scratch);
      expect(t.streamed).toBe(t.text);
    }
    expect(r.turns[1].prefill).toBe(r.turns[1].newIds + 1);
    expect(r.mem).toBeGreaterThan(r.memAfter); // the conversation's cache went with it
  });

  it("dtype 'q8' in the worker: the in-page engine's q8 tokens and logits, and less GPU memory than f16", async () => {
    const r = await s.page.evaluate(async (url: string) => {
      const w = (window as any).webgen;
      const engine = w.connectWorker(new Worker(url, { type: 'module' }));
      const greedy = { maxNewTokens: 12, stopAtEos: false };
      const lm = await engine.loadGPT2('/pretrained/gpt2-kjv/', { dtype: 'q8' });
      const inWorker = await lm.complete('And God said', greedy);
      const workerLogits = Array.from((await lm.logits([5, 6, 7])) as Float32Array);
      const memQ8 = await lm.memoryBytes();
      await lm.dispose();
      const f16 = await engine.loadGPT2('/pretrained/gpt2-kjv/', { dtype: 'f16' });
      await f16.complete('And God said', greedy);
      const memF16 = await f16.memoryBytes();
      await f16.dispose();
      engine.terminate();
      const page = await w.GPT2.load('/pretrained/gpt2-kjv/', { dtype: 'q8' });
      const inPage = await page.complete('And God said', greedy);
      const pageLogits = Array.from((await page.logits([5, 6, 7])) as Float32Array);
      page.dispose();
      return { worker: inWorker.sequences[0].ids, page: inPage.sequences[0].ids, workerLogits, pageLogits, memQ8, memF16 };
    }, WORKER);
    expect(r.worker).toEqual(r.page);
    expect(r.workerLogits).toEqual(r.pageLogits);
    expect(r.memQ8).toBeLessThan(r.memF16);
  });

  it('an AbortSignal stops the worker loop; queued generations run in order; ifBusy reject; errors keep their class and code', async () => {
    const r = await s.page.evaluate(async (url: string) => {
      const w = (window as any).webgen;
      const engine = w.connectWorker(new Worker(url, { type: 'module' }));
      const lm = await engine.loadGPT2('/pretrained/gpt2-kjv/', { dtype: 'f16' });
      const greedy = { maxNewTokens: 6, stopAtEos: false };
      const alone = await lm.complete('And God said', greedy);

      // abort after 3 pieces of a 200-token generation
      const ctl = new AbortController();
      let pieces = 0;
      let abortName = '';
      const t0 = performance.now();
      try {
        for await (const _ of lm.generate('And the LORD', { maxNewTokens: 200, stopAtEos: false, signal: ctl.signal })) {
          if (++pieces === 3) ctl.abort();
        }
      } catch (e: any) {
        abortName = e?.name;
      }
      const abortMs = performance.now() - t0;
      // the worker's model is free again: this runs now, not after 197 more tokens
      const t1 = performance.now();
      const after = await lm.complete('And God said', greedy);
      const afterMs = performance.now() - t1;

      // two at once: the second waits for the first (first in, first out), both as when run alone
      const order: number[] = [];
      const [a, b] = await Promise.all([
        lm.complete('And God said', greedy).then((x: any) => (order.push(1), x)),
        lm.complete('And God said', { ...greedy, maxNewTokens: 3 }).then((x: any) => (order.push(2), x)),
      ]);
      // ifBusy: 'reject' while another runs
      const running = lm.complete('And God said', greedy);
      let busy: any = {};
      try {
        await lm.complete('And God said', { ...greedy, ifBusy: 'reject' });
      } catch (e: any) {
        busy = { name: e.name, code: e.code, isOption: e instanceof w.OptionError, message: e.message };
      }
      await running;
      // a bad option: the OptionError thrown in the worker arrives as one here
      let bad: any = {};
      try {
        await lm.complete('And God said', { temperature: -1 });
      } catch (e: any) {
        bad = { name: e.name, code: e.code, isOption: e instanceof w.OptionError, message: e.message };
      }
      let missing: any = {};
      try {
        await engine.loadGPT2('/no/such/model/');
      } catch (e: any) {
        missing = { name: e.name, code: e.code, isWebgen: e instanceof w.WebgenError, message: e.message };
      }
      await lm.dispose();
      let disposed = '';
      try {
        await lm.complete('x', greedy);
      } catch (e: any) {
        disposed = e.name;
      }
      engine.terminate();
      return {
        alone: alone.sequences[0].ids,
        after: after.sequences[0].ids,
        a: a.sequences[0].ids,
        b: b.sequences[0].ids,
        order,
        pieces,
        abortName,
        abortMs,
        afterMs,
        busy,
        bad,
        missing,
        disposed,
      };
    }, WORKER);
    expect(r.abortName).toBe('AbortError');
    expect(r.pieces).toBeLessThan(10);
    expect(r.after).toEqual(r.alone);
    expect(r.a).toEqual(r.alone);
    expect(r.b).toEqual(r.alone.slice(0, 3));
    expect(r.order).toEqual([1, 2]);
    expect(r.busy).toMatchObject({ name: 'OptionError', code: 'E_OPTION', isOption: true });
    expect(r.busy.message).toMatch(/already running/);
    expect(r.bad).toMatchObject({ name: 'OptionError', code: 'E_OPTION', isOption: true });
    expect(r.bad.message).toMatch(/temperature/);
    expect(r.missing).toMatchObject({ isWebgen: true });
    expect(r.missing.message).toMatch(/no\/such\/model/);
    expect(r.disposed).toBe('DisposedError');
  });

  it('runs the GAN generator in the worker, the same images as in the page', async () => {
    const r = await s.page.evaluate(async (url: string) => {
      const w = (window as any).webgen;
      const engine = w.connectWorker(new Worker(url, { type: 'module' }));
      const gan = await engine.loadGenerator('/pretrained/dcgan-emoji/');
      const inWorker = await gan.generate({ count: 2, seed: 7 });
      const local = await w.Generator.load('/pretrained/dcgan-emoji/');
      const inPage = await local.generate({ count: 2, seed: 7 });
      local.dispose();
      await gan.dispose();
      engine.terminate();
      let maxDiff = 0;
      for (let i = 0; i < inPage.length; i++) maxDiff = Math.max(maxDiff, Math.abs(inPage[i] - inWorker[i]));
      return { n: inWorker.length, expected: 2 * gan.image.channels * gan.image.height * gan.image.width, maxDiff, nz: gan.nz };
    }, WORKER);
    expect(r.n).toBe(r.expected);
    expect(r.nz).toBe(64);
    expect(r.maxDiff).toBe(0); // the same kernels on the same adapter
  });
});
