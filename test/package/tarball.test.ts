// The package as a user meets it: `npm pack` (which builds), the tarball installed into an empty project
// next to `webgpu` and TypeScript, and there: the default model generates from `webgen/pretrained/...`
// (greedy tokens equal to PyTorch's), the installed `webgen selfcheck` bin passes, and a strict
// TypeScript file that uses the public API type-checks. Prints the tarball's size and file count and
// the browser entry's gzipped size, held to budgets.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors } from '../helpers/fixtures.js';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const version = (name: string): string => lock.packages[`node_modules/${name}`].version;

// Budgets: the two default models are ~8.9 MB of the tarball; the browser entry with the chunks it
// imports (every kernel's WGSL inlined) is ~100 KB gzipped today (conversations, split attention, the Keras readers, q8).
const TARBALL_BYTES = 10 * 2 ** 20;
const TARBALL_FILES = 120;
const BROWSER_GZIP_BYTES = 128 * 1024;

describe('the packed package, installed in an empty project', () => {
  let dir: string;
  let tarball: string;
  const sh = (cmd: string, args: string[], cwd = dir) =>
    run(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webgen-pack-'));
    // pack a copy of the package's sources, so its build (prepack) never races the dist/ other tests build
    const copy = join(dir, 'webgen');
    await sh('mkdir', ['-p', copy]);
    const parts = [
      'src',
      'pretrained',
      'package.json',
      'package-lock.json',
      'LICENSE',
      'README.md',
      'tsconfig.json',
      'tsconfig.build.json',
      'vite.browser.config.ts',
      'vite.node.config.ts',
    ];
    await sh('cp', ['-r', ...parts.map((p) => join(ROOT, p)), copy]);
    await sh('ln', ['-s', join(ROOT, 'node_modules'), join(copy, 'node_modules')]);
    await sh('npm', ['pack', '--pack-destination', dir], copy); // prepack builds dist/
    tarball = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.tgz'))!,
    );
    const project = join(dir, 'app');
    await sh('mkdir', ['-p', project]);
    dir = project;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await sh('npm', ['install', '--prefer-offline', tarball, `webgpu@${version('webgpu')}`, `typescript@${version('typescript')}`]);
  }, 300_000);
  afterAll(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  it('stays within its size budgets', async () => {
    const { stdout } = await run('tar', ['-tzvf', tarball]);
    const files = stdout.trim().split('\n');
    const bytes = statSync(tarball).size;
    const browser = join(dir, 'node_modules/webgen/dist/browser');
    const js = [
      join(browser, 'index.js'),
      ...readdirSync(join(browser, 'chunks'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => join(browser, 'chunks', f)),
    ];
    const gz = js.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0);
    console.log(
      `package: tarball ${(bytes / 2 ** 20).toFixed(2)} MiB, ${files.length} files; browser entry with its chunks ${(gz / 1024).toFixed(1)} KiB gzipped`,
    );
    expect(
      files.some((l) => /test\/fixtures|bench\/|tools\/|\/src\//.test(l)),
      'no tests, benchmarks, tools or sources',
    ).toBe(false);
    expect(bytes).toBeLessThan(TARBALL_BYTES);
    expect(files.length).toBeLessThan(TARBALL_FILES);
    expect(gz).toBeLessThan(BROWSER_GZIP_BYTES);
  });

  it('generates with the default model from webgen/pretrained/, greedy tokens equal to PyTorch', async () => {
    const ref = loadSafetensors(join(ROOT, 'pretrained/gpt2-kjv/reference.safetensors'));
    const prompt = Array.from(ref.ints('prompt_ids'));
    const want = Array.from(ref.ints('greedy_continuation'));
    writeFileSync(
      join(dir, 'generate.mjs'),
      `import { GPT2 } from 'webgen';
const folder = new URL('.', import.meta.resolve('webgen/pretrained/gpt2-kjv/config.json'));
const lm = await GPT2.load(folder.pathname);
const r = await lm.complete(${JSON.stringify(prompt)}, { maxNewTokens: ${want.length}, stopAtEos: false });
const text = (await lm.complete('And God said', { maxNewTokens: 12, seed: 7, temperature: 0.8 })).sequences[0].text;
console.log(JSON.stringify({ ids: r.sequences[0].ids, text }));
lm.dispose();
`,
    );
    const { stdout } = await sh('node', ['generate.mjs']);
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out.ids).toEqual(want);
    expect(out.text.length).toBeGreaterThan(10);
  });

  it('runs the installed webgen bin', async () => {
    const { stdout } = await sh('npx', ['webgen', 'selfcheck']);
    expect(stdout).toMatch(/add kernel: .* -> OK/);
    const help = await sh('npx', ['webgen', '--help']);
    expect(help.stdout).toMatch(/usage: webgen <command>/);
  });

  it("a page bundled with Vite keeps the worker entry (import 'webgen/worker')", async () => {
    await sh('npm', ['install', '--prefer-offline', '--no-save', `vite@${version('vite')}`]);
    await sh('mkdir', ['-p', 'site']);
    writeFileSync(join(dir, 'site/index.html'), '<!doctype html><script type="module" src="./main.js"></script>');
    writeFileSync(join(dir, 'site/worker.js'), "import 'webgen/worker';\n");
    writeFileSync(
      join(dir, 'site/main.js'),
      "import { connectWorker } from 'webgen';\nconst engine = connectWorker(new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));\nexport { engine };\n",
    );
    await sh('npx', ['vite', 'build', 'site', '--outDir', '../site-dist', '--logLevel', 'error']);
    const assets = readdirSync(join(dir, 'site-dist/assets'));
    const worker = assets.find((f) => f.startsWith('worker') && f.endsWith('.js'));
    expect(worker, assets.join(', ')).toBeDefined();
    const code = readFileSync(join(dir, 'site-dist/assets', worker!), 'utf8');
    expect(code).toMatch(/loadGPT2/); // the worker's request handler survived tree-shaking (package.json sideEffects)
    expect(code.length).toBeGreaterThan(20_000);
  });

  it('type-checks a strict TypeScript program on the public API', async () => {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          skipLibCheck: false,
          types: [],
        },
        files: ['app.ts'],
      }),
    );
    writeFileSync(
      join(dir, 'app.ts'),
      `import { GPT2, Generator, OptionError, type GenerateOptions, type GenerationPiece } from 'webgen';
import { Plan, Tensor, matmul, chooseMatmul, type MatmulOptions } from 'webgen/kernels';
import { randomGPT2, gpt2Config } from 'webgen/testing';

export async function main(): Promise<string> {
  const lm = await GPT2.load('models/gpt2/', { dtype: 'f16' });
  const options: GenerateOptions = { maxNewTokens: 8, temperature: 0.8, topK: 40, seed: 1 };
  let text = '';
  for await (const piece of lm.generate('Hello', options)) text += (piece satisfies GenerationPiece).text;
  const gan = await Generator.load('models/dcgan/');
  const images: Float32Array = await gan.generate({ count: 4, seed: 7 });
  const gpu = lm.gpu;
  const x = Tensor.empty(gpu, [1, 8], 'f32');
  const w = Tensor.empty(gpu, [4, 8], 'f16');
  const y = Tensor.empty(gpu, [1, 4], 'f32');
  const opts: MatmulOptions = { layout: 'nk', act: 'gelu_tanh' };
  const plan = new Plan(gpu);
  await matmul(plan, x, w, y, opts);
  const variant = chooseMatmul(gpu, { M: 1, K: 8, N: 4, layout: 'nk', dtype: 'f16' });
  const st = randomGPT2(gpt2Config('gpt2', { nLayer: 1 }));
  if (!(new OptionError('x') instanceof Error)) throw new Error('unreachable');
  return text + images.length + variant.weight + st.fileName;
}
`,
    );
    await sh('npx', ['tsc', '-p', '.']).catch((e) => {
      throw new Error(`tsc on the installed package failed:\n${e.stdout}${e.stderr}`);
    });
  });
});
