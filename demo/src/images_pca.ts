// Principal coordinates of a latent walk, for its 3-D view: the frames' latents (n rows of d values)
// centred, then projected onto the directions of largest variance. The eigenproblem is solved on the
// smaller of the two symmetric matrices: the Gram matrix of the frames (n x n) when there are fewer
// frames than latent dimensions, else the covariance (d x d). Both have the same non-zero eigenvalues.

export interface Principal {
  /** [n, k] row-major: each frame's coordinates on the k principal directions. */
  coords: Float32Array;
  /** The share of the total variance along each of the k directions (0..1). */
  explained: number[];
}

/**
 * Eigen-decomposition of a symmetric matrix (cyclic Jacobi rotations): eigenvalues in descending
 * order and the matching eigenvectors as the columns of `vectors` ([n, n] row-major).
 */
export function symmetricEigen(a: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let norm = 0;
  for (let i = 0; i < n * n; i++) norm += m[i] * m[i];
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] * m[p * n + q];
    if (off <= 1e-22 * norm || off === 0) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // m <- J^T m J, touching rows and columns p and q only
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j] - m[i * n + i]);
  const values = Float64Array.from(order, (i) => m[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    for (let k = 0; k < n; k++) vectors[k * n + to] = v[k * n + from];
  });
  return { values, vectors };
}

/** The rows' coordinates on their first `k` principal directions (directions past the rank give zeros). */
export function principalCoordinates(rows: ArrayLike<number>, n: number, d: number, k = 3): Principal {
  const x = new Float64Array(n * d);
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += rows[i * d + j];
    mean /= n;
    for (let i = 0; i < n; i++) x[i * d + j] = rows[i * d + j] - mean;
  }
  const coords = new Float32Array(n * k);
  const gram = n <= d;
  const size = gram ? n : d;
  const s = new Float64Array(size * size);
  for (let a = 0; a < size; a++)
    for (let b = a; b < size; b++) {
      let dot = 0;
      if (gram) for (let j = 0; j < d; j++) dot += x[a * d + j] * x[b * d + j];
      else for (let i = 0; i < n; i++) dot += x[i * d + a] * x[i * d + b];
      s[a * size + b] = s[b * size + a] = dot;
    }
  const { values, vectors } = symmetricEigen(s, size);
  let total = 0;
  for (const l of values) total += Math.max(0, l);
  const explained: number[] = [];
  for (let c = 0; c < k; c++) {
    const lambda = c < size ? Math.max(0, values[c]) : 0;
    explained.push(total > 0 ? lambda / total : 0);
    if (lambda <= 1e-12 * total || c >= size) continue;
    // the coordinate along direction c: sqrt(lambda) u (Gram) or X v (covariance)
    const col = new Float64Array(n);
    if (gram) for (let i = 0; i < n; i++) col[i] = Math.sqrt(lambda) * vectors[i * size + c];
    else for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) col[i] += x[i * d + j] * vectors[j * size + c];
    // a fixed sign (the first frame on the positive side), so the same walk always looks the same
    let sign = 1;
    for (let i = 0; i < n; i++)
      if (Math.abs(col[i]) > 1e-9) {
        sign = Math.sign(col[i]);
        break;
      }
    for (let i = 0; i < n; i++) coords[i * k + c] = sign * col[i];
  }
  return { coords, explained };
}

/** Scales 3-D points in place so that the farthest lies at distance 1 from the origin. */
export function normalizePoints(points: Float32Array): Float32Array {
  let r = 0;
  for (let i = 0; i < points.length; i += 3) r = Math.max(r, Math.hypot(points[i], points[i + 1], points[i + 2]));
  if (r > 0) for (let i = 0; i < points.length; i++) points[i] /= r;
  return points;
}
