// `webgen gan`: images from a GAN generator, as a PNG grid, PNG files, or raw float32 for exact
// comparisons with other engines.
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pngjs from 'pngjs';
import { Generator, imageRgba, OptionError, slerpLatents, type Rgba } from '../index.js';
import { isKerasSource, loadKerasGenerator } from '../models/gan/keras.js';
import { errorLine } from './args.js';

/** PNG bytes, by pngjs: bundled into the CLI (dist/node/cli.js), so the installed bin needs nothing more. */
function png(img: Rgba): Uint8Array {
  const p = new pngjs.PNG({ width: img.width, height: img.height });
  p.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return new Uint8Array(pngjs.PNG.sync.write(p));
}

/**
 * The project's own generator (a DCGAN trained on 32x32 emoji): pretrained/ of the package (beside
 * dist/ and src/), else of the working directory.
 */
export function defaultGanModel(): string {
  const here = fileURLToPath(new URL('../../pretrained/dcgan-emoji/', import.meta.url));
  const cwd = resolve('pretrained/dcgan-emoji');
  return [here, cwd].find((p) => existsSync(join(p, 'model.safetensors'))) ?? here;
}

export const GAN_USAGE = `usage: webgen gan [options]

Generates images with a GAN generator (a PyTorch DCGAN, a file Keras saved, or any generator described by a generator.json).

options:
  --model <dir|file>     model folder (model.safetensors [+ generator.json]), a .safetensors file, or a
                         Keras file (.keras, or .h5 with its model config)
                         (default: the project's emoji DCGAN, pretrained/dcgan-emoji)
  --write-graph <dir>    with a Keras --model: write its equivalent model.safetensors + generator.json
                         into <dir> (to read or edit; load the folder with --model <dir>) and exit
  --graph <file.json>    the layer list, when it is not generator.json beside the weights
  --count <n>            images to generate (default 16)
  --seed <n>             seed of the latents (default 7)
  --z <file.f32>         latents instead: raw little-endian float32, nz values per image
  --interpolate <n>      a latent walk of n frames (slerp) from the first to the second latent
  --out <path>           *.png: one grid; *.f32: raw float32 images in the model's output layout;
                         a folder (ending in /): one PNG per image (default gan.png, walk/ for --interpolate)
  --cols <n>             images per grid row (default: square)
  --scale <n>            upscale PNGs by n (nearest neighbour, default 1)
  --repeat <n>           generate n more times and print the milliseconds per batch
  --verbose              print the generator's GPU steps
`;

