// Faults (issue #13): the GPU device is lost while a model runs. The test destroys the device in the
// middle of a call (a GPT-2 generation between two tokens; a generator's batch with its read-back in
// flight); the call must reject with a DeviceLostError that says to load the model again (not the bare
// AbortError mapAsync gives), every later call on the model must say the same at once, and a load on a
// new device must work.
import { expect, it } from 'vitest';
import { DeviceLostError } from '../../src/errors.js';
import { Generator } from '../../src/models/gan/generator.js';
import { GPT2 } from '../../src/models/gpt2.js';
import { Gpu } from '../../src/runtime/device.js';
import { BASE, DCGAN, drain, expectSameBytes, rejection, withIds } from './helpers.js';

const OPTS = { maxNewTokens: 12, stopAtEos: false };

/** After every submit, `then(n)` (n: submits so far): destroys the device at the chosen one. */
function onSubmit(gpu: Gpu, then: (n: number) => void): void {
  const real = gpu.submit.bind(gpu);
  let n = 0;
  gpu.submit = (commands) => {
    real(commands);
    then(++n);
  };
}

function expectLost(e: unknown, what: string): void {
  expect(e, what).toBeInstanceOf(DeviceLostError);
  const err = e as DeviceLostError;
  expect(err.code).toBe('E_DEVICE_LOST');
  expect(err.name).toBe('DeviceLostError');
  expect(err.message).toMatch(/device was lost \(destroyed/);
  expect(err.message).toMatch(/Load the model again/);
  expect(err.message).toMatch(/reload the page/);
}

/** Registers the tests (inside faults.gpu.test.ts; they make and lose devices of their own). */
export function deviceLostTests(): void {
  it('GPT-2: lost between two tokens of a generate(): DeviceLostError, and at once for every later call; a new device loads and generates', async () => {
    // between two tokens: destroyed while the consumer holds the third piece
    const reasons: string[] = [];
    const g = await Gpu.create({ onLost: (info) => reasons.push(String(info.reason)) });
    const lm = withIds(await GPT2.load(BASE, { gpu: g }));
    const expected = await lm.logits([1, 2, 3]);
    let pieces = 0;
    const err = await rejection(
      drain(lm.generate([1, 2, 3], OPTS), (n) => {
        pieces = n;
        if (n === 3) g.device.destroy();
      }),
    );
    expectLost(err, 'generate() on a device lost between tokens');
    expect(pieces).toBe(3);
    console.log(`device destroyed after 3 of 12 tokens -> ${err.name} (${err.code}): ${err.message}`);
    expect(reasons).toEqual(['destroyed']); // GpuOptions.onLost was told
    expect(g.isLost).toBe(true);

    // every later call says the same, at once
    expectLost(await rejection(lm.complete([1, 2], OPTS)), 'complete() after the loss');
    expectLost(await rejection(lm.logits([1, 2])), 'logits() after the loss');
    expectLost(await rejection(lm.conversation().reply([4, 5], OPTS)), 'a conversation turn after the loss');
    expectLost(await rejection(GPT2.load(BASE, { gpu: g })), 'a load on the lost device');
    lm.dispose(); // frees nothing that can fail
    g.dispose();

    // load again: a new device, the same model (its logits, bit for bit; the logits, not a generation, so
    // that SwiftShader need not compile the sampler once more: 10 s of the file's time there)
    const again = await GPT2.load(BASE);
    expectSameBytes(await again.logits([1, 2, 3]), expected, 'the logits on a new device');
    again.dispose();
  });

  it('Generator: lost with a batch in flight (its read-back pending): DeviceLostError; a new device loads and generates the same images', async () => {
    const g = await Gpu.create();
    const gen = await Generator.load(DCGAN, { gpu: g, maxBatch: 2 }); // 6 images: 3 batches, 3 submits
    const expected = await gen.generate({ count: 6, seed: 5 });
    onSubmit(g, (n) => n === 2 && g.device.destroy()); // the second batch of this call, its read-back pending
    const err = await rejection(gen.generate({ count: 6, seed: 5 }));
    expectLost(err, 'Generator.generate() on a lost device');
    console.log(`device destroyed during batch 2 of 3 -> ${err.name} (${err.code})`);
    expectLost(await rejection(gen.generate({ count: 1 })), 'a later Generator.generate()');
    gen.dispose();
    g.dispose();

    const again = await Generator.load(DCGAN, { maxBatch: 2 });
    expectSameBytes(await again.generate({ count: 6, seed: 5 }), expected, 'the images on a new device');
    again.dispose();
  });
}
