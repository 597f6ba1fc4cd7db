// The command line as a user runs it: the Node bundle is built once, then `webgen` is spawned.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    for (const command of ['generate', 'logits', 'gan', 'selfcheck', 'wgsl']) {
      for (const flag of ['--help', '-h']) {
        const { stdout } = await webgen(command, flag);
        expect(stdout, `${command} ${flag}`).toMatch(new RegExp(`^usage: webgen ${command}`));
      }
    }
  });

  it("wgsl prints a kernel's assembled source", async () => {
    const { stdout } = await webgen('wgsl', 'matmul', '--example', 'gemv-f16-packed');
    expect(stdout).toMatch(/array<vec2u>/);
    expect(stdout).toMatch(/@compute @workgroup_size\(WG\)/);
    await expect(webgen('wgsl', 'nope')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/OptionError: no kernel "nope"/) });
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
