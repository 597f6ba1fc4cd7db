// GPT-2 byte-level BPE tokenizer, pure TypeScript (browsers, workers, Node; no fs, no Buffer).
//
// Algorithm (identical to OpenAI's gpt-2/src/encoder.py, which Hugging Face's ByteLevel BPE and
// tiktoken's r50k_base reproduce):
//   1. pre-tokenize with GPT-2's regex
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   2. UTF-8 encode each piece and map every byte to a printable character (bytes_to_unicode);
//   3. BPE: repeatedly take the adjacent pair with the lowest merge rank and merge ALL its
//      occurrences left to right (non-overlapping), until no adjacent pair has a rank;
//   4. look the resulting symbols up in the vocabulary.
//
// `\s` in the regex: GPT-2 ran the pattern with Python's `regex` module, where \s is the Unicode
// White_Space property (tiktoken's Rust regex and HF's Oniguruma agree). JavaScript's \s is a
// different set: it adds U+FEFF (BOM / zero-width no-break space) and lacks U+0085 (NEL). We
// therefore spell \s out as the White_Space set (WS below) so that text containing U+FEFF or
// U+0085 tokenizes exactly as GPT-2 does. JS ports that use /\s/u (js-tiktoken, gpt-3-encoder)
// differ from GPT-2 on exactly those two characters (see test/tokenizer.test.ts).
//
// Special tokens: encode(text) treats "<|endoftext|>" (and every other special/added token) as
// plain text by default, like OpenAI's encoder.py and gpt-3-encoder do, so text from users can
// never inject a control token. encode(text, { allowSpecial: true }) maps the literal special
// strings to their ids (as Hugging Face does by default and tiktoken does with allowedSpecial).
//
// Lone UTF-16 surrogates cannot be represented in UTF-8: they encode as U+FFFD (EF BF BD), as in
// every other JS tokenizer, so decode(encode(x)) === x holds for well-formed strings only.

import { TokenizerError } from '../errors.js';

export interface EncodeOptions {
  /**
   * false (default): special tokens such as "<|endoftext|>" appearing in the text are encoded as
   * plain text. true: their literal strings map to their ids.
   */
  allowSpecial?: boolean;
}

export interface VocabAndMergesOptions {
  /**
   * Vocabulary entries to treat as special tokens (default: "<|endoftext|>" when it is in the
   * vocabulary). Each must be in the vocabulary.
   */
  specialTokens?: readonly string[];
}

export interface StreamDecoder {
  /** Adds one token; returns the text that became complete (never half a UTF-8 character). */
  push(id: number): string;
  /** Returns what is held back (incomplete UTF-8 becomes U+FFFD) and resets the decoder. */
  flush(): string;
}

// Unicode White_Space, i.e. Python `regex` \s (see the header comment).
const WS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** GPT-2's pre-tokenization pattern with \s spelt as Unicode White_Space (each tokenizer uses a copy: lastIndex is state). */
const GPT2_PRETOKENIZE_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  'gu',
);

/** GPT-2's bytes_to_unicode(): byte -> printable character, and the inverse (char code -> byte). */
const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return table;
})();
const CHAR_TO_BYTE: Int16Array = (() => {
  const inv = new Int16Array(512).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => {
    inv[c.charCodeAt(0)] = b;
  });
  return inv;
})();

const EOS_TOKEN = '<|endoftext|>';
const CACHE_MAX_ENTRIES = 65536;
const CACHE_MAX_PIECE_LENGTH = 256;

/** A merge and where it came from (a line number or array index, named by TokenizerSpec.mergeWhere). */
interface MergeEntry {
  a: string;
  b: string;
  at: number;
}
interface AddedTokenEntry {
  content: string;
  id: number;
  where: string;
}
interface TokenizerSpec {
  vocab: Map<string, number>;
  vocabWhere: string;
  merges: MergeEntry[];
  mergeWhere: (at: number) => string;
  added: AddedTokenEntry[];
  addPrefixSpace: boolean;
  ignoreMerges: boolean;
  normalize: ((s: string) => string) | null;
}

