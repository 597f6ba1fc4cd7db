// Running recorded work and reading a result back, in one command buffer: the plan's pass, a copy of
// the result into a MAP_READ staging buffer, one submit (counted by the Gpu), one map.
import type { Gpu } from './device.js';
import type { Plan } from './plan.js';

export class Readback {
  private readonly staging: GPUBuffer;

  /** A staging buffer of `capacity` bytes, reused by every read (a token id per step, a batch of images). */
  constructor(
    private readonly gpu: Gpu,
    readonly capacity: number,
    label = 'readback',
  ) {
    this.staging = gpu.createBuffer({
      label,
      size: Math.max(4, Math.ceil(capacity / 4) * 4),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Runs `plan` (if any), then copies `bytes` of `src` from `srcOffset` and returns them. */
  async run(plan: Plan | undefined, src: GPUBuffer, bytes: number, srcOffset = 0): Promise<ArrayBuffer> {
    if (bytes > this.capacity) throw new RangeError(`readback of ${bytes} bytes exceeds its ${this.capacity}-byte staging buffer`);
    this.gpu.assertAlive();
    const size = Math.ceil(bytes / 4) * 4;
    const enc = this.gpu.device.createCommandEncoder({ label: plan?.label ?? 'readback' });
    plan?.encode(enc);
    enc.copyBufferToBuffer(src, srcOffset, this.staging, 0, size);
    this.gpu.submit([enc.finish()]);
    try {
      await this.staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      // a lost device or a freed buffer: say which (mapAsync's own error is a bare AbortError)
      throw await this.gpu.mapFailure(e, this.staging);
    }
    try {
      return this.staging.getMappedRange(0, size).slice(0, bytes);
    } finally {
      this.staging.unmap();
    }
  }

  dispose(): void {
    this.gpu.destroyBuffer(this.staging);
  }
}
