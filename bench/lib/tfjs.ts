// TensorFlow.js on its WebGPU backend, the peer of the kernel and GAN benchmarks, on the same adapter as
// webgen: in a page through navigator.gpu; in Node through the `webgpu` package (Dawn), which the
// runner installs as navigator.gpu before this module is imported (the backend registers itself only
// where navigator.gpu exists when it loads).
import type * as TF from '@tensorflow/tfjs-core';

export type Tf = typeof TF;

export interface TfEnv {
  tf: Tf;
  backend: any;
  device: GPUDevice;
  timestamps: boolean;
  adapter: string;
  version: string;
}

export async function loadTfjs(): Promise<TfEnv> {
  const tf = (await import('@tensorflow/tfjs-core')) as Tf;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed (is navigator.gpu there?)');
  await tf.ready();
  const backend = tf.backend() as any;
  const info = backend.adapterInfo ?? {};
  const adapter = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ');
  return {
    tf,
    backend,
    device: backend.device as GPUDevice,
    timestamps: !!backend.supportTimestampQuery,
    adapter,
    version: tf.version_core,
  };
}

export interface TfRun {
  gpuMs?: number;
  wallMs: number;
}

/**
 * Runs `op` `iterations` times. With timestamps: tf.time() (each program in its own timed pass) gives the
 * GPU ms; the wall figure is then the whole call per iteration. Without: the iterations between two
 * onSubmittedWorkDone() waits. Outputs are disposed.
 */
export async function tfRun(
  env: TfEnv,
  op: () => TF.Tensor | TF.Tensor[],
  iterations: number,
  useTimestamps = env.timestamps,
): Promise<TfRun> {
  const { tf, backend, device } = env;
  const outs: TF.Tensor[] = [];
  const keep = (t: TF.Tensor | TF.Tensor[]) => (Array.isArray(t) ? outs.push(...t) : outs.push(t));
  await device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  let gpuMs: number | undefined;
  let wall = 0;
  try {
    if (useTimestamps) {
      const info = await tf.time(() => {
        for (let i = 0; i < iterations; i++) keep(op());
      });
      gpuMs = info.kernelMs && typeof info.kernelMs === 'number' && info.kernelMs > 0 ? info.kernelMs / iterations : undefined;
      flush(backend);
      await device.queue.onSubmittedWorkDone();
    } else {
      for (let i = 0; i < iterations; i++) keep(op());
      flush(backend);
      await device.queue.onSubmittedWorkDone();
    }
  } finally {
    wall = performance.now() - t0;
    for (const t of outs) t.dispose(); // also when an op threw
  }
  return { gpuMs, wallMs: wall / iterations };
}

/** Submits what the backend has recorded but not yet submitted (it batches dispatches). */
function flush(backend: any): void {
  if (backend.commandEncoder) backend.submitQueue();
}

/** Reads a tensor back (for checks). */
export async function tfRead(t: TF.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}
