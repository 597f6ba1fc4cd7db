import { defineConfig } from 'vite';

// Builds the benchmark runners for Node (`npm run bench`, `npm run bench:browser`) into bench/out/, the
// same way vite.node.config.ts builds the CLI: ES modules for Node 20, WGSL inlined (`?raw`),
// dependencies (webgpu, TF.js, puppeteer-core, vite) left external.
export default defineConfig({
  logLevel: 'warn',
  build: {
    ssr: true,
    outDir: 'bench/out',
    emptyOutDir: false,
    target: 'node20',
    sourcemap: true,
    rollupOptions: {
      input: { node: 'bench/node.ts', browser: 'bench/browser.ts' },
      output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name].js' },
    },
  },
});
