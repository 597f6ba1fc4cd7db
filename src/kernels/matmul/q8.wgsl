// y[r, c] = epilogue(x[r, :] . W[:, c]) (+ y) with 8-bit weights (dtype 'q8', runtime/q8.ts): four int8
// per u32 word, an f16 scale per 32 values of K. The blocking of scalar.wgsl and vec4.wgsl (TM rows x 4
// columns per invocation, in registers, no workgroup memory, no barrier); the sums over a block run on
// the raw integers and are scaled once per block:
//   y = sum over blocks b of scale[b, c] * (sum over k in b of x[k] * q[k, c])
//   main_nk: W [N, K], rows of ceil(K / 32) * 8 words: each invocation streams its four rows, 16 values
//            of each per 16-byte load
//   main_kn: W [K, N], rows of ceil(N / 4) words: a word holds the invocation's four columns at one k,
//            so neighbouring invocations read neighbouring words (what GPUs coalesce)
// A block of K that is not whole (K % 32) is summed apart, reading x with bounds (the padding of W is
// zeros, but x past K is the next row's, or out of range).
// The prelude declares the Meta `u` (binding 0; `ldw`: words per row of W), x (binding 1) with xv4(i)
// (x[i..i+3], i % 4 == 0) and xs(i), W (binding 2) with wq(i) (word i) and wq4(i) (words 4i..4i+3), the
// scales (binding 6) with scale4(b, c4) (block b's scales of columns 4c4..4c4+3), q8x4(word) (its four
// int8 as floats), TM, ACCUMULATE, the epilogue (bias 3, post 4, y 5) and store().
{{PRELUDE}}

override WG: u32 = 64;
const QB: u32 = 32u;
// A GEMV (TM == M <= 2: each invocation computes every row): the rows do not depend on the invocation,
// so x's addresses are uniform and nothing returns early; lavapipe then loads x once for all the
// lanes of a SIMD group instead of once per lane (x was half of a GEMV's loads).
const GEMV: bool = TM <= 2u;

@compute @workgroup_size(WG)
fn main_nk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let groups = (u.N + 3u) / 4u;
  let c4 = g % groups;
  let c0 = c4 * 4u;
  let r0 = select((g / groups) * TM, 0u, GEMV);
  if (!GEMV && r0 >= u.M) { return; }
  var acc: array<vec4f, TM>;
  // one block's sums, zeroed at each block by hand: a `var` declared inside the loop body was not
  // zeroed again on each iteration on lavapipe (sums leaked from block to block)
  var part: array<vec4f, TM>;
  var xi: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xi[i] = (u.xRowOffset + min(r0 + i, u.M - 1u)) * u.K; }
  // the four weight rows (index of their first 16-byte group), clamped at a ragged edge
  let rw = u.ldw / 4u;
  let w0 = min(c0, u.N - 1u) * rw;
  let w1 = min(c0 + 1u, u.N - 1u) * rw;
  let w2 = min(c0 + 2u, u.N - 1u) * rw;
  let w3 = min(c0 + 3u, u.N - 1u) * rw;
  let full = u.K / QB;
  for (var b = 0u; b < full; b++) {
    if (!PER_CHANNEL) { for (var i = 0u; i < TM; i++) { part[i] = vec4f(0.0); } }
    for (var h = 0u; h < QB / 16u; h++) {
      let o = b * (QB / 16u) + h;
      let q0 = wq4(w0 + o);
      let q1 = wq4(w1 + o);
      let q2 = wq4(w2 + o);
      let q3 = wq4(w3 + o);
      for (var t = 0u; t < 4u; t++) {
        let a0 = q8x4(q0[t]);
        let a1 = q8x4(q1[t]);
        let a2 = q8x4(q2[t]);
        let a3 = q8x4(q3[t]);
        let k = o * 16u + t * 4u;
        for (var i = 0u; i < TM; i++) {
          let xv = xv4(xi[i] + k);
          part[i] += vec4f(dot(xv, a0), dot(xv, a1), dot(xv, a2), dot(xv, a3));
        }
      }
    }
    if (!PER_CHANNEL) { let sc = scale4(b, c4); for (var i = 0u; i < TM; i++) { acc[i] = fma(part[i], sc, acc[i]); } }
  }
  if (full * QB < u.K) {
    if (!PER_CHANNEL) { for (var i = 0u; i < TM; i++) { part[i] = vec4f(0.0); } }
    for (var k = full * QB; k < u.K; k += 4u) {
      let j = k / 4u;
      let a0 = q8x4(wq(w0 * 4u + j));
      let a1 = q8x4(wq(w1 * 4u + j));
      let a2 = q8x4(wq(w2 * 4u + j));
      let a3 = q8x4(wq(w3 * 4u + j));
      for (var i = 0u; i < TM; i++) {
        let xv = xtail(xi[i], k);
        part[i] += vec4f(dot(xv, a0), dot(xv, a1), dot(xv, a2), dot(xv, a3));
      }
    }
    if (!PER_CHANNEL) { let sc = scale4(full, c4); for (var i = 0u; i < TM; i++) { acc[i] = fma(part[i], sc, acc[i]); } }
  }
  if (PER_CHANNEL) { let sc = scale4(0u, c4); for (var i = 0u; i < TM; i++) { acc[i] = part[i] * sc; } }
  for (var i = 0u; i < TM; i++) {
    if (r0 + i < u.M) { store(r0 + i, c0, acc[i]); }
  }
}

