// `webgen quantize`: a GPT-2 folder with 8-bit weights (dtype 'q8'). The matrices (four per block, wte,
// and lm_head when the checkpoint has one) become int8 values with an f16 scale per 32 (loaders/q8.ts
// names the tensors); the other tensors are copied as they are, and so are the folder's other files
// (config, tokenizer, licences), but not other weight files. GPT2.load reads the result as q8.
import { copyFile, mkdir, open, readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OptionError } from '../errors.js';
import { parseGPT2Config } from '../loaders/gpt2_config.js';
import { safetensorsParts, SafeTensors, ShardedSafeTensors, type TensorReader } from '../loaders/safetensors.js';
import { findWeights, quantizeCheckpoint } from '../models/gpt2_weights.js';

export const QUANTIZE_USAGE = `  quantize --out DIR2              write a GPT-2 folder with 8-bit weights (int8, an f16 scale per 32 values)
      --model DIR                 the folder to quantize (default: pretrained/gpt2-kjv); GPT2.load reads DIR2 as dtype q8`;

/** Weight files of other formats, and the safetensors of the source (rewritten, not copied). */
const WEIGHT_FILE = /\.(safetensors|bin|h5|msgpack|onnx|ot|pt|pth|ckpt|gguf)$|^model\.safetensors\.index\.json$/;

const MB = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

export async function runQuantize(args: string[], defaultModel: string): Promise<number> {
  const { values: v } = parseArgs({ args, options: { model: { type: 'string' }, out: { type: 'string' } } });
  if (!v.out) throw new OptionError('--out DIR2 is required (the folder to write)');
  const src = resolve(v.model ?? defaultModel);
  const out = resolve(v.out);
  if (src === out) throw new OptionError('--out must be another folder than --model (the weights would be overwritten)');
  if (!(await stat(src).catch(() => undefined))?.isDirectory()) throw new OptionError(`--model: ${src} is not a folder`);
  parseGPT2Config(JSON.parse(await readFile(join(src, 'config.json'), 'utf8')), join(src, 'config.json')); // a GPT-2 folder
  const weights = await findWeights(src, undefined, {});
  let st: TensorReader;
  let metadata: Record<string, string> = {};
  let inBytes = 0;
  if ('file' in weights) {
    const file = weights.file as string;
    const s = await SafeTensors.load(file);
    ((st = s), (metadata = { ...s.metadata }));
    inBytes = (await stat(file)).size;
  } else {
    st = await ShardedSafeTensors.load(weights.index, (f) => join(src, f));
    const index = JSON.parse(await readFile(weights.index as string, 'utf8')) as { weight_map: Record<string, string> };
    for (const f of new Set(Object.values(index.weight_map))) inBytes += (await stat(join(src, f))).size;
  }
  const t0 = performance.now();
  const q = quantizeCheckpoint(st, metadata);
  await mkdir(out, { recursive: true });
  const target = join(out, 'model.safetensors');
  const fh = await open(target, 'w');
  let outBytes = 0;
  try {
    for (const part of safetensorsParts(q.tensors, q.metadata)) {
      await fh.write(part);
      outBytes += part.byteLength;
    }
  } finally {
    await fh.close();
  }
  const copied: string[] = [];
  for (const e of await readdir(src, { withFileTypes: true })) {
    if (!e.isFile() || WEIGHT_FILE.test(e.name)) continue;
    await copyFile(join(src, e.name), join(out, e.name));
    copied.push(e.name);
  }
  const matrices = Object.keys(q.tensors).filter((n) => n.endsWith('.q8')).length;
  console.log(`${src} -> ${out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  console.log(
    `weights: ${MB(inBytes)} -> model.safetensors ${MB(outBytes)} (${((outBytes / inBytes) * 100).toFixed(1)}%), ${matrices} matrices in int8`,
  );
  console.log(`copied: ${copied.join(', ') || 'nothing'}`);
  return 0;
}
