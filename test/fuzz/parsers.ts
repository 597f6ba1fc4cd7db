// Fuzzing the parsers that take files from users (no GPU): valid inputs mutated (bytes flipped,
// truncated, inserted; JSON values swapped for other types, keys dropped or duplicated; safetensors
// headers rewritten) and fed to every parser. Each must either accept the input or throw one of
// webgen's typed errors; any other exception (TypeError, RangeError, ...) is a failure, and so is a
// hang (the test's timeout). Shared by test/fuzz/fuzz.test.ts (CI) and `npm run fuzz -- --cases N`.
import { readFileSync } from 'node:fs';
import { WebgenError } from '../../src/errors.js';
import { parseGPT2Config } from '../../src/loaders/gpt2_config.js';
import { SafeTensors } from '../../src/loaders/safetensors.js';
import { streamSafetensors } from '../../src/loaders/safetensors_stream.js';
import { GPT2Tokenizer } from '../../src/loaders/tokenizer.js';
import { dcganGraph, parseGraph } from '../../src/models/gan/graph.js';
import { lowerGraph } from '../../src/models/gan/lower.js';
import { mulberry32 } from '../../src/util.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface FuzzReport {
  kind: string;
  cases: number;
  accepted: number;
  rejected: number;
  /** Untyped errors: "input description -> error". Empty when the parser held. */
  failures: string[];
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

/** Bytes flipped, cut short, inserted or dropped. */
function mutateBytes(r: Rand, src: Uint8Array): Uint8Array {
  const b = src.slice();
  switch (int(r, 4)) {
    case 0:
      for (let i = 0, n = 1 + int(r, 8); i < n; i++) b[int(r, b.length)] = int(r, 256);
      return b;
    case 1:
      return b.subarray(0, int(r, b.length));
    case 2: {
      const at = int(r, b.length);
      const ins = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256));
      const out = new Uint8Array(b.length + ins.length);
      out.set(b.subarray(0, at));
      out.set(ins, at);
      out.set(b.subarray(at), at + ins.length);
      return out;
    }
    default: {
      const at = int(r, b.length);
      const n = Math.min(1 + int(r, 32), b.length - at);
      const out = new Uint8Array(b.length - n);
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + n), at);
      return out;
    }
  }
}

const WEIRD: unknown[] = [null, true, false, 0, -1, 1.5, -1e300, 1e300, NaN, '', 'x', '1', [], [1, 2], {}, { a: 1 }, 2 ** 53, -0, '\uD800'];

/** A JSON value with one value somewhere swapped for another type, a key dropped, or a key added. */
function mutateJson(r: Rand, v: unknown, depth = 0): unknown {
  if (Array.isArray(v)) {
    if (v.length === 0 || r() < 0.2) return pick(r, WEIRD);
    const out = v.slice();
    const i = int(r, out.length);
    out[i] = r() < 0.5 && depth < 6 ? mutateJson(r, out[i], depth + 1) : pick(r, WEIRD);
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(out);
    const roll = r();
    if (keys.length === 0 || roll < 0.1) out[pick(r, ['__metadata__', 'model', 'layers', 'nz', 'x', 'weight_map'])] = pick(r, WEIRD);
    else if (roll < 0.25) delete out[pick(r, keys)];
    else {
      const k = pick(r, keys);
      out[k] = r() < 0.6 && depth < 6 ? mutateJson(r, out[k], depth + 1) : pick(r, WEIRD);
    }
    return out;
  }
  return r() < 0.5 ? pick(r, WEIRD) : v;
}

/** A safetensors file with its header parsed, mutated as JSON, and written back with its new length. */
function mutateHeader(r: Rand, file: Uint8Array): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(dec.decode(file.subarray(8, 8 + n)));
  const h = enc.encode(JSON.stringify(mutateJson(r, header)));
  const out = new Uint8Array(8 + h.length + file.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(file.subarray(8 + n), 8 + h.length);
  return out;
}

/** A tiny byte-level BPE: the 256 base symbols of GPT-2's byte map, a few merges. */
function tinyTokenizer(): { vocab: string; merges: string; json: string } {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let k = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + k++);
    }
  const vocab: Record<string, number> = {};
  cs.forEach((c, i) => (vocab[String.fromCharCode(c)] = i));
  const merges = ['t h', 'th e', 'Ġ t', 'Ġ th', 'Ġth e'];
  for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = Object.keys(vocab).length;
  const json = JSON.stringify({
    model: { type: 'BPE', vocab, merges },
    pre_tokenizer: { type: 'ByteLevel' },
    added_tokens: [{ id: vocab['<|endoftext|>'], content: '<|endoftext|>', special: true }],
  });
  return { vocab: JSON.stringify(vocab), merges: '#version: 0.2\n' + merges.join('\n') + '\n', json };
}

