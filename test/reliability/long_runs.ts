// Faults (issue #13): long runs. 200 generations in a row on one model, and 50 load / generate /
// dispose cycles on one device: live GPU buffers and bytes stay flat (the counts are printed, before
// and after), and the 200th generation gives what the first gave.
import type { Gpu } from '../../src/runtime/device.js';
import { expect, it } from 'vitest';
import { GPT2 } from '../../src/models/gpt2.js';
import { BASE, expectLive, live, type Live } from './helpers.js';

const GENERATIONS = 200;
const CYCLES = 50;

/** Registers the tests (inside faults.gpu.test.ts, on its shared Gpu). */
export function longRunTests(gpu: () => Gpu): void {
  it(`${GENERATIONS} generations in a row on one model: live buffers and bytes flat`, async () => {
    const g = gpu();
    const baseline = live(g);
    const lm = await GPT2.load(BASE, { gpu: g });
    const loaded = live(g);
    // four shapes of call, in turn: two prompt lengths, greedy and sampled, one and two sequences
    const call = (i: number) => {
      const prompt = i % 2 ? [4, 5, 6, 7, 8] : [1, 2, 3];
      const options = { maxNewTokens: 2, stopAtEos: false, numReturnSequences: i % 4 === 3 ? 2 : 1 }; // a prefill and a decode step
      return lm.complete(prompt, i % 4 >= 2 ? { ...options, temperature: 0.8, topK: 40, seed: i } : options);
    };
    const first = await call(0);
    for (let i = 1; i < 4; i++) await call(i); // every shape once: what a warm model holds
    const warm = live(g);
    const createdWarm = g.memory().buffersCreated;
    const checkpoints: Record<number, Live> = {};
    let last = first;
    for (let i = 4; i < GENERATIONS; i++) {
      const r = await call(i);
      if (i % 4 === 0) last = r;
      if ((i + 1) % 50 === 0) {
        checkpoints[i + 1] = live(g);
        expectLive(g, warm, `after generation ${i + 1}`);
      }
    }
    expect(last.sequences[0].ids).toEqual(first.sequences[0].ids); // generation 197 (greedy) = generation 1
    const created = g.memory().buffersCreated - createdWarm;
    expect(created, 'buffers made by generations 5..200 (a warm model allocates nothing)').toBe(0);
    lm.dispose();
    expectLive(g, baseline, 'after dispose');
    console.log(
      `${GENERATIONS} generations: live {buffers, bytes} before load ${JSON.stringify(baseline)}, after load ${JSON.stringify(loaded)}, ` +
        `after the first 4 (warm) ${JSON.stringify(warm)}, ` +
        Object.entries(checkpoints)
          .map(([n, l]) => `after ${n} ${JSON.stringify(l)}`)
          .join(', ') +
        `, after dispose ${JSON.stringify(live(g))}; buffers created by generations 5..${GENERATIONS}: ${created}`,
    );
  });

  it(`${CYCLES} load / generate / dispose cycles on one device: live buffers and bytes back to the start every time`, async () => {
    const g = gpu();
    const baseline = live(g);
    const created0 = g.memory().buffersCreated;
    let peak = 0;
    let expected: number[] | undefined;
    for (let i = 0; i < CYCLES; i++) {
      const lm = await GPT2.load(BASE, { gpu: g });
      const ids = (await lm.complete([1, 2, 3], { maxNewTokens: 2, stopAtEos: false })).sequences[0].ids;
      expect(ids).toEqual((expected ??= ids));
      peak = Math.max(peak, live(g).liveBuffers);
      lm.dispose();
      expectLive(g, baseline, `after cycle ${i + 1}`);
    }
    console.log(
      `${CYCLES} load/dispose cycles: live {buffers, bytes} before ${JSON.stringify(baseline)}, after ${JSON.stringify(live(g))}; ` +
        `${peak} buffers live at the peak of each cycle, ${g.memory().buffersCreated - created0} created in all`,
    );
  });
}
