// A safetensors file read as it arrives: the header first (checked before any data is read), then
// each wanted tensor handed over as soon as its last byte is in, and dropped. What is held at once is
// the tensor being assembled plus the chunk in hand, never the file: a model larger than a tab's
// memory loads, and a load holds its GPU copy and little else.
import { ModelFormatError } from '../errors.js';
import { headerLength, parseHeader, SafeTensors, type TensorInfo } from './safetensors.js';

export interface StreamedHeader {
  readonly fileName: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  has(name: string): boolean;
  info(name: string): TensorInfo;
}

export interface StreamHandler {
  /** Called once with the checked header; returns the names to hand over (others are skipped unread). */
  header(h: StreamedHeader): Iterable<string> | Promise<Iterable<string>>;
  /** Called with each wanted tensor as it completes, in file order; awaited before reading on. */
  tensor(name: string, reader: SafeTensors): void | Promise<void>;
}

export interface StreamStats {
  /** Bytes of the file read. */
  fileBytes: number;
  /** The most bytes held at once: the tensor being assembled and the chunk in hand. */
  peakBufferedBytes: number;
  /** The largest tensor handed over. */
  largestTensorBytes: number;
}

/** Reads `chunks` as a safetensors file named `fileName` (of `fileBytes` bytes, when known). */
export async function streamSafetensors(
  chunks: AsyncIterable<Uint8Array>,
  fileName: string,
  handler: StreamHandler,
  fileBytes?: number,
): Promise<StreamStats> {
  const fail = (msg: string): never => {
    throw new ModelFormatError(`${fileName}: ${msg}`);
  };
  const stats: StreamStats = { fileBytes: 0, peakBufferedBytes: 0, largestTensorBytes: 0 };
  let head = new Uint8Array(0); // the bytes before the data, while the header is incomplete
  let need = 8; // bytes of `head` needed before it can be parsed
  let lengthRead = false;
  let order: TensorInfo[] | undefined; // wanted tensors by file offset, once the header is parsed
  let idx = 0;
  let cur: Uint8Array | undefined;
  let pos = 0; // file offset of the chunk in hand
  let header!: StreamedHeader;

  const emitEmpty = async () => {
    while (order && idx < order.length && order[idx].byteLength === 0)
      await handler.tensor(order[idx].name, SafeTensors.single(fileName, order[idx++], new Uint8Array(0)));
  };

  for await (const chunk of chunks) {
    let off = 0;
    stats.fileBytes += chunk.byteLength;
    // the length, then the header: accumulated until whole (they may span chunks, or share one with data)
    while (!order && off < chunk.byteLength) {
      const take = Math.min(need - head.byteLength, chunk.byteLength - off);
      const grown = new Uint8Array(head.byteLength + take);
      grown.set(head);
      grown.set(chunk.subarray(off, off + take), head.byteLength);
      head = grown;
      off += take;
      stats.peakBufferedBytes = Math.max(stats.peakBufferedBytes, head.byteLength + chunk.byteLength);
      if (head.byteLength < need) break;
      if (!lengthRead) {
        need = 8 + headerLength(head, fileName, fileBytes);
        lengthRead = true;
        continue;
      }
      const { tensors, metadata } = parseHeader(head.subarray(8), fileName, fileBytes === undefined ? undefined : fileBytes - need);
      header = {
        fileName,
        tensors,
        metadata,
        has: (n) => tensors.has(n),
        info: (n) => tensors.get(n) ?? fail(`tensor "${n}" is missing`),
      };
      const wanted = new Set(await handler.header(header));
      order = [...tensors.values()].filter((t) => wanted.has(t.name)).sort((a, b) => a.byteOffset - b.byteOffset);
      for (let k = 1; k < order.length; k++) {
        const [a, b] = [order[k - 1], order[k]];
        if (b.byteOffset < a.byteOffset + a.byteLength) fail(`tensors "${a.name}" and "${b.name}" overlap`);
      }
      await emitEmpty();
      pos = need - off; // the file offset of this chunk's first byte
      head = new Uint8Array(0);
    }
    if (!order) continue;
    while (off < chunk.byteLength && idx < order.length) {
      const t = order[idx];
      const at = pos + off;
      if (at < t.byteOffset) {
        off = Math.min(chunk.byteLength, t.byteOffset - pos); // bytes no one wants
        continue;
      }
      cur ??= new Uint8Array(t.byteLength);
      const n = Math.min(t.byteOffset + t.byteLength - at, chunk.byteLength - off);
      cur.set(chunk.subarray(off, off + n), at - t.byteOffset);
      off += n;
      stats.peakBufferedBytes = Math.max(stats.peakBufferedBytes, cur.byteLength + chunk.byteLength);
      if (at + n === t.byteOffset + t.byteLength) {
        stats.largestTensorBytes = Math.max(stats.largestTensorBytes, t.byteLength);
        const bytes = cur;
        cur = undefined;
        idx++;
        await handler.tensor(t.name, SafeTensors.single(fileName, t, bytes));
        await emitEmpty();
      }
    }
    pos += chunk.byteLength;
  }
  if (!order) fail(`only ${stats.fileBytes} bytes: the header is incomplete (not a safetensors file, or truncated)`);
  if (idx < order!.length) fail(`the file ends at byte ${stats.fileBytes}, inside or before tensor "${order![idx].name}" (truncated?)`);
  return stats;
}
