// Runs the engine's self-check inside a dedicated Web Worker (navigator.gpu in a worker scope).
import { selfCheck } from '../../src/cli/selfcheck.js';

selfCheck()
  .then((r) => postMessage({ ok: true, result: r }))
  .catch((e) => postMessage({ ok: false, error: `${e?.name}: ${e?.message}` }));
