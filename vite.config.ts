import { defineConfig } from 'vitest/config';

// Test projects:
//   unit         CPU-only tests (*.test.ts): tokenizer, sampler, loaders, CPU references
//   lavapipe     GPU tests (*.gpu.test.ts) in Node on Dawn + Mesa lavapipe (native shader-f16)
//   swiftshader  the same GPU tests on Dawn + SwiftShader (no shader-f16: the packed-f16 path)
//   chromium     browser tests (*.browser.test.ts): headless Chromium driven by puppeteer-core
//   package      the packed tarball installed in an empty project (test/package/)
// `npm test` runs all five; `vitest run --project lavapipe` runs one.
const gpuTest = { include: ['test/**/*.gpu.test.ts'], pool: 'forks' as const, testTimeout: 300_000, hookTimeout: 120_000 };

export default defineConfig({
  root: '.',
  server: { fs: { allow: ['.'] } },
  test: {
    teardownTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.gpu.test.ts', 'test/**/*.browser.test.ts', 'test/package/**'],
          testTimeout: 120_000,
        },
      },
      { extends: true, test: { name: 'lavapipe', ...gpuTest, env: { WEBGEN_VULKAN: 'lavapipe' } } },
      { extends: true, test: { name: 'swiftshader', ...gpuTest, env: { WEBGEN_VULKAN: 'swiftshader' } } },
      { extends: true, test: { name: 'package', include: ['test/package/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 300_000 } },
      {
        extends: true,
        test: { name: 'chromium', include: ['test/**/*.browser.test.ts'], pool: 'forks', testTimeout: 600_000, hookTimeout: 180_000 },
      },
    ],
  },
});
