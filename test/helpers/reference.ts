// CPU references for the kernels, in float64, written independently of the shaders.

export function gelu_tanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** erf by its Maclaurin series / continued fraction, to double precision (independent of the shader's fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  let r: number;
  if (z < 3) {
    // series: erf(z) = 2/sqrt(pi) * sum (-1)^n z^(2n+1) / (n! (2n+1))
    let term = z, sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // continued fraction for erfc
    let f = 0;
    for (let n = 60; n >= 1; n--) f = (n / 2) / (z + f);
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
  }
  return x < 0 ? -r : r;
}

export function gelu_erf(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export const activations: Record<string, (x: number) => number> = {
  none: (x) => x,
  relu: (x) => Math.max(0, x),
  gelu_tanh,
  gelu_erf,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  leaky_relu: (x) => (x >= 0 ? x : 0.2 * x),
};

/** out[M,N] = act(x[M,K] . W + b) with W [K,N] ('kn') or [N,K] ('nk'), in float64. */
export function matmulRef(
  x: ArrayLike<number>, w: ArrayLike<number>, M: number, K: number, N: number,
  layout: 'kn' | 'nk', bias?: ArrayLike<number>, act: (v: number) => number = (v) => v,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * (layout === 'kn' ? w[k * N + n] : w[n * K + k]);
      out[m * N + n] = act(s + (bias ? bias[n] : 0));
    }
  }
  return out;
}

export function layerNormRef(x: ArrayLike<number>, rows: number, C: number, g: ArrayLike<number>, b: ArrayLike<number>, eps: number): Float64Array {
  const out = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[r * C + c];
    mean /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[r * C + c] - mean) ** 2;
    v /= C;
    const inv = 1 / Math.sqrt(v + eps);
    for (let c = 0; c < C; c++) out[r * C + c] = (x[r * C + c] - mean) * inv * g[c] + b[c];
  }
  return out;
}
