import { defineConfig } from 'vite';

// Node build: the library's entries and the CLI, as ES modules for Node 20. WGSL files are inlined as
// strings (`?raw`). Every dependency the CLI has (cli-progress, pngjs and theirs) is bundled into it, so installing
// webgen pulls in no package a page does not need; `webgpu` (Dawn) stays external, an optional peer
// dependency loaded by name at run time.
export default defineConfig({
  ssr: { noExternal: true },
  build: {
    ssr: true,
    outDir: 'dist/node',
    emptyOutDir: true,
    target: 'node20',
    sourcemap: true,
    rollupOptions: {
      input: { index: 'src/index.ts', kernels: 'src/kernels/index.ts', testing: 'src/testing/index.ts', cli: 'src/cli/main.ts' },
      output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
});
