// A small zip reader for `.keras` files (a zip of config.json, metadata.json and model.weights.h5):
// the central directory, stored and deflated entries, and Zip64 sizes. Inflating uses the platform's
// DecompressionStream('deflate-raw') (browsers, Node >= 18), so no library is bundled for it.
import { ModelFormatError } from '../errors.js';

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
}

export class ZipFile {
  readonly entries = new Map<string, ZipEntry>();
  private readonly dv: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly fileName = 'file.zip',
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // the end-of-central-directory record is in the last 22 + 65535 bytes
    let eocd = -1;
    for (let p = bytes.byteLength - 22; p >= Math.max(0, bytes.byteLength - 22 - 65535); p--) {
      if (this.dv.getUint32(p, true) === 0x06054b50) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) this.fail('not a zip file (no end of central directory)');
    let count = this.dv.getUint16(eocd + 10, true);
    let cd = this.dv.getUint32(eocd + 16, true);
    if ((count === 0xffff || cd === 0xffffffff) && eocd >= 20 && this.dv.getUint32(eocd - 20, true) === 0x07064b50) {
      const z64 = this.u64(eocd - 20 + 8);
      count = this.u64(z64 + 32);
      cd = this.u64(z64 + 48);
    }
    let p = cd;
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.byteLength || this.dv.getUint32(p, true) !== 0x02014b50) this.fail('broken central directory');
      const method = this.dv.getUint16(p + 10, true);
      let compressedSize = this.dv.getUint32(p + 20, true);
      let size = this.dv.getUint32(p + 24, true);
      const nameLen = this.dv.getUint16(p + 28, true);
      const extraLen = this.dv.getUint16(p + 30, true);
      const commentLen = this.dv.getUint16(p + 32, true);
      let localOffset = this.dv.getUint32(p + 42, true);
      const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
      // Zip64 extra field: the sizes and offset that overflowed, in this order
      for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
        const id = this.dv.getUint16(e, true);
        const len = this.dv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) ((size = this.u64(q)), (q += 8));
          if (compressedSize === 0xffffffff) ((compressedSize = this.u64(q)), (q += 8));
          if (localOffset === 0xffffffff) localOffset = this.u64(q);
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  private u64(p: number): number {
    return this.dv.getUint32(p + 4, true) * 2 ** 32 + this.dv.getUint32(p, true);
  }

  private fail(msg: string): never {
    throw new ModelFormatError(`${this.fileName}: ${msg}`);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** An entry's bytes, inflated where deflated. */
  async read(name: string): Promise<Uint8Array> {
    const e = this.entries.get(name);
    if (!e) this.fail(`has no "${name}" (it holds ${[...this.entries.keys()].join(', ') || 'nothing'})`);
    const p = e!.localOffset;
    if (this.dv.getUint32(p, true) !== 0x04034b50) this.fail(`"${name}": broken local header`);
    const start = p + 30 + this.dv.getUint16(p + 26, true) + this.dv.getUint16(p + 28, true);
    const raw = this.bytes.subarray(start, start + e!.compressedSize);
    if (raw.byteLength < e!.compressedSize) this.fail(`"${name}" is cut short (is the file truncated?)`);
    if (e!.method === 0) return raw;
    if (e!.method !== 8) this.fail(`"${name}" uses zip compression method ${e!.method}; only stored and deflate are supported`);
    if (typeof DecompressionStream === 'undefined') this.fail('inflating needs DecompressionStream (a browser, or Node 18 or newer)');
    const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    const out = new Uint8Array(await new Response(stream).arrayBuffer());
    if (out.byteLength !== e!.size) this.fail(`"${name}" inflated to ${out.byteLength} bytes, the directory says ${e!.size}`);
    return out;
  }
}

/** True when the bytes start like a zip file (a local file header). */
export const isZip = (b: Uint8Array): boolean => b.byteLength >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** True when the bytes start like an HDF5 file (superblock signature at 0). */
export const isHdf5 = (b: Uint8Array): boolean => b.byteLength >= 8 && b[0] === 0x89 && b[1] === 0x48 && b[2] === 0x44 && b[3] === 0x46;
