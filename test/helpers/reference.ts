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
    let term = z,
      sum = z;
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
    for (let n = 60; n >= 1; n--) f = n / 2 / (z + f);
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
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
  layout: 'kn' | 'nk',
  bias?: ArrayLike<number>,
  act: (v: number) => number = (v) => v,
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

export function layerNormRef(
  x: ArrayLike<number>,
  rows: number,
  C: number,
  g: ArrayLike<number>,
  b: ArrayLike<number>,
  eps: number,
): Float64Array {
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

/** x[r, c] = wte[ids[r], c] + wpe[pos0 + r % T, c] over R = ids.length rows, in float64. */
export function embeddingRef(
  ids: ArrayLike<number>,
  wte: ArrayLike<number>,
  wpe: ArrayLike<number>,
  C: number,
  T: number,
  pos0: number,
): Float64Array {
  const out = new Float64Array(ids.length * C);
  for (let r = 0; r < ids.length; r++) {
    const pos = pos0 + (r % T);
    for (let c = 0; c < C; c++) out[r * C + c] = wte[ids[r] * C + c] + wpe[pos * C + c];
  }
  return out;
}

/**
 * The caches k, v [B, P, C] after storing R rows of qkv [R, 3C] (k at columns C..2C, v at 2C..3C):
 * row r goes to sequence slot r / T (or, with copies > 1, to slots 0..copies-1) at position pos0 + r % T.
 */
export function kvStoreRef(
  qkv: ArrayLike<number>,
  k: Float32Array,
  v: Float32Array,
  R: number,
  C: number,
  P: number,
  T: number,
  pos0: number,
  copies = 1,
): { k: Float32Array; v: Float32Array } {
  const ko = k.slice(),
    vo = v.slice();
  for (let r = 0; r < R; r++) {
    const b = Math.floor(r / T),
      pos = pos0 + (r % T);
    const slots = copies > 1 ? Array.from({ length: copies }, (_, j) => j) : [b];
    for (const s of slots) {
      for (let c = 0; c < C; c++) {
        ko[(s * P + pos) * C + c] = qkv[r * 3 * C + C + c];
        vo[(s * P + pos) * C + c] = qkv[r * 3 * C + 2 * C + c];
      }
    }
  }
  return { k: ko, v: vo };
}

/**
 * Causal multi-head attention in float64: row r (token r % T of sequence b = r / T, at position
 * pos = pos0 + r % T) attends with its q (qkv [R, 3C], columns 0..C) to the cached keys and values
 * k, v [B, P, C] of its sequence at positions 0..pos: out[r, head] = softmax(q k^T / sqrt(hd)) v.
 */
export function attentionRef(
  qkv: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  R: number,
  C: number,
  H: number,
  P: number,
  T: number,
  pos0: number,
): Float64Array {
  const hd = C / H;
  const out = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    const b = Math.floor(r / T),
      pos = pos0 + (r % T);
    for (let h = 0; h < H; h++) {
      const scores = new Float64Array(pos + 1);
      for (let s = 0; s <= pos; s++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += qkv[r * 3 * C + h * hd + d] * k[(b * P + s) * C + h * hd + d];
        scores[s] = dot / Math.sqrt(hd);
      }
      const mx = Math.max(...scores);
      let z = 0;
      for (let s = 0; s <= pos; s++) z += scores[s] = Math.exp(scores[s] - mx);
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        for (let s = 0; s <= pos; s++) acc += scores[s] * v[(b * P + s) * C + h * hd + d];
        out[r * C + h * hd + d] = acc / z;
      }
    }
  }
  return out;
}
