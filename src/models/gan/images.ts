// Generator outputs (float32, NCHW or NHWC, in a known range) as 8-bit RGBA images: one image, a grid
// of them, an ImageData in the browser, a PNG (an OffscreenCanvas in pages and workers; pngjs in Node,
// imported by name only when a PNG is asked for, so browser bundles never pull it in).
import { OptionError } from '../../errors.js';
import { isNode } from '../../util.js';

/** How a batch of generated images lies in a Float32Array. */
export interface ImageSpec {
  /** 1 (grey), 3 (RGB) or 4 (RGBA). */
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly layout: 'NCHW' | 'NHWC';
  /** The values that map to black and to white. */
  readonly range: readonly [number, number];
}

/** 8-bit RGBA pixels, row-major; the shape of ImageData without needing the DOM. */
export interface Rgba {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

export interface GridOptions {
  /** Images per row (default: ceil(sqrt(count))). */
  cols?: number;
  /** Pixels between and around images (default 2). */
  pad?: number;
  /** Integer upscaling, nearest neighbour (default 1). */
  scale?: number;
  /** RGBA of the padding (default black). */
  background?: readonly [number, number, number, number];
}

function checkSpec(images: ArrayLike<number>, spec: ImageSpec): number {
  const { channels, height, width } = spec;
  if (![1, 3, 4].includes(channels) || height < 1 || width < 1) {
    throw new OptionError(`images: the output is [${channels}, ${height}, ${width}], not an image of 1, 3 or 4 channels`);
  }
  const per = channels * height * width;
  if (images.length === 0 || images.length % per !== 0)
    throw new OptionError(`images: ${images.length} values are not a whole number of ${channels}x${height}x${width} images`);
  return images.length / per;
}

/** Image `index` of a batch as RGBA pixels (values mapped from spec.range to 0..255, rounded). */
export function imageRgba(images: ArrayLike<number>, spec: ImageSpec, index = 0): Rgba {
  const count = checkSpec(images, spec);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new OptionError(`images: index ${index} is outside 0..${count - 1}`);
  const { channels: c, height: h, width: w, range } = spec;
  const [lo, hi] = range;
  const k = 255 / (hi - lo);
  const base = index * c * h * w;
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 4;
      const at = (ch: number) => images[base + (spec.layout === 'NCHW' ? (ch * h + y) * w + x : (y * w + x) * c + ch)];
      // Uint8ClampedArray clamps and rounds half to even on store
      const r = (at(0) - lo) * k;
      data[p] = r;
      data[p + 1] = c >= 3 ? (at(1) - lo) * k : r;
      data[p + 2] = c >= 3 ? (at(2) - lo) * k : r;
      data[p + 3] = c === 4 ? (at(3) - lo) * k : 255;
    }
  return { data, width: w, height: h };
}

/** Image `index` as an ImageData where the DOM has one (page or worker), else as a plain Rgba. */
export function toImageData(images: ArrayLike<number>, spec: ImageSpec, index = 0): ImageData | Rgba {
  const img = imageRgba(images, spec, index);
  const Ctor = (globalThis as { ImageData?: typeof ImageData }).ImageData;
  return Ctor ? new Ctor(img.data as Uint8ClampedArray<ArrayBuffer>, img.width, img.height) : img;
}

/** All images of a batch in one grid, row by row. */
export function gridRgba(images: ArrayLike<number>, spec: ImageSpec, opts: GridOptions = {}): Rgba {
  const count = checkSpec(images, spec);
  const cols = opts.cols ?? Math.ceil(Math.sqrt(count));
  const pad = opts.pad ?? 2;
  const scale = opts.scale ?? 1;
  if (!Number.isInteger(cols) || cols < 1) throw new OptionError(`grid: cols must be a positive integer, got ${cols}`);
  if (!Number.isInteger(pad) || pad < 0) throw new OptionError(`grid: pad must be a non-negative integer, got ${pad}`);
  if (!Number.isInteger(scale) || scale < 1) throw new OptionError(`grid: scale must be a positive integer, got ${scale}`);
  const rows = Math.ceil(count / cols);
  const cw = spec.width * scale,
    ch = spec.height * scale;
  const width = cols * cw + (cols + 1) * pad,
    height = rows * ch + (rows + 1) * pad;
  const data = new Uint8ClampedArray(width * height * 4);
  const bg = opts.background ?? [0, 0, 0, 255];
  for (let i = 0; i < width * height; i++) data.set(bg, i * 4);
  for (let i = 0; i < count; i++) {
    const img = imageRgba(images, spec, i);
    const x0 = pad + (i % cols) * (cw + pad),
      y0 = pad + Math.floor(i / cols) * (ch + pad);
    for (let y = 0; y < ch; y++)
      for (let x = 0; x < cw; x++) {
        const s = (Math.floor(y / scale) * spec.width + Math.floor(x / scale)) * 4;
        data.set(img.data.subarray(s, s + 4), ((y0 + y) * width + x0 + x) * 4);
      }
  }
  return { data, width, height };
}

/**
 * PNG bytes of RGBA pixels: in a page or worker through an OffscreenCanvas, in Node through the npm
 * package `pngjs` (an optional peer dependency, loaded by name only when a PNG is asked for).
 */
export async function encodePng(img: Rgba): Promise<Uint8Array> {
  if (!isNode && typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(img.width, img.height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new OptionError('encodePng: this browser gives no 2d context on an OffscreenCanvas');
    ctx.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
    return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
  }
  const name = 'pngjs';
  let mod: typeof import('pngjs');
  try {
    mod = await import(/* @vite-ignore */ name);
  } catch (e) {
    throw new OptionError('PNG output in Node needs the npm package `pngjs`: npm install pngjs', { cause: e });
  }
  const PNG = mod.PNG ?? (mod as unknown as { default: typeof import('pngjs') }).default.PNG;
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}
