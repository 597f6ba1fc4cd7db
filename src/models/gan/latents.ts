// Latent vectors: seeded standard-normal draws, and the spherical path between two of them.
import { OptionError } from '../../errors.js';
import { mulberry32 } from '../../util.js';

/** `count` standard-normal latents of size nz from a seed (Box-Muller over mulberry32; the same everywhere). */
export function randomLatents(count: number, nz: number, seed: number): Float32Array {
  if (!Number.isInteger(count) || count < 1) throw new OptionError(`count must be a positive integer, got ${count}`);
  if (!Number.isInteger(seed)) throw new OptionError(`seed must be an integer, got ${seed}`);
  const uniform = mulberry32(seed);
  const z = new Float32Array(count * nz);
  for (let i = 0; i < z.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())); // 1 - u is in (0, 1]
    const a = 2 * Math.PI * uniform();
    z[i] = r * Math.cos(a);
    if (i + 1 < z.length) z[i + 1] = r * Math.sin(a);
  }
  return z;
}

/**
 * `frames` latents on the great-circle path from z0 to z1 (spherical interpolation, which keeps
 * Gaussian latents at a typical norm, unlike a straight line); frame 0 is z0, the last is z1.
 */
export function slerpLatents(z0: ArrayLike<number>, z1: ArrayLike<number>, frames: number): Float32Array {
  if (z0.length !== z1.length || z0.length === 0) throw new OptionError(`interpolate: z0 has ${z0.length} values, z1 ${z1.length}`);
  if (!Number.isInteger(frames) || frames < 1) throw new OptionError(`interpolate: frames must be a positive integer, got ${frames}`);
  const n = z0.length;
  let d = 0;
  let n0 = 0;
  let n1 = 0;
  for (let i = 0; i < n; i++) {
    d += z0[i] * z1[i];
    n0 += z0[i] * z0[i];
    n1 += z1[i] * z1[i];
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, d / Math.sqrt(n0 * n1 || 1))));
  const so = Math.sin(omega);
  const out = new Float32Array(frames * n);
  for (let f = 0; f < frames; f++) {
    const t = frames === 1 ? 0 : f / (frames - 1);
    // nearly parallel latents: the straight line is the same path
    const [a, b] = so < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / so, Math.sin(t * omega) / so];
    for (let i = 0; i < n; i++) out[f * n + i] = a * z0[i] + b * z1[i];
  }
  return out;
}
