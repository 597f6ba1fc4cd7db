// The generation loop and the sampler's logic, in plain TypeScript against fake forward passes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPT2Tokenizer } from '../../src/loaders/tokenizer.js';
import { ContextLengthError, OptionError } from '../../src/errors.js';
import { generateAll, generateStream, type GenerationPiece } from '../../src/generation/generate.js';
import { drawUniform, keptDistribution, resolveSampling, sampleRow } from '../../src/generation/sampling.js';
import { randomArray } from '../helpers/assert.js';
import { byteCodec, FakeModelStepper, ScriptedStepper } from '../helpers/fake.js';

const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

async function collect(it: AsyncGenerator<GenerationPiece, unknown>) {
  const pieces: GenerationPiece[] = [];
  for await (const p of it) pieces.push(p);
  return pieces;
}

describe('generation loop', () => {
  it('streams text, never splitting a UTF-8 character', async () => {
    const text = 'héllo wörld 日本語 🙂👍🏽 done';
    const s = new ScriptedStepper([bytes(text)]);
    const pieces = await collect(generateStream(s, byteCodec(), 'x', { maxNewTokens: bytes(text).length }));
    expect(pieces.map((p) => p.text).join('')).toBe(text);
    for (const p of pieces) expect(p.text).not.toContain('\uFFFD');
    expect(pieces.length).toBeGreaterThan(10);
    expect(s.ended).toBe(1);
  });

  it('stops at maxNewTokens and reports the finish reason', async () => {
    const s = new ScriptedStepper([bytes('abcdefgh')]);
    const r = await generateAll(s, byteCodec(), 'x', { maxNewTokens: 3 });
    expect(r.sequences[0]).toMatchObject({ text: 'abc', finishReason: 'length', ids: bytes('abc') });
  });

  it('stops at EOS (not emitted) unless stopAtEos is false', async () => {
    const s = new ScriptedStepper([[...bytes('ab'), 256, ...bytes('cd')]]);
    const r = await generateAll(s, byteCodec(256), 'x', { maxNewTokens: 5 });
    expect(r.sequences[0]).toMatchObject({ text: 'ab', finishReason: 'eos' });
    const r2 = await generateAll(s, byteCodec(256), 'x', { maxNewTokens: 5, stopAtEos: false });
    expect(r2.sequences[0].text).toBe('abcd');
  });

  it('cuts at a stop string, even one spread over several tokens, and never shows its start', async () => {
    const s = new ScriptedStepper([bytes('one two\n\nthree')]);
    const pieces = await collect(generateStream(s, byteCodec(), 'x', { maxNewTokens: 20, stop: ['\n\n', 'zz'] }));
    expect(pieces.map((p) => p.text).join('')).toBe('one two');
    for (const p of pieces) expect(p.text).not.toContain('\n');
    const r = await generateAll(s, byteCodec(), 'x', { maxNewTokens: 20, stop: 'two' });
    expect(r.sequences[0]).toMatchObject({ text: 'one ', finishReason: 'stop' });
    // a held-back prefix that never completes a stop string is released at the end
    const r2 = await generateAll(new ScriptedStepper([bytes('ab\n')]), byteCodec(), 'x', { maxNewTokens: 3, stop: '\n\n' });
    expect(r2.sequences[0]).toMatchObject({ text: 'ab\n', finishReason: 'length' });
  });

  it('runs several sequences as one batch, each finishing on its own', async () => {
    const s = new ScriptedStepper([bytes('aaaa'), [...bytes('b'), 256], bytes('c.cc')]);
    const pieces = await collect(generateStream(s, byteCodec(256), 'x', { maxNewTokens: 4, numReturnSequences: 3, stop: '.' }));
    const text = (b: number) =>
      pieces
        .filter((p) => p.sequence === b)
        .map((p) => p.text)
        .join('');
    expect([text(0), text(1), text(2)]).toEqual(['aaaa', 'b', 'c']);
    expect(s.started?.batch).toBe(3);
  });

  it('aborts mid-stream with an AbortError', async () => {
    const ac = new AbortController();
    const s = new ScriptedStepper([bytes('abcdefghij')]);
    const got: string[] = [];
    const run = async () => {
      for await (const p of generateStream(s, byteCodec(), 'x', { maxNewTokens: 10, signal: ac.signal })) {
        got.push(p.text);
        if (got.length === 3) ac.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(got.join('')).toBe('abc');
    expect(s.ended).toBe(1);
  });

  it('rejects a prompt plus maxNewTokens beyond the context, saying the numbers', async () => {
    const s = new ScriptedStepper([bytes('abc')], 257, 16);
    await expect(generateAll(s, byteCodec(), 'twelve chars', { maxNewTokens: 5 })).rejects.toThrow(ContextLengthError);
    await expect(generateAll(s, byteCodec(), 'twelve chars', { maxNewTokens: 5 })).rejects.toThrow(
      /12 tokens \+ maxNewTokens 5 = 17 exceeds the model's context of 16/,
    );
  });

  it('validates options with typed errors naming them', async () => {
    const s = new ScriptedStepper([bytes('abc')]);
    for (const [opts, re] of [
      [{ maxNewTokens: 0 }, /maxNewTokens/],
      [{ topP: 0 }, /topP/],
      [{ topK: -1 }, /topK/],
      [{ temperature: -1 }, /temperature/],
      [{ repetitionPenalty: 0 }, /repetitionPenalty/],
      [{ numReturnSequences: 0 }, /numReturnSequences/],
      [{ stop: [''] }, /stop/],
    ] as const) {
      await expect(generateAll(s, byteCodec(), 'x', opts as any)).rejects.toThrow(OptionError);
      await expect(generateAll(s, byteCodec(), 'x', opts as any)).rejects.toThrow(re);
    }
  });
});

describe('sampler logic (CPU reference of the GPU sampler)', () => {
  const V = 97;
  const logits = randomArray(V, 5, 3);
  const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);

  it('greedy takes the argmax; temperature 0 is greedy', () => {
    expect(sampleRow(logits, [], resolveSampling({}, V), 0)).toBe(order[0]);
    expect(sampleRow(logits, [], resolveSampling({ temperature: 0, seed: 3 }, V), 0)).toBe(order[0]);
  });

  it('top-k keeps exactly the k largest', () => {
    const kept = keptDistribution(logits, [], resolveSampling({ topK: 5, seed: 1 }, V));
    expect([...kept.keys()].sort()).toEqual(order.slice(0, 5).sort());
  });

  it('top-p keeps the smallest head reaching p (transformers semantics)', () => {
    const o = resolveSampling({ topP: 0.6, seed: 1 }, V);
    const kept = keptDistribution(logits, [], o);
    const p = order.map((i) => Math.exp(logits[i]));
    const z = p.reduce((a, b) => a + b);
    // keep token j iff the mass of tokens strictly more likely than it is < topP
    let above = 0;
    const expected: number[] = [];
    for (let j = 0; j < V; j++) {
      if (above / z < 0.6) expected.push(order[j]);
      above += p[j];
    }
    expect([...kept.keys()].sort()).toEqual(expected.sort());
  });

  it('repetition penalty divides positive and multiplies negative scores of seen tokens', () => {
    const l = Float32Array.from([2, -1, 1.9, 0]);
    expect(sampleRow(l, [], resolveSampling({}, 4), 0)).toBe(0);
    expect(sampleRow(l, [0], resolveSampling({ repetitionPenalty: 1.1 }, 4), 0)).toBe(2);
    const o = resolveSampling({ repetitionPenalty: 3, topK: 2, seed: 1 }, 4);
    expect([...keptDistribution(Float32Array.from([2, -0.1, 0.5, 0.2]), [1, 2], o).keys()].sort()).toEqual([0, 3]);
  });

  it('draws follow the kept distribution (chi-square over 4000 seeds)', () => {
    const o0 = resolveSampling({ topK: 6, temperature: 0.7, seed: 0 }, V);
    const kept = keptDistribution(logits, [], o0);
    const z = [...kept.values()].reduce((a, b) => a + b);
    const counts = new Map<number, number>();
    const N = 4000;
    for (let seed = 0; seed < N; seed++) {
      const id = sampleRow(logits, [], { ...o0, seed }, 0);
      expect(kept.has(id)).toBe(true);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    let chi2 = 0;
    for (const [id, w] of kept) chi2 += ((counts.get(id) ?? 0) - (N * w) / z) ** 2 / ((N * w) / z);
    expect(chi2).toBeLessThan(25); // 5 degrees of freedom: p < 0.0002 of failing by chance
  });

  it('the draw is a pure function of (seed, row, position)', () => {
    expect(drawUniform(7, 0, 10)).toBe(drawUniform(7, 0, 10));
    expect(drawUniform(7, 0, 10)).not.toBe(drawUniform(7, 1, 10));
    expect(drawUniform(7, 0, 10)).not.toBe(drawUniform(8, 0, 10));
  });

  it('same seed, same text against a fake forward pass; another seed, other text', async () => {
    const run = (seed: number) =>
      generateAll(new FakeModelStepper(256), byteCodec(), 'hi', { maxNewTokens: 40, topK: 50, topP: 0.9, temperature: 0.9, seed });
    const a = await run(1),
      b = await run(1),
      c = await run(2);
    expect(a.sequences[0].ids).toEqual(b.sequences[0].ids);
    expect(a.sequences[0].ids).not.toEqual(c.sequences[0].ids);
  });
});

describe('the transformers-style call', () => {
  const dir = new URL('../../pretrained/gpt2-kjv/', import.meta.url).pathname;
  const tok = GPT2Tokenizer.fromVocabAndMerges(readFileSync(dir + 'vocab.json', 'utf8'), readFileSync(dir + 'merges.txt', 'utf8'));

  it('maxLength counts the prompt, as max_length does; with maxNewTokens or too short it is refused', async () => {
    const s = new ScriptedStepper([bytes('abcdefghij')]);
    const r = await generateAll(s, byteCodec(), [1, 2, 3], { maxLength: 7 });
    expect(r.sequences[0].ids.length).toBe(4);
    await expect(generateAll(s, byteCodec(), [1, 2, 3], { maxLength: 7, maxNewTokens: 2 })).rejects.toThrow(/not both/);
    await expect(generateAll(s, byteCodec(), [1, 2, 3], { maxLength: 3 })).rejects.toThrow(/maxLength 3 leaves no room .* 3 tokens/);
    await expect(generateAll(s, byteCodec(), [1, 2, 3], { maxLength: 7.5 })).rejects.toThrow(OptionError);
  });

  it('skipSpecialTokens leaves <|endoftext|> out of the text (streamed and final), the ids keep it', async () => {
    const eos = tok.eosTokenId!;
    const script = [...tok.encode('And God said'), eos, ...tok.encode(' Let there be light')];
    for (const skip of [false, true]) {
      const s = new ScriptedStepper([script], tok.vocabSize);
      const pieces: string[] = [];
      const r = await generateAll(s, tok, [1], { maxNewTokens: script.length, stopAtEos: false, skipSpecialTokens: skip }, (p) =>
        pieces.push(p.text),
      );
      expect(r.sequences[0].ids).toEqual(script);
      expect(r.sequences[0].text).toBe(skip ? 'And God said Let there be light' : 'And God said<|endoftext|> Let there be light');
      expect(pieces.join('')).toBe(r.sequences[0].text);
      expect(tok.decode(script, { skipSpecialTokens: skip })).toBe(r.sequences[0].text);
    }
  });
});