export async function runGan(args: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        graph: { type: 'string' },
        'write-graph': { type: 'string' },
        count: { type: 'string' },
        seed: { type: 'string' },
        z: { type: 'string' },
        interpolate: { type: 'string' },
        out: { type: 'string' },
        cols: { type: 'string' },
        scale: { type: 'string' },
        repeat: { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    console.error(errorLine('webgen gan', e));
    return 2;
  }
  if (v.help) {
    console.log(GAN_USAGE);
    return 0;
  }
  const int = (name: string, def: number | undefined, min: number): number | undefined => {
    const s = v[name] as string | undefined;
    if (s === undefined) return def;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new OptionError(`--${name} must be an integer >= ${min}, got "${s}"`);
    return n;
  };
  let count: number, seed: number, frames: number | undefined, cols: number | undefined, scale: number, repeat: number;
  try {
    count = int('count', 16, 1)!;
    seed = int('seed', 7, -(2 ** 31))!;
    frames = int('interpolate', undefined, 1);
    cols = int('cols', undefined, 1);
    scale = int('scale', 1, 1)!;
    repeat = int('repeat', 0, 0)!;
    if (v.z !== undefined && v.count !== undefined) throw new OptionError('give --count or --z, not both');
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    console.error(errorLine('webgen gan', e));
    return 2;
  }

  const model = (v.model as string | undefined) ?? defaultGanModel();
  if (v.model === undefined && !existsSync(join(model, 'model.safetensors'))) {
    console.error(
      `webgen gan: the default generator is missing (${join(model, 'model.safetensors')}); train it with tools/train_dcgan.py or pass --model <dir>`,
    );
    return 1;
  }
  if (v['write-graph'] !== undefined) {
    const dir = v['write-graph'] as string;
    if (!(await isKerasSource(model))) {
      console.error(`webgen gan: --write-graph converts a Keras file (.keras, .h5); ${model} is not one`);
      return 2;
    }
    const k = await loadKerasGenerator(model);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.safetensors'), k.safetensors);
    await writeFile(join(dir, 'generator.json'), JSON.stringify(k.graph, null, 2) + '\n');
    const kinds = k.graph.layers.map((l) => l.type).join(', ');
    console.log(
      `wrote ${join(dir, 'model.safetensors')} (${k.safetensors.byteLength} bytes) and ${join(dir, 'generator.json')}: nz ${k.graph.nz}; ${kinds}`,
    );
    return 0;
  }
  const t0 = performance.now();
  const gan = await Generator.load(model, { graph: v.graph as string | undefined });
  try {
    const loadMs = performance.now() - t0;
    const { channels, height, width, layout } = gan.image;
    console.log(
      `model: ${model} (nz ${gan.nz} -> ${channels}x${height}x${width} ${layout}), loaded in ${loadMs.toFixed(0)} ms on ${gan.gpu.adapter.description || gan.gpu.adapter.device || gan.gpu.adapter.vendor}`,
    );
    if (v.verbose) console.log(gan.describe());

    let z: Float32Array;
    if (v.z !== undefined) {
      const bytes = await readFile(v.z as string);
      if (bytes.byteLength % 4 !== 0) throw new OptionError(`--z ${v.z}: ${bytes.byteLength} bytes is not a whole number of float32`);
      z = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      if (z.length === 0 || z.length % gan.nz !== 0)
        throw new OptionError(`--z ${v.z}: ${z.length} values are not a whole number of latents of nz = ${gan.nz}`);
    } else {
      z = gan.latents(frames ? 2 : count, seed);
    }
    if (frames) {
      if (z.length < 2 * gan.nz) throw new OptionError('--interpolate needs two latents (--z with at least 2 x nz values)');
      z = slerpLatents(z.subarray(0, gan.nz), z.subarray(gan.nz, 2 * gan.nz), frames);
    }
    const n = z.length / gan.nz;

    let t = performance.now();
    const images = await gan.generate({ z });
    const firstMs = performance.now() - t;
    console.log(`generated ${n} image${n > 1 ? 's' : ''} in ${firstMs.toFixed(1)} ms (first batch: records the plan)`);
    if (repeat > 0) {
      t = performance.now();
      for (let i = 0; i < repeat; i++) await gan.generate({ z });
      console.log(`${((performance.now() - t) / repeat).toFixed(1)} ms per batch of ${n} (mean of ${repeat})`);
    }

    const out = (v.out as string | undefined) ?? (frames ? 'walk/' : 'gan.png');
    const isDir =
      out.endsWith('/') ||
      (await stat(out).then(
        (s) => s.isDirectory(),
        () => false,
      ));
    if (out.endsWith('.f32')) {
      await writeFile(out, new Uint8Array(images.buffer, images.byteOffset, images.byteLength));
      console.log(`wrote ${out}: ${n} x ${channels}x${height}x${width} float32 ${layout}`);
    } else if (isDir) {
      await mkdir(out, { recursive: true });
      const spec = gan.image;
      for (let i = 0; i < n; i++) {
        const img = imageRgba(images, spec, i);
        const scaled =
          scale > 1 ? gan.grid(images.subarray(i * gan.outputSize, (i + 1) * gan.outputSize), { cols: 1, pad: 0, scale }) : img;
        await writeFile(join(out, `${frames ? 'frame' : 'image'}_${String(i).padStart(3, '0')}.png`), png(scaled));
      }
      console.log(`wrote ${n} PNGs to ${out}`);
    } else {
      await writeFile(out, png(gan.grid(images, { cols, scale })));
      console.log(`wrote ${out}`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    console.error(errorLine('webgen gan', e));
    return 2;
  } finally {
    gan.dispose();
  }
}
