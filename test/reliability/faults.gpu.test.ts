// Issue #13, "Faults": what the engine does when things go wrong, and that nothing leaks when they do.
// One test file (one process, one shared Gpu) runs every suite, so the kernels compile once per
// driver: on SwiftShader a device's first generation compiles for seconds. Each suite lives in its own
// module beside this one:
//
//   device_lost.ts   the device destroyed mid-generation: DeviceLostError; a new device works
//   memory.ts        out of memory: refused before allocating (estimate in the message); failing
//                    midway (every N buffers, an error scope) frees all
//   network.ts       404, 500, a cut connection, stalls: FetchError naming the URL, stallTimeoutMs
//   abort.ts         100 seeded abort points in loads, 100 in generation: AbortError, no leak
//   long_runs.ts     200 generations, 50 load/dispose cycles: live buffers and bytes flat
//   concurrency.ts   calls at once on one model, on two models sharing a Gpu, conversations
//                    interleaved with generate(): every result as if alone
//
// (The network faults without a GPU, for the readers alone: network.test.ts, in the unit project.)
// Run one suite: npx vitest run --project lavapipe test/reliability/faults.gpu.test.ts -t 'long runs'
import { describe } from 'vitest';
import { useGpu } from '../helpers/gpu.js';
import { abortTests } from './abort.js';
import { concurrencyTests } from './concurrency.js';
import { deviceLostTests } from './device_lost.js';
import { longRunTests } from './long_runs.js';
import { outOfMemoryTests } from './memory.js';
import { networkTests } from './network.js';

describe('faults', () => {
  const gpu = useGpu();
  describe('device lost', () => deviceLostTests());
  describe('out of memory', () => outOfMemoryTests(gpu));
  describe('network', () => networkTests(gpu));
  describe('aborts at random points', () => abortTests(gpu));
  describe('long runs', () => longRunTests(gpu));
  describe('concurrency', () => concurrencyTests(gpu));
});