/** One heap entry of the BPE merge loop: the pair (left, right) formed when their versions were verL/verR. */
interface PairEntry {
  rank: number;
  left: number;
  right: number;
  verL: number;
  verR: number;
}

export class GPT2Tokenizer {
  /** Largest token id + 1 (50257 for GPT-2). */
  readonly vocabSize: number;
  /** Id of "<|endoftext|>" when the vocabulary has it. */
  readonly eosTokenId: number | undefined;
  /** Special tokens (content -> id): recognised in text only with encode(..., { allowSpecial: true }). */
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly specialIds: ReadonlySet<number>;

  private readonly vocab: Map<string, number>;
  private readonly idToTok: (string | undefined)[];
  private readonly idToBytes: (Uint8Array | undefined)[];
  private readonly ranks: Map<string, number>; // "a b" -> rank (symbols never contain a space)
  private readonly pattern: RegExp;
  private readonly specialPattern: RegExp | null;
  private readonly addPrefixSpace: boolean;
  private readonly ignoreMerges: boolean;
  private readonly normalize: ((s: string) => string) | null;
  private readonly cache = new Map<string, readonly number[]>();
  private readonly utf8 = new TextEncoder();
  private readonly utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  private constructor(spec: TokenizerSpec) {
    const { vocab, vocabWhere } = spec;
    this.vocab = vocab;
    this.addPrefixSpace = spec.addPrefixSpace;
    this.ignoreMerges = spec.ignoreMerges;
    this.normalize = spec.normalize;
    this.pattern = new RegExp(GPT2_PRETOKENIZE_PATTERN.source, GPT2_PRETOKENIZE_PATTERN.flags);

    // Ids: unique, and with a vocabulary size covering added tokens too.
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    for (const t of spec.added) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    const idToTok: (string | undefined)[] = new Array<string | undefined>(this.vocabSize).fill(undefined);
    for (const [tok, id] of vocab) {
      const prev = idToTok[id];
      if (prev !== undefined) {
        throw new TokenizerError(`${vocabWhere}: id ${id} is assigned to both ${JSON.stringify(prev)} and ${JSON.stringify(tok)}`);
      }
      idToTok[id] = tok;
    }

    // Added/special tokens: consistent with the vocabulary, decoded as their UTF-8 content.
    const special = new Map<string, number>();
    for (const t of spec.added) {
      const atId = idToTok[t.id];
      if (atId !== undefined && atId !== t.content) {
        throw new TokenizerError(
          `${t.where}: id ${t.id} of ${JSON.stringify(t.content)} is already the id of vocabulary token ${JSON.stringify(atId)}`,
        );
      }
      const inVocab = vocab.get(t.content);
      if (inVocab !== undefined && inVocab !== t.id) {
        throw new TokenizerError(`${t.where}: ${JSON.stringify(t.content)} has id ${t.id} but the vocabulary gives it id ${inVocab}`);
      }
      const prev = special.get(t.content);
      if (prev !== undefined && prev !== t.id) {
        throw new TokenizerError(`${t.where}: ${JSON.stringify(t.content)} is listed twice, with ids ${prev} and ${t.id}`);
      }
      special.set(t.content, t.id);
      idToTok[t.id] = t.content;
    }
    this.idToTok = idToTok;
    this.specialTokens = special;
    this.specialIds = new Set(special.values());
    this.eosTokenId = special.get(EOS_TOKEN) ?? vocab.get(EOS_TOKEN);

    // Byte-level: every byte has a base token, every ordinary token spells bytes.
    for (let b = 0; b < 256; b++) {
      if (!vocab.has(BYTE_TO_CHAR[b]!)) {
        throw new TokenizerError(
          `${vocabWhere}: missing the byte-level base token ${JSON.stringify(BYTE_TO_CHAR[b])} for byte 0x${b.toString(16).padStart(2, '0')} (not a GPT-2 byte-level BPE vocabulary?)`,
        );
      }
    }
    const idToBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(this.vocabSize).fill(undefined);
    for (let id = 0; id < this.vocabSize; id++) {
      const tok = idToTok[id];
      if (tok === undefined) continue;
      if (special.has(tok)) {
        idToBytes[id] = this.utf8.encode(tok);
        continue;
      }
      const bytes = new Uint8Array(tok.length);
      for (let i = 0; i < tok.length; i++) {
        const code = tok.charCodeAt(i);
        const b = code < 512 ? CHAR_TO_BYTE[code]! : -1;
        if (b < 0) {
          throw new TokenizerError(
            `${vocabWhere}: token ${JSON.stringify(tok)} (id ${id}) is not byte-level: character U+${code.toString(16).toUpperCase().padStart(4, '0')} is not in GPT-2's byte-to-unicode table`,
          );
        }
        bytes[i] = b;
      }
      idToBytes[id] = bytes;
    }
    this.idToBytes = idToBytes;

    // Merge ranks. A pair listed twice keeps its last rank, like GPT-2's dict(zip(merges, range(n))).
    const ranks = new Map<string, number>();
    const merges = spec.merges;
    for (let rank = 0; rank < merges.length; rank++) {
      const { a, b } = merges[rank]!;
      if (!vocab.has(a) || !vocab.has(b)) {
        const part = vocab.has(a) ? b : a;
        throw new TokenizerError(
          `${spec.mergeWhere(merges[rank]!.at)}: merge "${a} ${b}" names ${JSON.stringify(part)}, which is not in the vocabulary`,
        );
      }
      if (!vocab.has(a + b)) {
        throw new TokenizerError(
          `${spec.mergeWhere(merges[rank]!.at)}: merge "${a} ${b}" produces ${JSON.stringify(a + b)}, which is not in the vocabulary`,
        );
      }
      ranks.set(a + ' ' + b, rank);
    }
    this.ranks = ranks;

    const specials = [...special.keys()].sort((x, y) => y.length - x.length); // longest first
    this.specialPattern = specials.length
      ? new RegExp(specials.map((s) => s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')).join('|'), 'gu')
      : null;
  }

  /**
   * From GPT-2's vocab.json (text or parsed object) and merges.txt (text; an optional "#version"
   * first line and blank lines are ignored).
   */
  static fromVocabAndMerges(vocab: Record<string, number> | string, merges: string, options: VocabAndMergesOptions = {}): GPT2Tokenizer {
    const vocabMap = parseVocab(vocab, 'vocab.json');
    if (typeof merges !== 'string') throw new TokenizerError(`merges.txt: expected the file's text, got ${describe(merges)}`);
    const entries: MergeEntry[] = [];
    const lines = merges.split('\n');
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (i === 0 && line.startsWith('#version')) continue;
      const sp = line.indexOf(' ');
      // Fast path: exactly "a b". Otherwise split on runs of spaces/tabs like Python's str.split().
      let parts: string[];
      if (sp > 0 && sp < line.length - 1 && line.indexOf(' ', sp + 1) < 0 && line.indexOf('\t') < 0) {
        parts = [line.slice(0, sp), line.slice(sp + 1)];
      } else {
        const trimmed = line.replace(/^[ \t]+|[ \t]+$/g, '');
        if (trimmed === '') continue;
        parts = trimmed.split(/[ \t]+/);
      }
      if (parts.length !== 2) {
        throw new TokenizerError(`merges.txt line ${i + 1}: expected two tokens separated by a space, got ${JSON.stringify(line)}`);
      }
      entries.push({ a: parts[0]!, b: parts[1]!, at: i + 1 });
    }
    const names = options.specialTokens ?? (vocabMap.has(EOS_TOKEN) ? [EOS_TOKEN] : []);
    const added = names.map((content, i): AddedTokenEntry => {
      const id = vocabMap.get(content);
      if (id === undefined) throw new TokenizerError(`options.specialTokens[${i}]: ${JSON.stringify(content)} is not in vocab.json`);
      return { content, id, where: `options.specialTokens[${i}]` };
    });
    return new GPT2Tokenizer({
      vocab: vocabMap,
      vocabWhere: 'vocab.json',
      merges: entries,
      mergeWhere: (line) => `merges.txt line ${line}`,
      added,
      addPrefixSpace: false,
      ignoreMerges: false,
      normalize: null,
    });
  }

  /**
   * From a Hugging Face tokenizer.json (text or parsed) of a GPT-2 style ByteLevel BPE: model.vocab,
   * model.merges ("a b" strings or ["a", "b"] pairs), added_tokens (all treated as special tokens).
   * Honoured: ByteLevel add_prefix_space, model.ignore_merges, NFC/NFD/NFKC/NFKD normalizers.
   * Rejected with a TokenizerError: other model types, pre-tokenizers other than ByteLevel with its
   * GPT-2 regex, subword prefixes/suffixes, other normalizers. The post-processor is not applied
   * (GPT-2's adds nothing).
   */
  static fromTokenizerJson(json: string | object): GPT2Tokenizer {
    const root = typeof json === 'string' ? parseJson(json, 'tokenizer.json') : json;
    if (!isObject(root)) throw new TokenizerError(`tokenizer.json: expected a JSON object, got ${describe(root)}`);
    const model = root['model'];
    if (!isObject(model)) throw new TokenizerError(`tokenizer.json: missing the "model" object`);
    if (model['type'] !== undefined && model['type'] !== 'BPE') {
      throw new TokenizerError(
        `tokenizer.json: model.type is ${JSON.stringify(model['type'])}; only "BPE" (GPT-2 byte-level BPE) is supported`,
      );
    }
    for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
      const v = model[key];
      if (v !== undefined && v !== null && v !== '') {
        throw new TokenizerError(`tokenizer.json: model.${key} is ${JSON.stringify(v)}; GPT-2 byte-level BPE has none`);
      }
    }
    if (model['vocab'] === undefined) throw new TokenizerError('tokenizer.json: missing model.vocab');
    const vocab = parseVocab(model['vocab'] as Record<string, number>, 'tokenizer.json model.vocab');

    const rawMerges = model['merges'];
    if (!Array.isArray(rawMerges)) throw new TokenizerError(`tokenizer.json: model.merges must be an array, got ${describe(rawMerges)}`);
    const mergeWhere = (i: number): string => `tokenizer.json model.merges[${i}]`;
    const merges = rawMerges.map((m: unknown, i): MergeEntry => {
      let parts: unknown[] | undefined;
      if (typeof m === 'string') parts = m.split(' ');
      else if (Array.isArray(m)) parts = m;
      if (!parts || parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string' || !parts[0] || !parts[1]) {
        throw new TokenizerError(`${mergeWhere(i)}: expected "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
      }
      return { a: parts[0], b: parts[1], at: i };
    });

    const rawAdded = root['added_tokens'] ?? [];
    if (!Array.isArray(rawAdded)) throw new TokenizerError(`tokenizer.json: added_tokens must be an array, got ${describe(rawAdded)}`);
    const added = rawAdded.map((t: unknown, i): AddedTokenEntry => {
      const where = `tokenizer.json added_tokens[${i}]`;
      if (!isObject(t)) throw new TokenizerError(`${where}: expected an object, got ${describe(t)}`);
      const { id, content } = t;
      if (typeof content !== 'string' || content === '')
        throw new TokenizerError(`${where}: "content" must be a non-empty string, got ${describe(content)}`);
      if (!isValidId(id)) throw new TokenizerError(`${where}: "id" must be a non-negative integer, got ${describe(id)}`);
      return { content, id, where };
    });

    let addPrefixSpace = false;
    const pre = root['pre_tokenizer'];
    if (pre !== undefined && pre !== null) {
      const byteLevel = findByteLevel(pre);
      if (!byteLevel) {
        throw new TokenizerError(
          `tokenizer.json: pre_tokenizer is ${JSON.stringify(isObject(pre) ? pre['type'] : pre)}; a GPT-2 tokenizer needs "ByteLevel"`,
        );
      }
      if (byteLevel['use_regex'] === false) {
        throw new TokenizerError('tokenizer.json: pre_tokenizer ByteLevel has use_regex false; only the GPT-2 regex is supported');
      }
      addPrefixSpace = byteLevel['add_prefix_space'] === true;
    }

    return new GPT2Tokenizer({
      vocab,
      vocabWhere: 'tokenizer.json model.vocab',
      merges,
      mergeWhere,
      added,
      addPrefixSpace,
      ignoreMerges: model['ignore_merges'] === true,
      normalize: parseNormalizer(root['normalizer']),
    });
  }

  /** Token ids of `text` (see EncodeOptions for special tokens). */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`encode: expected a string, got ${describe(text)}`);
    const out: number[] = [];
    if (!options.allowSpecial || !this.specialPattern) {
      this.encodeOrdinary(text, out);
      return out;
    }
    const re = this.specialPattern;
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      this.encodeOrdinary(text.slice(last, m.index), out);
      out.push(this.specialTokens.get(m[0])!);
      last = m.index + m[0].length;
    }
    this.encodeOrdinary(text.slice(last), out);
    return out;
  }

  /** Text of `ids`; invalid UTF-8 becomes U+FFFD (like Python's errors="replace"). */
  /**
   * The text of `ids`. `skipSpecialTokens` leaves out special tokens such as "<|endoftext|>" (as
   * transformers' `decode(ids, skip_special_tokens=True)`).
   */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const kept = options.skipSpecialTokens ? Array.from(ids).filter((id) => !this.isSpecial(id)) : ids;
    return this.utf8Decoder.decode(this.decodeBytes(kept));
  }

  /** Whether `id` is a special token ("<|endoftext|>", added special tokens). */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Raw bytes of `ids`. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const parts: Uint8Array[] = new Array<Uint8Array>(ids.length);
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf(ids[i]!, 'decode');
      parts[i] = b;
      total += b.length;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /** Incremental decoder for generation: each push returns only complete characters. */
  createStreamDecoder(): StreamDecoder {
    const dec = new TextDecoder('utf-8', { ignoreBOM: true });
    return {
      push: (id: number): string => dec.decode(this.bytesOf(id, 'stream decoder'), { stream: true }),
      flush: (): string => dec.decode(),
    };
  }

  /** The vocabulary string of `id` (byte-level characters, e.g. "Ġthe"), or undefined. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.idToTok[id] : undefined;
  }

  /** The id of a vocabulary string (byte-level characters) or special token, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.vocab.get(token) ?? this.specialTokens.get(token);
  }

  private bytesOf(id: number, who: string): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`${who}: token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
    }
    const b = this.idToBytes[id];
    if (b === undefined) throw new TokenizerError(`${who}: token id ${id} is not assigned to any token`);
    return b;
  }

  private encodeOrdinary(text: string, out: number[]): void {
    if (text === '') return;
    if (this.normalize) text = this.normalize(text);
    if (this.addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    const re = this.pattern;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const piece = m[0];
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = this.bpe(piece);
        if (piece.length <= CACHE_MAX_PIECE_LENGTH) {
          if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
          this.cache.set(piece, ids);
        }
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
  }

  /**
   * BPE of one pre-token with GPT-2's semantics (lowest rank first; all its occurrences merged left
   * to right), in O(n log n): symbols form a linked list; a heap holds the candidate pairs ordered
   * by (rank, position); an entry is stale when either symbol changed since it was pushed.
   */
  private bpe(piece: string): number[] {
    const bytes = this.utf8.encode(piece);
    const n = bytes.length;
    const sym: string[] = new Array<string>(n);
    for (let i = 0; i < n; i++) sym[i] = BYTE_TO_CHAR[bytes[i]!]!;
    if (this.ignoreMerges) {
      const whole = this.vocab.get(sym.join(''));
      if (whole !== undefined) return [whole];
    }
    if (n === 1) return [this.vocab.get(sym[0]!)!];

    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const ver = new Int32Array(n); // bumped when the symbol changes; -1 once merged away
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    next[n - 1] = -1;
    const heap = new PairHeap();
    const pushPair = (l: number, r: number): void => {
      const rank = this.ranks.get(`${sym[l]} ${sym[r]}`);
      if (rank !== undefined) heap.push({ rank, left: l, right: r, verL: ver[l]!, verR: ver[r]! });
    };
    const valid = (e: PairEntry): boolean => ver[e.left] === e.verL && ver[e.right] === e.verR && next[e.left] === e.right;
    for (let i = 0; i + 1 < n; i++) pushPair(i, i + 1);

    const batch: PairEntry[] = [];
    while (heap.size > 0) {
      const top = heap.pop();
      if (!valid(top)) continue;
      // Every occurrence of this pair at this point, in left-to-right order. A merge creates no new
      // occurrence of the same pair (the merged symbol is longer than either half), so GPT-2's
      // single left-to-right pass over the word is this pass over the batch: an entry whose left
      // symbol was consumed by the previous merge fails `valid`, exactly as GPT-2 skips it.
      batch.length = 0;
      batch.push(top);
      while (heap.size > 0 && heap.peek().rank === top.rank) batch.push(heap.pop());
      for (const e of batch) {
        if (!valid(e)) continue;
        const l = e.left,
          r = e.right;
        sym[l] = sym[l]! + sym[r]!;
        ver[l] = ver[l]! + 1;
        ver[r] = -1;
        const nr = next[r]!;
        next[l] = nr;
        if (nr >= 0) prev[nr] = l;
        if (prev[l]! >= 0) pushPair(prev[l]!, l);
        if (nr >= 0) pushPair(l, nr);
      }
    }

    const ids: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) ids.push(this.vocab.get(sym[i]!)!);
    return ids;
  }
}

/** Binary min-heap of pair entries ordered by (rank, left position). */
class PairHeap {
  private readonly a: PairEntry[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): PairEntry {
    return this.a[0]!;
  }
  push(e: PairEntry): void {
    const a = this.a;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = e;
  }
  pop(): PairEntry {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const len = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= len) break;
        const r = l + 1;
        const c = r < len && less(a[r]!, a[l]!) ? r : l;
        if (!less(a[c]!, last)) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

function less(x: PairEntry, y: PairEntry): boolean {
  return x.rank < y.rank || (x.rank === y.rank && x.left < y.left);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isValidId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < 2 ** 31;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new TokenizerError(`${where}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
}

function parseVocab(vocab: unknown, where: string): Map<string, number> {
  const obj = typeof vocab === 'string' ? parseJson(vocab, where) : vocab;
  if (!isObject(obj)) throw new TokenizerError(`${where}: expected an object mapping token strings to ids, got ${describe(obj)}`);
  const map = new Map<string, number>();
  for (const tok of Object.keys(obj)) {
    const id = obj[tok];
    if (!isValidId(id))
      throw new TokenizerError(`${where}: token ${JSON.stringify(tok)} has id ${JSON.stringify(id)}; ids must be non-negative integers`);
    if (tok === '') throw new TokenizerError(`${where}: the empty string is not a valid token (id ${id})`);
    map.set(tok, id);
  }
  if (map.size === 0) throw new TokenizerError(`${where}: the vocabulary is empty`);
  return map;
}

function findByteLevel(pre: unknown): Record<string, unknown> | undefined {
  if (!isObject(pre)) return undefined;
  if (pre['type'] === 'ByteLevel') return pre;
  if (pre['type'] === 'Sequence' && Array.isArray(pre['pretokenizers'])) {
    // Only a lone ByteLevel is GPT-2; a Split before it (Llama 3 style) changes the regex.
    const list = pre['pretokenizers'] as unknown[];
    return list.length === 1 ? findByteLevel(list[0]) : undefined;
  }
  return undefined;
}

function parseNormalizer(n: unknown): ((s: string) => string) | null {
  if (n === undefined || n === null) return null;
  const forms = ['NFC', 'NFD', 'NFKC', 'NFKD'] as const;
  const steps: ((s: string) => string)[] = [];
  const add = (x: unknown): void => {
    const type = isObject(x) ? x['type'] : undefined;
    if (type === 'Sequence' && isObject(x) && Array.isArray(x['normalizers'])) {
      for (const y of x['normalizers'] as unknown[]) add(y);
    } else if (typeof type === 'string' && (forms as readonly string[]).includes(type)) {
      steps.push((s) => s.normalize(type as (typeof forms)[number]));
    } else {
      throw new TokenizerError(
        `tokenizer.json: normalizer ${JSON.stringify(type ?? x)} is not supported (GPT-2 has none; NFC/NFD/NFKC/NFKD are)`,
      );
    }
  };
  add(n);
  return steps.length ? (s) => steps.reduce((acc, f) => f(acc), s) : null;
}
