import { defineConfig } from 'vite';

// Browser build: the library's entries as ES modules for pages and workers (a bundler or a plain
// <script type="module">). WGSL is inlined as strings; nothing Node-only is imported (Dawn, node:fs and
// pngjs are loaded by name at run time, in Node only), and no dependency is bundled: there is none.
export default defineConfig({
  build: {
    outDir: 'dist/browser',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    minify: false,
    lib: {
      entry: { index: 'src/index.ts', kernels: 'src/kernels/index.ts', testing: 'src/testing/index.ts', worker: 'src/worker/worker.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      output: { entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
});
