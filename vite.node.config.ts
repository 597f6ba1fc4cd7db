import { defineConfig } from 'vite';

// Node build: the library entry and the CLI, as ES modules for Node 20. WGSL files are inlined as
// strings (`?raw`); `webgpu` (Dawn) and other dependencies stay external.
export default defineConfig({
  build: {
    ssr: true,
    outDir: 'dist/node',
    emptyOutDir: true,
    target: 'node20',
    sourcemap: true,
    rollupOptions: {
      input: { index: 'src/index.ts', kernels: 'src/kernels/index.ts', testing: 'src/testing/index.ts', cli: 'src/cli/main.ts' },
      output: { format: 'es', entryFileNames: '[name].js' },
    },
  },
});
