// GPU time of recorded work: timestamp queries at the start and end of every compute pass where the
// device has `timestamp-query`, and always the wall time of the whole batch between two
// onSubmittedWorkDone() waits (so a figure exists on every adapter, and the two can be compared).

export interface TimedRun {
  /** Mean GPU ms of one pass (timestamps), undefined without `timestamp-query` or when they read as zero. */
  gpuMs?: number;
  /** Wall ms per pass: from the submit to onSubmittedWorkDone, over all passes, divided by their count. */
  wallMs: number;
}

export class GpuTimer {
  private querySet?: GPUQuerySet;
  private resolveBuf?: GPUBuffer;
  private readback?: GPUBuffer;

  constructor(
    readonly device: GPUDevice,
    /** Use timestamp queries (the device was created with `timestamp-query`). */
    readonly timestamps: boolean,
    /** The most passes one run() may time. */
    readonly capacity = 256,
  ) {
    if (timestamps) {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'bench timer' });
      this.resolveBuf = device.createBuffer({
        size: 16 * capacity,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
        label: 'bench timer resolve',
      });
      this.readback = device.createBuffer({
        size: 16 * capacity,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: 'bench timer readback',
      });
    }
  }

  /**
   * Records `passes` compute passes in one command buffer (`record` fills each pass), submits it once and
   * waits for it. Each pass has its own timestamps, so the figure is the work of the passes alone.
   */
  async run(passes: number, record: (pass: GPUComputePassEncoder, i: number) => void): Promise<TimedRun> {
    if (passes < 1 || passes > this.capacity) throw new Error(`GpuTimer.run: 1..${this.capacity} passes, got ${passes}`);
    const device = this.device;
    await device.queue.onSubmittedWorkDone(); // start from an idle queue
    const t0 = performance.now();
    const enc = device.createCommandEncoder({ label: 'bench timed' });
    for (let i = 0; i < passes; i++) {
      const timestampWrites = this.querySet
        ? { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 }
        : undefined;
      const pass = enc.beginComputePass({ label: `bench pass ${i}`, timestampWrites });
      record(pass, i);
      pass.end();
    }
    if (this.querySet) {
      enc.resolveQuerySet(this.querySet, 0, 2 * passes, this.resolveBuf!, 0);
      enc.copyBufferToBuffer(this.resolveBuf!, 0, this.readback!, 0, 16 * passes);
    }
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    const wallMs = (performance.now() - t0) / passes;
    if (!this.readback) return { wallMs };
    await this.readback.mapAsync(GPUMapMode.READ, 0, 16 * passes);
    const t = new BigUint64Array(this.readback.getMappedRange(0, 16 * passes).slice(0));
    this.readback.unmap();
    let ns = 0;
    for (let i = 0; i < passes; i++) ns += Number(t[2 * i + 1] - t[2 * i]);
    const gpuMs = ns / 1e6 / passes;
    return { gpuMs: gpuMs > 0 && Number.isFinite(gpuMs) ? gpuMs : undefined, wallMs };
  }

  dispose(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
    this.readback?.destroy();
  }
}

/** How many passes make one round last about `targetMs`, from one pass's estimate. */
export function passesFor(estimateMs: number, targetMs: number, max = 64): number {
  return Math.max(1, Math.min(max, Math.round(targetMs / Math.max(estimateMs, 1e-3))));
}
