// Faults (issue #13): out of memory. A model too large for the device is refused before anything is
// allocated, with the estimate in the message (lowered limits: capLimits.maxBufferSize; a memoryBudget
// below GPT2.estimateMemory). An allocation that fails midway (createBuffer throwing after N buffers,
// for every N a load or a first generation makes; the device's own out-of-memory error reported to an
// error scope) frees every buffer made so far: live buffers and bytes back where they were, and a model
// that was loaded still works.
import { expect, it } from 'vitest';
import { LimitError, OutOfMemoryError } from '../../src/errors.js';
import { parseGPT2Config } from '../../src/loaders/gpt2_config.js';
import { Generator } from '../../src/models/gan/generator.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { Gpu } from '../../src/runtime/device.js';
import { FIXTURES, loadJson, loadSafetensors } from '../helpers/fixtures.js';
import { BASE, DCGAN, expectLive, expectSameBytes, failBuffersAfter, live, rejection } from './helpers.js';

const CONFIG = parseGPT2Config(loadJson(BASE + 'config.json'));
const EST_F32 = GPT2.estimateMemory(CONFIG);
const OPTS = { maxNewTokens: 6, stopAtEos: false };
const simulated = () => new OutOfMemoryError('simulated: createBuffer failed');

/** How many buffers `work` makes on `gpu` (run once, cleanly). */
async function buffersMade(gpu: Gpu, work: () => Promise<unknown>): Promise<number> {
  const before = gpu.memory().buffersCreated;
  await work();
  return gpu.memory().buffersCreated - before;
}