/** Runs `cases` mutated inputs of each kind; returns a report per kind. */
export async function fuzzParsers(cases: number, seed = 1): Promise<FuzzReport[]> {
  const r = mulberry32(seed);
  const kerasWeights = new Uint8Array(readFileSync(FIX + 'gan/keras/model.safetensors'));
  const kerasGraph = JSON.parse(readFileSync(FIX + 'gan/keras/generator.json', 'utf8'));
  const dcganWeights = new Uint8Array(readFileSync(FIX + 'gan/dcgan/model.safetensors'));
  const config = JSON.parse(readFileSync(FIX + 'gpt2/odd/config.json', 'utf8'));
  const tok = tinyTokenizer();
  const st = SafeTensors.fromBytes(kerasWeights, 'generator.safetensors');

  const reports: FuzzReport[] = [];
  const run = async (kind: string, n: number, make: () => { what: string; go: () => unknown }) => {
    const rep: FuzzReport = { kind, cases: n, accepted: 0, rejected: 0, failures: [] };
    for (let i = 0; i < n; i++) {
      const { what, go } = make();
      try {
        await go();
        rep.accepted++;
      } catch (e) {
        if (e instanceof WebgenError) rep.rejected++;
        else if (rep.failures.length < 20) rep.failures.push(`${what} -> ${(e as Error)?.name}: ${(e as Error)?.message}`);
        else rep.failures.length++;
      }
    }
    reports.push(rep);
  };
  const share = (w: number) => Math.max(1, Math.round(cases * w));

  await run('safetensors bytes', share(0.2), () => {
    const b = mutateBytes(r, pick(r, [kerasWeights, dcganWeights]));
    return {
      what: `bytes (${b.length})`,
      go: () =>
        SafeTensors.fromBytes(b, 'fuzz.safetensors')
          .names()
          .forEach((n, _, a) => a.length < 50 && SafeTensors.fromBytes(b, 'fuzz.safetensors').f32(n)),
    };
  });
  await run('safetensors header', share(0.2), () => {
    const b = mutateHeader(r, pick(r, [kerasWeights, dcganWeights]));
    return {
      what: `header ${dec.decode(b.subarray(8, Math.min(b.length, 120)))}`,
      go: () => {
        const s = SafeTensors.fromBytes(b, 'fuzz.safetensors');
        for (const n of s.names()) (s.f32(n), s.f16Bits(n));
        dcganGraph(s.tensors, s.fileName);
      },
    };
  });
  await run('safetensors streamed', share(0.05), () => {
    const b = r() < 0.5 ? mutateBytes(r, kerasWeights) : mutateHeader(r, kerasWeights);
    const size = 1 + int(r, 5000);
    async function* chunks() {
      for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
    }
    return {
      what: `streamed ${b.length} bytes in ${size}-byte chunks`,
      go: () =>
        streamSafetensors(
          chunks(),
          'fuzz.safetensors',
          { header: (h) => h.tensors.keys(), tensor: (n, t) => void t.f32(n) },
          r() < 0.5 ? b.length : undefined,
        ),
    };
  });
  await run('config.json', share(0.2), () => {
    const v = mutateJson(r, config);
    return { what: JSON.stringify(v).slice(0, 160), go: () => parseGPT2Config(v, 'config.json') };
  });
  await run('vocab.json + merges.txt', share(0.08), () => {
    const which = int(r, 3);
    const vocab =
      which === 0
        ? dec.decode(mutateBytes(r, enc.encode(tok.vocab)))
        : which === 1
          ? JSON.stringify(mutateJson(r, JSON.parse(tok.vocab)))
          : tok.vocab;
    const merges = which === 2 ? dec.decode(mutateBytes(r, enc.encode(tok.merges))) : tok.merges;
    return {
      what: `vocab/merges variant ${which}`,
      go: () => GPT2Tokenizer.fromVocabAndMerges(vocab, merges).encode('the cat, <|endoftext|> 😀'),
    };
  });
  await run('tokenizer.json', share(0.05), () => {
    const v = r() < 0.5 ? mutateJson(r, JSON.parse(tok.json)) : dec.decode(mutateBytes(r, enc.encode(tok.json)));
    return {
      what: String(typeof v === 'string' ? v : JSON.stringify(v)).slice(0, 160),
      go: () => GPT2Tokenizer.fromTokenizerJson(v as string).decode([1, 2, 100, 258]),
    };
  });
  const good = GPT2Tokenizer.fromVocabAndMerges(tok.vocab, tok.merges);
  await run('text to encode', share(0.05), () => {
    const units = Array.from({ length: int(r, 40) }, () => (r() < 0.3 ? 0xd800 + int(r, 0x800) : int(r, 0x10000)));
    const text = String.fromCharCode(...units);
    return { what: `text ${JSON.stringify(text).slice(0, 80)}`, go: () => good.decode(good.encode(text, { allowSpecial: r() < 0.5 })) };
  });
  await run('generator graph', share(0.17), () => {
    const v = mutateJson(r, kerasGraph);
    return { what: JSON.stringify(v).slice(0, 200), go: () => lowerGraph(parseGraph(v, 'generator.json'), st) };
  });
  return reports;
}
