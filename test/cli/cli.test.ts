// The command line as a user runs it: the Node bundle is built once, then `webgen` is spawned.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import { assertClose, maxAbs } from '../helpers/assert.js';
import { FIXTURES, loadSafetensors } from '../helpers/fixtures.js';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/node/cli.js');
const webgen = (...args: string[]) => run('node', [CLI, ...args], { cwd: ROOT, maxBuffer: 64 << 20 });

describe('webgen CLI', () => {
  let tmp: string;
  beforeAll(async () => {
    await build({ configFile: join(ROOT, 'vite.node.config.ts'), logLevel: 'error' });
    tmp = mkdtempSync(join(tmpdir(), 'webgen-cli-'));
  }, 120_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('logits writes float32 [T, vocab] equal to PyTorch', async () => {
    const golden = loadSafetensors(`${FIXTURES}gpt2/odd/golden.safetensors`);
    const ids = Array.from(golden.ints('ids_17'));
    const out = join(tmp, 'l.f32');
    const { stdout } = await webgen('logits', '--model', `${FIXTURES}gpt2/odd`, '--ids', ids.join(','), '--out', out);
    expect(stdout).toMatch(/logits \[17, 389\] float32/);
    expect(stdout).toMatch(/sha256 [0-9a-f]{64}/);
    const got = new Float32Array(readFileSync(out).buffer.slice(0));
    const ref = golden.f32('logits_f32_17');
    assertClose(got, ref, { atol: 1e-4 * maxAbs(ref), rtol: 0, what: 'cli logits' });
  });

  it('generate --prompt-ids --greedy --json gives PyTorch greedy tokens and timings', async () => {
    const golden = loadSafetensors(`${FIXTURES}gpt2/base/golden.safetensors`);
    const prompt = Array.from(golden.ints('greedy_prompt'));
    const want = Array.from(golden.ints('greedy_continuation_f16'));
    const { stdout } = await webgen(
      'generate',
      '--model',
      `${FIXTURES}gpt2/base`,
      '--dtype',
      'f16',
      '--prompt-ids',
      prompt.join(','),
      '--greedy',
      '--max-new-tokens',
      String(want.length),
      '--json',
    );
    const r = JSON.parse(stdout);
    expect(r.promptIds).toEqual(prompt);
    expect(r.sequences[0].ids).toEqual(want);
    expect(r.prefillMs).toBeGreaterThan(0);
    expect(r.msPerToken).toBeGreaterThan(0);
  });

  it("Dawn's two limit notices stay out of the terminal; WEBGEN_DAWN_WARNINGS=1 lets them through", async () => {
    const { stdout, stderr } = await webgen('selfcheck');
    expect(stdout).toMatch(/-> OK/);
    expect(stderr).not.toMatch(/artificially reduced/);
    const shown = await run('node', [CLI, 'selfcheck'], { cwd: ROOT, env: { ...process.env, WEBGEN_DAWN_WARNINGS: '1' } });
    expect(shown.stdout).toMatch(/-> OK/);
    // the notices come from Dawn's Vulkan backend; when it prints them, only the env var shows them
    console.log(`Dawn notices with WEBGEN_DAWN_WARNINGS=1: ${(shown.stderr.match(/artificially reduced/g) ?? []).length}`);
  });

  it('every command answers --help with its own usage, exit 0', async () => {
    for (const command of ['generate', 'logits', 'gan', 'selfcheck', 'wgsl', 'quantize']) {
      for (const flag of ['--help', '-h']) {
        const { stdout } = await webgen(command, flag);
        expect(stdout, `${command} ${flag}`).toMatch(new RegExp(`^usage: webgen ${command}`));
      }
    }
  });

  it('quantize writes an 8-bit folder that generate reads as q8: the tokens of --dtype q8 at load, a file of 54% the F16 one', async () => {
    const out = join(tmp, 'kjv-q8');
    const { stdout } = await webgen('quantize', '--out', out);
    expect(stdout).toMatch(/weights: 5\.24 MB -> model\.safetensors 2\.84 MB \(54\.\d%\), 17 matrices in int8/);
    expect(readdirSync(out).sort()).toEqual(
      ['LICENSE-DATA.md', 'TRAINING.md', 'config.json', 'merges.txt', 'model.safetensors', 'tokenizer-check.json', 'vocab.json'].sort(),
    );
    const gen = async (...a: string[]) =>
      JSON.parse((await webgen('generate', 'And God said', '--greedy', '--max-new-tokens', '12', '--json', ...a)).stdout);
    const [fromFile, atLoad] = [await gen('--model', out), await gen('--dtype', 'q8')];
    expect(fromFile.dtype).toBe('q8');
    expect(fromFile.sequences[0].ids).toEqual(atLoad.sequences[0].ids);
    await expect(webgen('quantize', '--model', out, '--out', join(tmp, 'again'))).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/ModelFormatError: .* is already quantized/),
    });
  });

  it("wgsl prints a kernel's assembled source", async () => {
    const { stdout } = await webgen('wgsl', 'matmul', '--example', 'gemv-f16-packed');
    expect(stdout).toMatch(/array<vec2u>/);
    expect(stdout).toMatch(/@compute @workgroup_size\(WG\)/);
    await expect(webgen('wgsl', 'nope')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/OptionError: no kernel "nope"/) });
  });

  it("plan lists a decode step's dispatches with their workgroups and bytes, for both kernel shapes", async () => {
    const config = JSON.parse(readFileSync(`${FIXTURES}gpt2/base/config.json`, 'utf8'));
    const L = config.n_layer;
    // both shapes: the layer norms inside the GEMVs that read them (matmul's norm), the final one in the head's
    for (const [kernels, perLayer, head] of [
      ['software', ['matmul', 'kv_store', 'attention', 'matmul', 'matmul', 'matmul'], 2],
      ['gpu', ['matmul', 'attention_split', 'attention_combine', 'matmul', 'matmul', 'matmul'], 2],
    ] as const) {
      const { stdout } = await webgen('plan', '--model', `${FIXTURES}gpt2/base`, '--kernels', kernels, '--context', '10', '--json');
      const r = JSON.parse(stdout);
      expect(r.kernels).toBe(kernels);
      const names = r.rows.map((d: { kernel: string }) => d.kernel);
      expect(names.slice(1, 1 + perLayer.length).map((k: string) => k.replace(/^matmul.*/, 'matmul'))).toEqual(perLayer);
      expect(r.dispatches).toBe(1 + perLayer.length * L + head); // embedding, layers, (final norm), head, sampler
      // every weight matrix is read once: the matmuls' reads cover the minimum's matrices
      const matmulReads = r.rows
        .filter((d: { kernel: string }) => d.kernel.startsWith('matmul'))
        .reduce((n: number, d: { reads: number }) => n + d.reads, 0);
      expect(matmulReads).toBeGreaterThan(0.95 * r.minimumBytes - 2 * L * 11 * config.n_embd * 4);
      for (const d of r.rows) expect(d.workgroups * d.workgroupSize).toBe(d.invocations);
    }
  });

  // The parallelism rule of the GPU shapes, on GPT-2 124M's shapes (one block: each block's dispatches are
  // the same), decode steps at contexts 128 and 1023, f32 and q8: every dispatch that reads >= 1 MB
  // launches at least 132 workgroups (one per multiprocessor of an H200, the largest GPU webgen targets:
  // fewer leaves multiprocessors idle while one workgroup walks its share) of >= 64 invocations (two
  // 32-wide SIMD groups, so a multiprocessor has loads of one to run while the other's wait), and a step
  // is <= 6 dispatches a block and a single-digit count for embedding, head and sampling (the count on
  // the CPU shapes too).
  it('plan: the GPU shapes keep the parallelism rule, and both shapes the dispatch count, on GPT-2 124M shapes', async () => {
    for (const [kernels, dtype, context] of [
      ['gpu', 'f32', '128'],
      ['gpu', 'f32', '1023'],
      ['gpu', 'q8', '128'],
      ['gpu', 'q8', '1023'],
      ['software', 'f32', '128'],
      ['software', 'f16', '512'],
      ['software', 'q8', '1023'],
    ]) {
      const args = ['--shape', 'gpt2', '--layers', '1', '--kernels', kernels, '--dtype', dtype, '--context', context, '--json'];
      const r = JSON.parse((await webgen('plan', ...args)).stdout);
      const block = r.rows.filter((d: { label: string }) => !/wte|embedding|sample|ln_f/.test(d.label));
      expect(block.length, `${kernels} ${dtype} ${context}: a block`).toBeLessThanOrEqual(6);
      expect(r.dispatches - block.length, `${kernels} ${dtype} ${context}: embedding, head, sampling`).toBeLessThanOrEqual(9);
      if (kernels === 'software') continue; // (the rule is the GPU shapes')
      for (const d of r.rows as { label: string; reads: number; workgroups: number; workgroupSize: number }[]) {
        if (d.reads < 1e6) continue;
        expect(d.workgroups, `${d.label} (${dtype}, context ${context})`).toBeGreaterThanOrEqual(132);
        expect(d.workgroupSize, d.label).toBeGreaterThanOrEqual(64);
      }
    }
  });

  // each bad option: one line on stderr naming the flag, a non-zero exit, no stack trace
  const M = `${FIXTURES}gpt2/base`;
  const badOptions: [string[], RegExp][] = [
    [['generate', '--model', M, '--prompt-ids', '1', '--temperature', '-1'], /OptionError: --temperature must be a number >= 0, got -1/],
    [['generate', '--model', M, '--prompt-ids', '1', '--temperature', 'NaN'], /OptionError: --temperature must be a number, got "NaN"/],
    [['generate', '--model', M, '--prompt-ids', '1', '--top-p', '0'], /OptionError: --top-p must be in \(0, 1\], got 0/],
    [['generate', '--model', M, '--prompt-ids', '1', '--top-p', '1.5'], /OptionError: --top-p must be in \(0, 1\], got 1.5/],
    [['generate', '--model', M, '--prompt-ids', '1', '--top-k', '-2'], /OptionError: --top-k must be an integer >= 0, got -2/],
    [['generate', '--model', M, '--prompt-ids', '1', '--max-new-tokens', '1.5'], /OptionError: --max-new-tokens must be an integer >= 1/],
    [
      ['generate', '--model', M, '--prompt-ids', '1', '--max-new-tokens', '-3'],
      /OptionError: --max-new-tokens must be an integer >= 1, got -3/,
    ],
    [
      ['generate', '--model', M, '--prompt-ids', '1', '--repetition-penalty', '0'],
      /OptionError: --repetition-penalty must be a number > 0/,
    ],
    [['generate', '--model', M, '--prompt-ids', '1', '--seed', '1.5'], /OptionError: --seed must be an integer, got 1.5/],
    [['generate', '--model', M, '--prompt-ids', '1,99999'], /OptionError: .*token id 99999 is outside the vocabulary \(0\.\.299\)/],
    [['generate', '--model', M, '--prompt-ids', '1', '--dtype', 'q4'], /OptionError: --dtype must be f32, f16 or q8, got "q4"/],
    [
      ['generate', '--model', M, '--prompt-ids', '1', '--num-return-sequences', '0'],
      /OptionError: --num-return-sequences must be an integer in 1\.\.256/,
    ],
    [['generate', '--model', M, '--prompt-ids', '1', '--frob'], /Unknown option '--frob'.*\(webgen generate --help for usage\)/],
    [['logits', '--model', M, '--ids', '-1', '--out', '/dev/null'], /OptionError: --ids must be comma-separated token ids, got "-1"/],
    [['gan', '--count', '0'], /webgen gan: OptionError: --count must be an integer >= 1, got "0"/],
    [['gan', '--scale', 'x'], /webgen gan: OptionError: --scale must be an integer >= 1, got "x"/],
    [['frobnicate'], /webgen: unknown command "frobnicate"/],
  ];
  it(`${badOptions.length} bad options: each one line naming the flag, a non-zero exit, no stack trace`, async () => {
    for (const [args, message] of badOptions) {
      const r = await webgen(...args).then(
        () => ({ code: 0, stderr: '' }),
        (e) => ({ code: e.code as number, stderr: e.stderr as string }),
      );
      expect(r.code, args.join(' ')).toBeGreaterThan(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('bad input is a clear error and a non-zero exit', async () => {
    await expect(webgen('logits', '--model', `${FIXTURES}gpt2/base`, '--ids', '1,x', '--out', join(tmp, 'x'))).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/OptionError: --ids must be comma-separated token ids/),
    });
    await expect(webgen('generate', '--model', join(tmp, 'nowhere'), 'hi')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/FetchError: cannot read ".*nowhere\/config.json": no such file/),
    });
    await expect(
      webgen('generate', '--model', `${FIXTURES}gpt2/base`, '--prompt-ids', '1', '--max-new-tokens', '64'),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/ContextLengthError: prompt of 1 tokens \+ maxNewTokens 64 = 65 exceeds the model's context of 64/),
    });
    await expect(webgen('frobnicate')).rejects.toMatchObject({ code: 2 });
  });
});
