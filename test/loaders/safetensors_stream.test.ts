// The streaming safetensors reader against the whole-file one: every tensor's bytes equal for any
// chunking (1 byte to the whole file), only wanted tensors handed over, in file order; what it holds
// at once is bounded by the largest tensor plus a chunk; truncated and malformed files are
// ModelFormatErrors that name the file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/errors.js';
import { SafeTensors } from '../../src/loaders/safetensors.js';
import { streamSafetensors } from '../../src/loaders/safetensors_stream.js';
import { FIXTURES } from '../helpers/fixtures.js';

const FILE = `${FIXTURES}gpt2/odd/model.safetensors`;

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, Math.min(i + size, bytes.byteLength));
}

describe('streamSafetensors', () => {
  const bytes = new Uint8Array(readFileSync(FILE));
  const whole = SafeTensors.fromBytes(bytes, 'odd.safetensors');
  const names = whole.names();
  const largest = Math.max(...names.map((n) => whole.info(n).byteLength));

  for (const size of [1, 7, 4096, 65_536, bytes.byteLength]) {
    it(`hands over every tensor whole, in file order, for ${size}-byte chunks`, async () => {
      const seen: string[] = [];
      const stats = await streamSafetensors(
        chunked(bytes, size),
        'odd.safetensors',
        {
          header: (h) => {
            expect([...h.tensors.keys()].sort()).toEqual([...names].sort());
            return h.tensors.keys();
          },
          tensor: (name, r) => {
            seen.push(name);
            expect(Array.from(r.f32(name)), name).toEqual(Array.from(whole.f32(name)));
          },
        },
        bytes.byteLength,
      );
      const byOffset = [...names].sort((a, b) => whole.info(a).byteOffset - whole.info(b).byteOffset);
      expect(seen).toEqual(byOffset);
      expect(stats.fileBytes).toBe(bytes.byteLength);
      expect(stats.largestTensorBytes).toBe(largest);
      // the tensor in assembly plus the chunk in hand (the header, while it is read, is smaller)
      expect(stats.peakBufferedBytes).toBeLessThanOrEqual(Math.max(largest, bytes.byteLength - largest) + size);
      if (size <= 4096) expect(stats.peakBufferedBytes).toBeLessThan(bytes.byteLength / 2);
    });
  }

  it('skips unwanted tensors unread, and works without knowing the file size', async () => {
    const want = names.filter((_, i) => i % 3 === 0);
    const seen: string[] = [];
    const stats = await streamSafetensors(chunked(bytes, 1000), 'odd.safetensors', {
      header: () => want,
      tensor: (name) => void seen.push(name),
    });
    expect(seen.sort()).toEqual([...want].sort());
    expect(stats.largestTensorBytes).toBe(Math.max(...want.map((n) => whole.info(n).byteLength)));
  });

  it('a truncated or malformed file is a ModelFormatError naming it', async () => {
    const run = (b: Uint8Array, known?: number) =>
      streamSafetensors(chunked(b, 333), 'cut.safetensors', { header: (h) => h.tensors.keys(), tensor: () => {} }, known);
    await expect(run(bytes.subarray(0, bytes.byteLength - 10))).rejects.toThrow(
      /cut\.safetensors: the file ends at byte \d+, inside or before tensor/,
    );
    await expect(run(bytes.subarray(0, 5))).rejects.toThrow(ModelFormatError);
    await expect(run(bytes.subarray(0, 100))).rejects.toThrow(/header is incomplete/);
    await expect(run(bytes, 1000)).rejects.toThrow(/header length \d+ exceeds the file|data section has only/);
    const bad = bytes.slice();
    bad[8] = 0x78; // 'x' where the JSON's '{' was
    await expect(run(bad)).rejects.toThrow(/cut\.safetensors: header is not valid JSON/);
  });
});
