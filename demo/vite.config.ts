import { copyFileSync, createReadStream, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

// The demo page (`npm run demo` serves it, `npm run build` writes the static site to dist/demo). It
// uses the engine from src/ under its package names (`webgen`, `webgen/worker`), as a site that
// installed the package would. The embedded default models are served from pretrained/ at /models/
// and copied into the built site, so the page fetches nothing remote unless the user asks.
const ROOT = resolve(import.meta.dirname, '..');
const MODELS: Record<string, string[]> = {
  'gpt2-kjv': ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'],
  'dcgan-emoji': ['config.json', 'model.safetensors'],
};

function defaultModels(): Plugin {
  return {
    name: 'webgen-default-models',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const m = /^\/models\/([^/]+)\/([^/?]+)/.exec(req.url ?? '');
        if (!m || !MODELS[m[1]]?.includes(m[2])) return next();
        const file = join(ROOT, 'pretrained', m[1], m[2]);
        res.setHeader('content-length', statSync(file).size);
        res.setHeader('content-type', m[2].endsWith('.json') ? 'application/json' : 'application/octet-stream');
        createReadStream(file).pipe(res);
      });
    },
    writeBundle(options) {
      for (const [model, files] of Object.entries(MODELS)) {
        const dir = join(options.dir!, 'models', model);
        mkdirSync(dir, { recursive: true });
        for (const f of files) copyFileSync(join(ROOT, 'pretrained', model, f), join(dir, f));
      }
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: './', // relative URLs: the built site works from any folder of any static host
  logLevel: 'warn',
  resolve: {
    alias: [
      { find: /^webgen\/worker$/, replacement: join(ROOT, 'src/worker/worker.ts') },
      { find: /^webgen\/kernels$/, replacement: join(ROOT, 'src/kernels/index.ts') },
      { find: /^webgen\/testing$/, replacement: join(ROOT, 'src/testing/index.ts') },
      { find: /^webgen$/, replacement: join(ROOT, 'src/index.ts') },
    ],
  },
  server: { fs: { allow: [ROOT] } },
  worker: { format: 'es' },
  build: {
    outDir: join(ROOT, 'dist/demo'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 2048,
  },
  plugins: [defaultModels()],
});
