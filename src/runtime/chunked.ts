// A 2-D tensor stored as row ranges in several buffers, for matrices larger than one storage binding
// (gpt2-xl's 321 MB embedding in f32 against a 128-256 MiB limit). Kernels run once per chunk.
import type { Gpu } from './device.js';
import { Tensor, type DType, BYTES_PER_ELEMENT } from './tensor.js';
import { LimitError } from '../errors.js';

export interface Chunk {
  readonly tensor: Tensor;
  /** First row of the whole matrix held by this chunk. */
  readonly start: number;
  readonly rows: number;
}

export class ChunkedTensor {
  private constructor(
    readonly shape: readonly [number, number],
    readonly dtype: DType,
    readonly chunks: readonly Chunk[],
    readonly label: string,
  ) {}

  /** The most rows one buffer may hold under the device's binding and buffer limits. */
  static maxRows(gpu: Gpu, cols: number, dtype: DType): number {
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const rowBytes = cols * BYTES_PER_ELEMENT[dtype];
    // keep an even row count so f16 chunks start on a whole u32 word
    let rows = Math.floor(limit / rowBytes);
    if (rows > 1 && rows % 2) rows--;
    return rows;
  }

  /** Uploads a [rows, cols] matrix (f32 values, or f16 bits for dtype 'f16'), split as the limits require. */
  static from(gpu: Gpu, data: Float32Array | Uint16Array, rows: number, cols: number, dtype: DType, label: string): ChunkedTensor {
    const per = ChunkedTensor.maxRows(gpu, cols, dtype);
    if (per < 1) {
      throw new LimitError(`tensor "${label}": one row of ${cols} ${dtype} values exceeds the device's storage binding limit`);
    }
    const chunks: Chunk[] = [];
    try {
      for (let start = 0; start < rows; start += per) {
        const n = Math.min(per, rows - start);
        const part = data.subarray(start * cols, (start + n) * cols);
        const name = rows > per ? `${label}[${start}:${start + n}]` : label;
        chunks.push({ tensor: Tensor.from(gpu, part as Float32Array, [n, cols], dtype, name), start, rows: n });
      }
    } catch (e) {
      // a chunk that could not be made (out of memory, a lost device): free the ones that were
      for (const c of chunks) c.tensor.dispose();
      throw e;
    }
    return new ChunkedTensor([rows, cols], dtype, chunks, label);
  }

  dispose(): void {
    for (const c of this.chunks) c.tensor.dispose();
  }
}