/** Registers the tests (inside faults.gpu.test.ts, on its shared Gpu). */
export function outOfMemoryTests(gpu: () => Gpu): void {
  it("a model whose buffers exceed the device's maxBufferSize is refused before any allocation: LimitError with the estimate", async () => {
    const g = await Gpu.create({ capLimits: { maxBufferSize: 32 * 1024 } }); // c_fc [64, 256] f32 is 64 KiB
    try {
      for (const load of [
        () => GPT2.load(BASE, { gpu: g }),
        () => GPT2.fromSafetensors(loadSafetensors(BASE + 'model.safetensors'), CONFIG, { gpu: g }),
      ]) {
        const err = await rejection(load());
        expect(err).toBeInstanceOf(LimitError);
        expect(err.code).toBe('E_LIMIT');
        expect(err.message).toContain(`maxBufferSize of ${32 * 1024} bytes`);
        expect(err.message).toContain(`needs about ${EST_F32} bytes`);
        expect(err.message).toMatch(/Nothing was allocated/);
        expect(g.memory().buffersCreated, 'buffers ever made').toBe(0);
      }
      console.log(`capLimits.maxBufferSize 32 KiB -> LimitError (E_LIMIT): ${(await rejection(GPT2.load(BASE, { gpu: g }))).message}`);
    } finally {
      g.dispose();
    }
  });

  it('memoryBudget: a load past it is refused before any allocation (OutOfMemoryError with the estimate); one that fits works; a batch past it fails alone', async () => {
    // a device made with a budget: the f32 model (its estimate) does not fit; nothing is allocated
    const small = await Gpu.create({ memoryBudget: EST_F32 - 1 });
    try {
      const err = await rejection(GPT2.load(BASE, { gpu: small }));
      expect(err).toBeInstanceOf(OutOfMemoryError);
      expect(err.code).toBe('E_OUT_OF_MEMORY');
      expect(err.message).toContain(`needs about ${EST_F32} bytes`);
      expect(err.message).toContain(`memoryBudget of ${EST_F32 - 1} bytes`);
      expect(err.message).toMatch(/with dtype 'f16'/);
      expect(small.memory().buffersCreated, 'buffers ever made').toBe(0);
      console.log(`memoryBudget ${EST_F32 - 1} -> ${err.name} (${err.code}): ${err.message}`);
    } finally {
      small.dispose();
    }
    await expect(Gpu.create({ memoryBudget: -1 })).rejects.toThrow(/memoryBudget must be a positive number/);

    // the shared device, budgeted for now: room for base (and its generation's own buffers), not for odd
    const g = gpu();
    const odd = parseGPT2Config(loadJson(`${FIXTURES}gpt2/odd/config.json`));
    g.memoryBudget = live(g).liveBytes + EST_F32 + 128 * 1024;
    try {
      const tooBig = await rejection(GPT2.load(`${FIXTURES}gpt2/odd/`, { gpu: g }));
      expect(tooBig).toBeInstanceOf(OutOfMemoryError);
      expect(tooBig.message).toContain(`needs about ${GPT2.estimateMemory(odd)} bytes`);
      const lm = await GPT2.load(BASE, { gpu: g });
      const expected = (await lm.complete([1, 2, 3], OPTS)).sequences[0].ids;
      const before = live(g);
      // 8 sequences need a KV cache of 2 x 2 layers x 8 x 64 x 64 x 4 bytes = 512 KiB: past the budget
      const big = await rejection(lm.complete([1, 2, 3], { ...OPTS, numReturnSequences: 8 }));
      expect(big).toBeInstanceOf(OutOfMemoryError);
      expect(big.message).toMatch(/past its memoryBudget/);
      console.log(`8 sequences past the memoryBudget -> ${big.name}: ${big.message}`);
      // the cache was not kept (only the 8-sequence sampler buffers, which the model reuses and dispose() frees)
      expect(live(g).liveBytes - before.liveBytes).toBeLessThan(64 * 1024);
      expect((await lm.complete([1, 2, 3], OPTS)).sequences[0].ids).toEqual(expected);
      lm.dispose();
    } finally {
      g.memoryBudget = Infinity;
    }
  });

  it('createBuffer failing after N buffers, for every N a load makes: the load rejects and frees all it made (streamed, whole file, split embeddings)', async () => {
    const st = loadSafetensors(BASE + 'model.safetensors');
    // split: bindings capped at 32 KiB, so wte [300, 64] f32 (75 KiB) is uploaded as 3 buffers
    const split = await Gpu.create({ capLimits: { maxStorageBufferBindingSize: 32 * 1024 } });
    try {
      const loads: [string, Gpu, () => Promise<GPT2>][] = [
        ['GPT2.load (streamed)', gpu(), () => GPT2.load(BASE, { gpu: gpu() })],
        ['GPT2.fromSafetensors', gpu(), () => GPT2.fromSafetensors(st, CONFIG, { gpu: gpu() })],
        ['GPT2.load, wte split', split, () => GPT2.load(BASE, { gpu: split })],
      ];
      for (const [what, g, load] of loads) {
        const before = live(g);
        const total = await buffersMade(g, async () => (await load()).dispose());
        for (let n = 0; n < total; n++) {
          const heal = failBuffersAfter(g, n, simulated);
          const err = await rejection(load()).finally(heal);
          expect(err, `${what}, failing at buffer ${n}`).toBeInstanceOf(OutOfMemoryError);
          expectLive(g, before, `${what}, failing at buffer ${n} of ${total}`);
        }
        console.log(
          `${what}: createBuffer failing at each of its ${total} buffers -> OutOfMemoryError, live back to ${JSON.stringify(before)}`,
        );
      }
    } finally {
      split.dispose();
    }
  });

  it('createBuffer failing after N buffers during the first generation: it rejects, nothing leaks, and the model then generates as before', async () => {
    const g = gpu();
    const before = live(g);
    const probe = await GPT2.load(BASE, { gpu: g });
    const expected = (await probe.complete([1, 2, 3], OPTS)).sequences[0].ids;
    probe.dispose();
    const lm0 = await GPT2.load(BASE, { gpu: g });
    const total = await buffersMade(g, () => lm0.complete([1, 2, 3], OPTS)); // activations, KV cache, sampler, plans
    const generated = live(g); // what a model holds after its first generation
    lm0.dispose();
    // every third buffer (the sampler's 7, the activations' 6, the KV cache's 4, then the plans' uniforms), and the last
    const points = Array.from({ length: total }, (_, n) => n).filter((n) => n % 3 === 0 || n === total - 1);
    for (const n of points) {
      const lm = await GPT2.load(BASE, { gpu: g });
      const loaded = live(g);
      const heal = failBuffersAfter(g, n, simulated);
      const err = await rejection(lm.complete([1, 2, 3], OPTS)).finally(heal);
      expect(err, `failing at buffer ${n}`).toBeInstanceOf(OutOfMemoryError);
      // what was made whole stays with the model (reused next time, freed by dispose()); nothing more
      expect(live(g).liveBuffers, `the failed generation (buffer ${n} of ${total})`).toBeLessThanOrEqual(generated.liveBuffers);
      expect(live(g).liveBuffers).toBeGreaterThanOrEqual(loaded.liveBuffers);
      expect((await lm.complete([1, 2, 3], OPTS)).sequences[0].ids, `after failing at buffer ${n}`).toEqual(expected);
      lm.dispose();
      expectLive(g, before, `after dispose (buffer ${n})`);
    }
    console.log(`first generation: createBuffer failing at ${points.length} of its ${total} buffers -> OutOfMemoryError, nothing leaked`);
  });

  it("the device's own out-of-memory error (reported to an error scope) fails the load with an OutOfMemoryError; all freed", async () => {
    const g = gpu();
    const before = live(g);
    const device = g.device as GPUDevice & { popErrorScope: GPUDevice['popErrorScope'] };
    const real = Object.getPrototypeOf(device).popErrorScope as GPUDevice['popErrorScope'];
    // the k-th scope to close reports what a device that cannot back a buffer reports
    let scopes = 0;
    let failAt = 5;
    device.popErrorScope = function (this: GPUDevice) {
      const verdict = real.call(this);
      return ++scopes === failAt
        ? verdict.then(() => ({ message: 'simulated: not enough memory to allocate the buffer' }) as GPUError)
        : verdict;
    };
    try {
      const err = await rejection(GPT2.load(BASE, { gpu: g }));
      expect(err).toBeInstanceOf(OutOfMemoryError);
      expect(err.message).toMatch(/the GPU ran out of memory \(1 allocation\(s\) failed, first "h\.\d\.[\w.]+": simulated/);
      expect(err.message).toContain(`needs about ${EST_F32} bytes`);
      expectLive(g, before, 'after the GPT-2 load the device refused');
      console.log(`error scope reporting out-of-memory during the GPT-2 upload -> ${err.name} (${err.code}): ${err.message}`);

      scopes = 0;
      failAt = 2;
      const gan = await rejection(Generator.load(DCGAN, { gpu: g }));
      expect(gan).toBeInstanceOf(OutOfMemoryError);
      expect(gan.message).toMatch(/the GPU ran out of memory/);
      expectLive(g, before, 'after the generator load the device refused');
      console.log(`error scope reporting out-of-memory during the generator upload -> ${gan.name}: ${gan.message}`);
    } finally {
      delete (device as { popErrorScope?: unknown }).popErrorScope;
    }
  });

  it('Generator: createBuffer failing after N buffers, for every N of a load and of a first generate: rejects, frees all, then works', async () => {
    const g = gpu();
    const before = live(g);
    const probe = await Generator.load(DCGAN, { gpu: g, maxBatch: 4 });
    const expected = await probe.generate({ count: 6, seed: 2 });
    probe.dispose();
    const loadBuffers = await buffersMade(g, async () => (await Generator.load(DCGAN, { gpu: g })).dispose());
    for (let n = 0; n < loadBuffers; n++) {
      const heal = failBuffersAfter(g, n, simulated);
      const err = await rejection(Generator.load(DCGAN, { gpu: g })).finally(heal);
      expect(err, `load failing at buffer ${n}`).toBeInstanceOf(OutOfMemoryError);
      expectLive(g, before, `Generator.load failing at buffer ${n} of ${loadBuffers}`);
    }
    const gen0 = await Generator.load(DCGAN, { gpu: g, maxBatch: 4 });
    const runBuffers = await buffersMade(g, () => gen0.generate({ count: 6, seed: 2 })); // two batch sizes: 4 and 2
    gen0.dispose();
    for (let n = 0; n < runBuffers; n++) {
      const gen = await Generator.load(DCGAN, { gpu: g, maxBatch: 4 });
      const loaded = live(g);
      const heal = failBuffersAfter(g, n, simulated);
      const err = await rejection(gen.generate({ count: 6, seed: 2 })).finally(heal);
      expect(err, `generate failing at buffer ${n}`).toBeInstanceOf(OutOfMemoryError);
      expect(live(g).liveBuffers, `generate failing at buffer ${n}: at most the runner that was made stays`).toBeGreaterThanOrEqual(
        loaded.liveBuffers,
      );
      expectSameBytes(await gen.generate({ count: 6, seed: 2 }), expected, `after failing at buffer ${n}`);
      gen.dispose();
      expectLive(g, before, `after dispose (generate failing at buffer ${n})`);
    }
    console.log(
      `Generator: createBuffer failing at each of ${loadBuffers} load buffers and ${runBuffers} generate buffers -> OutOfMemoryError, nothing leaked`,
    );
  });
}