// A GEMV with [N, K] weights (TM == M <= 2): each invocation computes 16 columns (four groups of four
// rows of W) of every row, so each step has sixteen 16-byte loads in flight. lavapipe loads per lane and
// is bound by their latency: with four columns an invocation, as main_nk, the q8 GEMV took 0.75x the f32
// GEMV's time; with 16, 0.5x (bench/, GPT-2 124M's shapes). Dispatched with workgroups of 16, so even
// 768 columns make three workgroups for two CPU cores.
@compute @workgroup_size(WG)
fn gemv_nk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let c0 = g * 16u;
  if (c0 >= u.N) { return; }
  var acc: array<array<vec4f, 4>, TM>;
  var part: array<array<vec4f, 4>, TM>;
  var xi: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xi[i] = (u.xRowOffset + i) * u.K; }
  var wr: array<u32, 16>; // the sixteen weight rows (index of their first 16-byte group), clamped at the edge
  let rw = u.ldw / 4u;
  for (var j = 0u; j < 16u; j++) { wr[j] = min(c0 + j, u.N - 1u) * rw; }
  let full = u.K / QB;
  let blocks = (u.K + QB - 1u) / QB;
  for (var b = 0u; b < blocks; b++) {
    for (var i = 0u; i < TM; i++) { for (var q = 0u; q < 4u; q++) { part[i][q] = vec4f(0.0); } }
    if (b < full) {
      for (var h = 0u; h < QB / 16u; h++) {
        let o = b * (QB / 16u) + h;
        for (var q = 0u; q < 4u; q++) {
          let q0 = wq4(wr[4u * q] + o);
          let q1 = wq4(wr[4u * q + 1u] + o);
          let q2 = wq4(wr[4u * q + 2u] + o);
          let q3 = wq4(wr[4u * q + 3u] + o);
          for (var t = 0u; t < 4u; t++) {
            let a0 = q8x4(q0[t]);
            let a1 = q8x4(q1[t]);
            let a2 = q8x4(q2[t]);
            let a3 = q8x4(q3[t]);
            for (var i = 0u; i < TM; i++) {
              let xv = xv4(xi[i] + o * 16u + t * 4u);
              part[i][q] += vec4f(dot(xv, a0), dot(xv, a1), dot(xv, a2), dot(xv, a3));
            }
          }
        }
      }
    } else {
      // the block that is not whole (K % 32)
      for (var k = full * QB; k < u.K; k += 4u) {
        for (var q = 0u; q < 4u; q++) {
          let a0 = q8x4(wq(wr[4u * q] * 4u + k / 4u));
          let a1 = q8x4(wq(wr[4u * q + 1u] * 4u + k / 4u));
          let a2 = q8x4(wq(wr[4u * q + 2u] * 4u + k / 4u));
          let a3 = q8x4(wq(wr[4u * q + 3u] * 4u + k / 4u));
          for (var i = 0u; i < TM; i++) {
            let xv = xtail(xi[i], k);
            part[i][q] += vec4f(dot(xv, a0), dot(xv, a1), dot(xv, a2), dot(xv, a3));
          }
        }
      }
    }
    for (var q = 0u; q < 4u; q++) {
      let sc = scale4(b, min(c0 / 4u + q, (u.N + 3u) / 4u - 1u));
      for (var i = 0u; i < TM; i++) { acc[i][q] = fma(part[i][q], sc, acc[i][q]); }
    }
  }
  for (var i = 0u; i < TM; i++) {
    for (var q = 0u; q < 4u; q++) { store(i, c0 + 4u * q, acc[i][q]); }
  }
}

@compute @workgroup_size(WG)
fn main_kn(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let groups = u.ldw;
  let c4 = g % groups; // neighbouring invocations read neighbouring words of W
  let r0 = select((g / groups) * TM, 0u, GEMV);
  if (!GEMV && r0 >= u.M) { return; }
  var acc: array<vec4f, TM>;
  // one block's sums, zeroed at each block by hand: a `var` declared inside the loop body was not
  // zeroed again on each iteration on lavapipe (sums leaked from block to block)
  var part: array<vec4f, TM>;
  var xi: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xi[i] = (u.xRowOffset + min(r0 + i, u.M - 1u)) * u.K; }
  let full = u.K / QB;
  for (var b = 0u; b < full; b++) {
    if (!PER_CHANNEL) { for (var i = 0u; i < TM; i++) { part[i] = vec4f(0.0); } }
    for (var t = 0u; t < QB / 4u; t++) {
      let k = b * QB + t * 4u;
      let base = k * u.ldw + c4;
      let a0 = q8x4(wq(base));
      let a1 = q8x4(wq(base + u.ldw));
      let a2 = q8x4(wq(base + 2u * u.ldw));
      let a3 = q8x4(wq(base + 3u * u.ldw));
      for (var i = 0u; i < TM; i++) {
        let xv = xv4(xi[i] + k);
        part[i] += xv.x * a0 + xv.y * a1 + xv.z * a2 + xv.w * a3;
      }
    }
    if (!PER_CHANNEL) { let sc = scale4(b, c4); for (var i = 0u; i < TM; i++) { acc[i] = fma(part[i], sc, acc[i]); } }
  }
  if (full * QB < u.K) {
    if (!PER_CHANNEL) { for (var i = 0u; i < TM; i++) { part[i] = vec4f(0.0); } }
    for (var k = full * QB; k < u.K; k++) {
      let a = q8x4(wq(k * u.ldw + c4));
      for (var i = 0u; i < TM; i++) { part[i] += xs(xi[i] + k) * a; }
    }
    if (!PER_CHANNEL) { let sc = scale4(full, c4); for (var i = 0u; i < TM; i++) { acc[i] = fma(part[i], sc, acc[i]); } }
  }
  if (PER_CHANNEL) { let sc = scale4(0u, c4); for (var i = 0u; i < TM; i++) { acc[i] = part[i] * sc; } }
  for (var i = 0u; i < TM; i++) {
    if (r0 + i < u.M) { store(r0 + i, c4 * 4u, acc[i]); }
  }
}
