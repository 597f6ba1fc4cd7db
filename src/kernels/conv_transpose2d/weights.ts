// Host-side helpers of the transposed convolution: output sizes, and weights from PyTorch's and
// Keras' layouts into the kernel's [kh, kw, cin, cout].

/** PyTorch's output size: (n - 1) s - 2 p + k + output_padding. */
export function convTransposeOutputSize(n: number, k: number, s: number, p: number, outputPadding = 0): number {
  return (n - 1) * s - 2 * p + k + outputPadding;
}

/**
 * Keras/TensorFlow `padding='same'` for a transposed convolution: the output is n*s long and is the
 * full transposed convolution ((n - 1) s + k long) cropped by floor(max(k - s, 0) / 2) at the start.
 */
export function kerasSamePadding(k: number, s: number): number {
  return Math.floor(Math.max(k - s, 0) / 2);
}

/**
 * [kh, kw, cin, cout] -> [kh, kw, cin, cout rounded up to 4] with zero channels, for the 'vec' path
 * (which reads 4 channels per load) when cout is not a multiple of 4 (an RGB output layer).
 */
export function padChannels(w: Float32Array, cout: number): { weight: Float32Array; channels: number } {
  const c4 = Math.ceil(cout / 4) * 4;
  if (c4 === cout) return { weight: w, channels: cout };
  const rows = w.length / cout;
  const out = new Float32Array(rows * c4);
  for (let r = 0; r < rows; r++) out.set(w.subarray(r * cout, (r + 1) * cout), r * c4);
  return { weight: out, channels: c4 };
}

/** PyTorch ConvTranspose2d weight [cin, cout, kh, kw] -> the kernel's [kh, kw, cin, cout]. */
export function weightFromPytorch(w: Float32Array, cin: number, cout: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let ci = 0; ci < cin; ci++)
    for (let co = 0; co < cout; co++)
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++) out[((ky * kw + kx) * cin + ci) * cout + co] = w[((ci * cout + co) * kh + ky) * kw + kx];
  return out;
}

/** Keras Conv2DTranspose kernel [kh, kw, cout, cin] -> the kernel's [kh, kw, cin, cout]. */
export function weightFromKeras(w: Float32Array, cin: number, cout: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let t = 0; t < kh * kw; t++)
    for (let co = 0; co < cout; co++) for (let ci = 0; ci < cin; ci++) out[(t * cin + ci) * cout + co] = w[(t * cout + co) * cin + ci];
  return out;
}
