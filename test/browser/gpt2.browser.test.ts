// GPT-2 in headless Chromium: weights fetched by URL (streamed, with progress), f16 packed on
// SwiftShader, logits and a greedy continuation against the PyTorch fixtures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertClose, maxAbs } from '../helpers/assert.js';
import { openHarness, type BrowserSession } from '../helpers/browser.js';
import { FIXTURES, loadSafetensors } from '../helpers/fixtures.js';

describe('GPT-2 in Chromium', () => {
  let s: BrowserSession;
  beforeAll(async () => {
    s = await openHarness();
  });
  afterAll(async () => {
    await s?.close();
  });

  for (const [file, dtype, variant] of [
    ['model.safetensors', 'f32', 'f32'],
    ['model-f16.safetensors', 'f16', 'f16'],
  ] as const) {
    it(`loads odd/${file} by URL as ${dtype}; logits and greedy tokens match PyTorch`, async () => {
      const golden = loadSafetensors(`${FIXTURES}gpt2/odd/golden.safetensors`);
      const ids = Array.from(golden.ints('ids_17'));
      const prompt = Array.from(golden.ints('greedy_prompt'));
      const want = Array.from(golden.ints(`greedy_continuation_${variant}`));
      const r = await s.page.evaluate(
        async (file: string, dtype: string, ids: number[], prompt: number[], n: number) => {
          const w = (window as any).webgen;
          const progress: number[] = [];
          const lm = await w.GPT2.load('/test/fixtures/gpt2/odd/', {
            weightsFile: file,
            dtype,
            onProgress: (p: any) => progress.push(p.loaded),
          });
          const logits = Array.from(await lm.logits(ids));
          const gen = await lm.complete(prompt, { maxNewTokens: n, stopAtEos: false });
          const out = { logits, ids: gen.sequences[0].ids, progress, f16: lm.gpu.hasF16, live: 0 };
          lm.dispose();
          return out;
        },
        file,
        dtype,
        ids,
        prompt,
        want.length,
      );
      expect(r.f16).toBe(false); // SwiftShader: the packed-f16 path
      expect(r.progress.length).toBeGreaterThan(0);
      const ref = golden.f32(`logits_${variant}_17`);
      assertClose(r.logits as number[], ref, { atol: 1e-4 * maxAbs(ref), rtol: 0, what: `browser logits ${variant}` });
      expect(r.ids).toEqual(want);
    });
  }

  it('the default model generates text from a text prompt (tokenizer in the page), as PyTorch greedy', async () => {
    const ref = loadSafetensors(new URL('../../pretrained/gpt2-kjv/reference.safetensors', import.meta.url).pathname);
    const prompt = Array.from(ref.ints('prompt_ids'));
    const want = Array.from(ref.ints('greedy_continuation'));
    const r = await s.page.evaluate(
      async (prompt: number[], n: number) => {
        const w = (window as any).webgen;
        const lm = await w.GPT2.load('/pretrained/gpt2-kjv/', { dtype: 'f16' });
        const text = lm.tokenizer.decode(prompt);
        let streamed = '';
        const it = lm.generate(text, { maxNewTokens: n, stopAtEos: false });
        let res;
        for (;;) {
          const step = await it.next();
          if (step.done) {
            res = step.value;
            break;
          }
          streamed += step.value.text;
        }
        lm.dispose();
        return { promptIds: res.promptIds, ids: res.sequences[0].ids, text: res.sequences[0].text, streamed };
      },
      prompt,
      want.length,
    );
    expect(r.promptIds).toEqual(prompt); // the page's tokenizer encodes the prompt as the trainer did
    expect(r.ids).toEqual(want);
    expect(r.streamed).toBe(r.text);
    expect(r.text.length).toBeGreaterThan(10);
  });
});
