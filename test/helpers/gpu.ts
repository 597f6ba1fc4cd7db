// Shared setup for GPU tests in Node: one Gpu per test file, on the driver the vitest project chose
// (WEBGEN_VULKAN=lavapipe|swiftshader), destroyed deterministically in afterAll so Dawn lets Node exit.
import { afterAll, beforeAll, expect } from 'vitest';
import { Gpu, type GpuOptions } from '../../src/runtime/device.js';

export function expectedDriver(): RegExp | undefined {
  const v = process.env.WEBGEN_VULKAN;
  if (v === 'lavapipe') return /llvmpipe/i;
  if (v === 'swiftshader') return /swiftshader/i;
  return undefined;
}

/** Returns a getter for a Gpu created before the file's tests and disposed after them. */
export function useGpu(options: GpuOptions = {}): () => Gpu {
  let gpu: Gpu | undefined;
  beforeAll(async () => {
    gpu = await Gpu.create(options);
  });
  afterAll(async () => {
    if (gpu && !gpu.isDisposed) {
      await gpu.device.queue.onSubmittedWorkDone();
      const leaked = gpu.memory();
      gpu.dispose();
      expect(leaked.liveBuffers, 'GPU buffers still alive at the end of the file').toBe(0);
    }
  });
  return () => {
    if (!gpu) throw new Error('Gpu not created (beforeAll failed)');
    return gpu;
  };
}

/** How many GPU buffers a GPT-2 weight tensor was split into, from the model's describe(). */
export function weightBuffers(lm: { describe(): string }, name: string): number {
  const line = lm
    .describe()
    .split('\n')
    .find((l) => l.startsWith(`${name} [`));
  if (!line) throw new Error(`no weight tensor "${name}" in describe():\n${lm.describe()}`);
  return Number(line.match(/ in (\d+) buffers$/)?.[1] ?? 1);
}
