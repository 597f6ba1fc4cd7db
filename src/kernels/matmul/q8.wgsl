// y[r, c] = epilogue(x[r, :] . W[:, c]) (+ y) with 8-bit weights (dtype 'q8', runtime/q8.ts): four int8
// per u32 word, an f16 scale per 32 values of K. The blocking of scalar.wgsl and vec4.wgsl (TM rows x 4
// columns per invocation, in registers, no workgroup memory, no barrier); the sums over a block run on
// the raw integers and are scaled once per block:
//   y = sum over blocks b of scale[b, c] * (sum over k in b of x[k] * q[k, c])
//   main_nk: W [N, K], rows of ceil(K / 32) * 8 words: each invocation streams its four rows, 16 values
//            of each per 16-byte load (prefill)
//   gemv_nk: the same W and 1-2 rows of x (a decode step): 16 rows of W an invocation, see there
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

@compute @workgroup_size(WG)
fn main_nk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let groups = (u.N + 3u) / 4u;
  let c4 = g % groups;
  let c0 = c4 * 4u;
  let r0 = (g / groups) * TM;
  if (r0 >= u.M) { return; }
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
    for (var i = 0u; i < TM; i++) { part[i] = vec4f(0.0); }
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
    let sc = scale4(b, c4);
    for (var i = 0u; i < TM; i++) { acc[i] = fma(part[i], sc, acc[i]); }
  }
  if (full * QB < u.K) {
    for (var i = 0u; i < TM; i++) { part[i] = vec4f(0.0); }
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
    let sc = scale4(full, c4);
    for (var i = 0u; i < TM; i++) { acc[i] = fma(part[i], sc, acc[i]); }
  }
  for (var i = 0u; i < TM; i++) {
    if (r0 + i < u.M) { store(r0 + i, c0, acc[i]); }
  }
}

// A GEMV with [N, K] weights (TM == M <= 2): each invocation computes 16 columns (four groups of four
// rows of W) of every row, so each step has sixteen 16-byte loads in flight. lavapipe loads per lane and
// waits on them: with four columns an invocation, as main_nk, the q8 GEMV took 0.72-0.85x the f32 GEMV's
// time at GPT-2 124M's shapes, with 16 0.4-0.55x (32 spill registers: slower again). Workgroups of 16, so
// even 768 columns make three workgroups for two CPU cores.
@compute @workgroup_size(WG)
fn gemv_nk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let c0 = g * 16u;
  if (c0 >= u.N) { return; }
  let rw = u.ldw / 4u; // 16-byte groups per weight row
  let full = u.K / QB;
  // GEMV_BODY, unrolled over the 16 columns (weight rows w0..w15, clamped at the edge) and the TM rows
  // of x: per whole block, two steps of 16 values; sums a<row>_<col> (scaled), p<row>_<col> (a block's);
  // with matmul's norm, x normalized as it is read (xnorm, as vec4.wgsl's gemv_nk)
{{GEMV_BODY}}
}

@compute @workgroup_size(WG)
fn main_kn(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let groups = u.ldw;
  let c4 = g % groups; // neighbouring invocations read neighbouring words of W
  let r0 = (g / groups) * TM;
  if (r0 >= u.M) { return; }
  var acc: array<vec4f, TM>;
  // one block's sums, zeroed at each block by hand: a `var` declared inside the loop body was not
  // zeroed again on each iteration on lavapipe (sums leaked from block to block)
  var part: array<vec4f, TM>;
  var xi: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xi[i] = (u.xRowOffset + min(r0 + i, u.M - 1u)) * u.K; }
  let full = u.K / QB;
  for (var b = 0u; b < full; b++) {
    for (var i = 0u; i < TM; i++) { part[i] = vec4f(0.0); }
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
    let sc = scale4(b, c4);
    for (var i = 0u; i < TM; i++) { acc[i] = fma(part[i], sc, acc[i]); }
  }
  if (full * QB < u.K) {
    for (var i = 0u; i < TM; i++) { part[i] = vec4f(0.0); }
    for (var k = full * QB; k < u.K; k++) {
      let a = q8x4(wq(k * u.ldw + c4));
      for (var i = 0u; i < TM; i++) { part[i] += xs(xi[i] + k) * a; }
    }
    let sc = scale4(full, c4);
    for (var i = 0u; i < TM; i++) { acc[i] = fma(part[i], sc, acc[i]); }
  }
  for (var i = 0u; i < TM; i++) {
    if (r0 + i < u.M) { store(r0 + i, c4 * 4u, acc[i]); }
  }
}
