// Faults (issue #13): concurrency. Calls made at once on one model (its queue), on two models sharing
// one Gpu (with a third loading meanwhile), and conversations interleaved with generate() calls and
// each other: every result equals the one the same call gives alone, and a conversation's turns still
// run only their new tokens (its KV cache was neither reset nor mixed with another's).
import type { Gpu } from '../../src/runtime/device.js';
import { expect, it } from 'vitest';
import { parseGPT2Config } from '../../src/loaders/gpt2_config.js';
import type { GenerationResult } from '../../src/generation/generate.js';
import { GPT2, type GPT2GenerateOptions } from '../../src/models/gpt2.js';
import { randomGPT2 } from '../../src/testing/index.js';
import { loadJson } from '../helpers/fixtures.js';
import { BASE, expectLive, live } from './helpers.js';

type Call = [prompt: number[], options: GPT2GenerateOptions];

const CALLS: Call[] = [
  [[1, 2, 3], { maxNewTokens: 6, stopAtEos: false }],
  [[4, 5, 6, 7, 8], { maxNewTokens: 5, stopAtEos: false, temperature: 0.9, topK: 30, seed: 1 }],
  [[1, 2, 3], { maxNewTokens: 4, stopAtEos: false, numReturnSequences: 2, temperature: 1.1, seed: 2 }],
  [[9], { maxNewTokens: 7, stopAtEos: false, repetitionPenalty: 1.3 }],
  [[4, 5, 6, 7, 8], { maxNewTokens: 3, stopAtEos: false, topP: 0.8, seed: 3 }],
  [[1, 2, 3], { maxNewTokens: 6, stopAtEos: false, temperature: 0.7, seed: 4 }],
];

const ids = (r: GenerationResult) => r.sequences.map((s) => s.ids);

/** Registers the tests (inside faults.gpu.test.ts, on its shared Gpu). */
export function concurrencyTests(gpu: () => Gpu): void {
  it('calls made at once on one model (its queue) each give what they give alone', async () => {
    const lm = await GPT2.load(BASE, { gpu: gpu() });
    const alone: number[][][] = [];
    for (const [p, o] of CALLS) alone.push(ids(await lm.complete(p, o)));
    const atOnce = await Promise.all(CALLS.map(([p, o]) => lm.complete(p, o)));
    expect(atOnce.map(ids)).toEqual(alone);
    // and twice over, streamed by separate consumers
    const streams = await Promise.all(
      [...CALLS, ...CALLS].map(async ([p, o]) => {
        const it = lm.generate(p, o);
        for (;;) {
          const r = await it.next();
          if (r.done) return ids(r.value);
        }
      }),
    );
    expect(streams).toEqual([...alone, ...alone]);
    lm.dispose();
  });

  it('two models sharing one Gpu, called at once (and a third loading meanwhile), each give what they give alone', async () => {
    const g = gpu();
    const before = live(g);
    const config = parseGPT2Config(loadJson(BASE + 'config.json'));
    const a = await GPT2.load(BASE, { gpu: g });
    const b = await GPT2.fromSafetensors(randomGPT2(config, 7), config, { gpu: g }); // same shapes, other weights
    const aloneA: number[][][] = [];
    const aloneB: number[][][] = [];
    for (const [p, o] of CALLS) {
      aloneA.push(ids(await a.complete(p, o)));
      aloneB.push(ids(await b.complete(p, o)));
    }
    expect(aloneB).not.toEqual(aloneA); // different weights: a mix-up would show
    const loading = GPT2.load(BASE, { gpu: g });
    const [resA, resB, c] = await Promise.all([
      Promise.all(CALLS.map(([p, o]) => a.complete(p, o))),
      Promise.all(CALLS.map(([p, o]) => b.complete(p, o))),
      loading,
    ]);
    expect(resA.map(ids)).toEqual(aloneA);
    expect(resB.map(ids)).toEqual(aloneB);
    // the third, loaded while the others ran, is the first's twin; now all three at once
    const [ra, rb, rc] = await Promise.all([a, b, c].map((m) => Promise.all(CALLS.map(([p, o]) => m.complete(p, o)))));
    expect([ra.map(ids), rb.map(ids), rc.map(ids)]).toEqual([aloneA, aloneB, aloneA]);
    for (const m of [a, b, c]) m.dispose();
    expectLive(g, before, 'after the three models');
  });

  it('conversations interleaved with generate() calls and with each other never mix KV caches', async () => {
    const lm = await GPT2.load(BASE, { gpu: gpu() });
    const turns: Record<'A' | 'B', number[][]> = {
      A: [[20, 21, 22], [30], [40, 41]],
      B: [[50], [60, 61, 62, 63], [70]],
    };
    const turn = { maxNewTokens: 5, stopAtEos: false };
    const preamble = { A: [1, 2], B: [3, 4, 5] };
    /** Runs a conversation's turns in order; returns each reply, what each turn prefilled, and the tokens it holds. */
    const chat = async (who: 'A' | 'B') => {
      const c = lm.conversation({ preamble: preamble[who] });
      const replies: number[][] = [];
      const prefilled: number[] = [];
      for (const t of turns[who]) {
        const r = await c.reply(t, turn);
        replies.push(r.sequences[0].ids);
        prefilled.push(r.prefillTokens);
      }
      const tokens = c.tokens;
      c.dispose();
      return { replies, prefilled, tokens };
    };
    const generations = async () => {
      const out: number[][][] = [];
      for (const [p, o] of CALLS) out.push(ids(await lm.complete(p, o)));
      return out;
    };
    const alone = { A: await chat('A'), B: await chat('B'), G: await generations() };
    // a turn runs only what the cache lacks: the preamble and its ids (5), then its new ids and the last reply token (2, 3)
    expect(alone.A.prefilled).toEqual([5, 2, 3]);
    const [A, B, G] = await Promise.all([chat('A'), chat('B'), generations()]);
    expect(A).toEqual(alone.A);
    expect(B).toEqual(alone.B);
    expect(G).toEqual(alone.G);

    // one conversation's turns all asked at once (they queue), generate() calls between them
    const c = lm.conversation({ preamble: preamble.A });
    const asked = turns.A.map((t, i) => [c.reply(t, turn), lm.complete(...CALLS[i])] as const);
    const replies = await Promise.all(asked.map(([r]) => r));
    const between = await Promise.all(asked.map(([, g]) => g));
    expect(replies.map((r) => r.sequences[0].ids)).toEqual(alone.A.replies);
    expect(replies.map((r) => r.prefillTokens)).toEqual(alone.A.prefilled);
    expect(between.map(ids)).toEqual(alone.G.slice(0, turns.A.length));
    expect(c.tokens).toEqual(alone.A.tokens);
    c.dispose();
    lm.dispose();
  });
}
