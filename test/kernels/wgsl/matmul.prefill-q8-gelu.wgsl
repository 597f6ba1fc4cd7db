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
struct Meta { M: u32, N: u32, K: u32, xRowOffset: u32, ldy: u32, colOffset: u32, ldw: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
fn xv4(i: u32) -> vec4f { return x[i >> 2u]; }
fn xs(i: u32) -> f32 { return x[i >> 2u][i & 3u]; }
@group(0) @binding(2) var<storage, read> w: array<u32>;
fn wq(i: u32) -> u32 { return w[i]; }
fn wq4(i: u32) -> vec4u { return vec4u(w[4u * i], w[4u * i + 1u], w[4u * i + 2u], w[4u * i + 3u]); }
fn xtail(row: u32, k: u32) -> vec4f {
  var v: vec4f;
  for (var j = 0u; j < 4u; j++) { if (k + j < u.K) { v[j] = xs(row + k + j); } }
  return v;
}
@group(0) @binding(6) var<storage, read> q8s: array<vec2u>;
fn scale4(b: u32, c4: u32) -> vec4f {
  let p = q8s[b * ((u.N + 3u) / 4u) + c4];
  return vec4f(unpack2x16float(p.x), unpack2x16float(p.y));
}
fn scale1(b: u32, c: u32) -> f32 {
  let p = q8s[b * ((u.N + 3u) / 4u) + c / 4u];
  return unpack2x16float(select(p.x, p.y, (c & 2u) != 0u))[c & 1u];
}
fn q8x4(v: u32) -> vec4f { return vec4f(bitcast<vec4i>(vec4u(v) << vec4u(24u, 16u, 8u, 0u)) >> vec4u(24u)); }
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  return 0.5 * x * (1.0 + tanh(u));
}
fn act2(x: f32) -> f32 { return x; }
fn finish(acc: f32, co: u32) -> f32 { return act2(act1(acc + bias[co])); }
const TM: u32 = 8u;
const ACCUMULATE: bool = false;
fn store(r: u32, c0: u32, v: vec4f) {
  for (var j = 0u; j < 4u; j++) {
    let c = c0 + j;
    if (c >= u.N) { return; }
    let o = r * u.ldy + u.colOffset + c;
    let out = finish(v[j], u.colOffset + c);
    if (ACCUMULATE) { y[o] += out; } else { y[o] = out; }
  }
}


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
  let w0 = min(c0 + 0u, u.N - 1u) * rw;
  let w1 = min(c0 + 1u, u.N - 1u) * rw;
  let w2 = min(c0 + 2u, u.N - 1u) * rw;
  let w3 = min(c0 + 3u, u.N - 1u) * rw;
  let w4 = min(c0 + 4u, u.N - 1u) * rw;
  let w5 = min(c0 + 5u, u.N - 1u) * rw;
  let w6 = min(c0 + 6u, u.N - 1u) * rw;
  let w7 = min(c0 + 7u, u.N - 1u) * rw;
  let w8 = min(c0 + 8u, u.N - 1u) * rw;
  let w9 = min(c0 + 9u, u.N - 1u) * rw;
  let w10 = min(c0 + 10u, u.N - 1u) * rw;
  let w11 = min(c0 + 11u, u.N - 1u) * rw;
  let w12 = min(c0 + 12u, u.N - 1u) * rw;
  let w13 = min(c0 + 13u, u.N - 1u) * rw;
  let w14 = min(c0 + 14u, u.N - 1u) * rw;
  let w15 = min(c0 + 15u, u.N - 1u) * rw;
  let x0 = (u.xRowOffset + 0u) * u.K;
  let x1 = (u.xRowOffset + 1u) * u.K;
  var a0_0 = 0.0;
  var a0_1 = 0.0;
  var a0_2 = 0.0;
  var a0_3 = 0.0;
  var a0_4 = 0.0;
  var a0_5 = 0.0;
  var a0_6 = 0.0;
  var a0_7 = 0.0;
  var a0_8 = 0.0;
  var a0_9 = 0.0;
  var a0_10 = 0.0;
  var a0_11 = 0.0;
  var a0_12 = 0.0;
  var a0_13 = 0.0;
  var a0_14 = 0.0;
  var a0_15 = 0.0;
  var a1_0 = 0.0;
  var a1_1 = 0.0;
  var a1_2 = 0.0;
  var a1_3 = 0.0;
  var a1_4 = 0.0;
  var a1_5 = 0.0;
  var a1_6 = 0.0;
  var a1_7 = 0.0;
  var a1_8 = 0.0;
  var a1_9 = 0.0;
  var a1_10 = 0.0;
  var a1_11 = 0.0;
  var a1_12 = 0.0;
  var a1_13 = 0.0;
  var a1_14 = 0.0;
  var a1_15 = 0.0;
  let blocks = (u.K + QB - 1u) / QB;
  for (var b = 0u; b < blocks; b++) {
    var p0_0 = 0.0;
    var p0_1 = 0.0;
    var p0_2 = 0.0;
    var p0_3 = 0.0;
    var p0_4 = 0.0;
    var p0_5 = 0.0;
    var p0_6 = 0.0;
    var p0_7 = 0.0;
    var p0_8 = 0.0;
    var p0_9 = 0.0;
    var p0_10 = 0.0;
    var p0_11 = 0.0;
    var p0_12 = 0.0;
    var p0_13 = 0.0;
    var p0_14 = 0.0;
    var p0_15 = 0.0;
    var p1_0 = 0.0;
    var p1_1 = 0.0;
    var p1_2 = 0.0;
    var p1_3 = 0.0;
    var p1_4 = 0.0;
    var p1_5 = 0.0;
    var p1_6 = 0.0;
    var p1_7 = 0.0;
    var p1_8 = 0.0;
    var p1_9 = 0.0;
    var p1_10 = 0.0;
    var p1_11 = 0.0;
    var p1_12 = 0.0;
    var p1_13 = 0.0;
    var p1_14 = 0.0;
    var p1_15 = 0.0;
    if (b < full) {
      for (var h = 0u; h < QB / 16u; h++) {
        let o = b * (QB / 16u) + h;
        let q0 = wq4(w0 + o);
        let q1 = wq4(w1 + o);
        let q2 = wq4(w2 + o);
        let q3 = wq4(w3 + o);
        let q4 = wq4(w4 + o);
        let q5 = wq4(w5 + o);
        let q6 = wq4(w6 + o);
        let q7 = wq4(w7 + o);
        let q8 = wq4(w8 + o);
        let q9 = wq4(w9 + o);
        let q10 = wq4(w10 + o);
        let q11 = wq4(w11 + o);
        let q12 = wq4(w12 + o);
        let q13 = wq4(w13 + o);
        let q14 = wq4(w14 + o);
        let q15 = wq4(w15 + o);
        for (var t = 0u; t < 4u; t++) {
          let xv0 = xv4(x0 + o * 16u + t * 4u);
          let xv1 = xv4(x1 + o * 16u + t * 4u);
          p0_0 += dot(xv0, q8x4(q0[t]));
          p0_1 += dot(xv0, q8x4(q1[t]));
          p0_2 += dot(xv0, q8x4(q2[t]));
          p0_3 += dot(xv0, q8x4(q3[t]));
          p0_4 += dot(xv0, q8x4(q4[t]));
          p0_5 += dot(xv0, q8x4(q5[t]));
          p0_6 += dot(xv0, q8x4(q6[t]));
          p0_7 += dot(xv0, q8x4(q7[t]));
          p0_8 += dot(xv0, q8x4(q8[t]));
          p0_9 += dot(xv0, q8x4(q9[t]));
          p0_10 += dot(xv0, q8x4(q10[t]));
          p0_11 += dot(xv0, q8x4(q11[t]));
          p0_12 += dot(xv0, q8x4(q12[t]));
          p0_13 += dot(xv0, q8x4(q13[t]));
          p0_14 += dot(xv0, q8x4(q14[t]));
          p0_15 += dot(xv0, q8x4(q15[t]));
          p1_0 += dot(xv1, q8x4(q0[t]));
          p1_1 += dot(xv1, q8x4(q1[t]));
          p1_2 += dot(xv1, q8x4(q2[t]));
          p1_3 += dot(xv1, q8x4(q3[t]));
          p1_4 += dot(xv1, q8x4(q4[t]));
          p1_5 += dot(xv1, q8x4(q5[t]));
          p1_6 += dot(xv1, q8x4(q6[t]));
          p1_7 += dot(xv1, q8x4(q7[t]));
          p1_8 += dot(xv1, q8x4(q8[t]));
          p1_9 += dot(xv1, q8x4(q9[t]));
          p1_10 += dot(xv1, q8x4(q10[t]));
          p1_11 += dot(xv1, q8x4(q11[t]));
          p1_12 += dot(xv1, q8x4(q12[t]));
          p1_13 += dot(xv1, q8x4(q13[t]));
          p1_14 += dot(xv1, q8x4(q14[t]));
          p1_15 += dot(xv1, q8x4(q15[t]));
        }
      }
    } else {
      for (var k = full * QB; k < u.K; k += 4u) {
        let xv0 = xtail(x0, k);
        let xv1 = xtail(x1, k);
        p0_0 += dot(xv0, q8x4(wq(w0 * 4u + k / 4u)));
        p0_1 += dot(xv0, q8x4(wq(w1 * 4u + k / 4u)));
        p0_2 += dot(xv0, q8x4(wq(w2 * 4u + k / 4u)));
        p0_3 += dot(xv0, q8x4(wq(w3 * 4u + k / 4u)));
        p0_4 += dot(xv0, q8x4(wq(w4 * 4u + k / 4u)));
        p0_5 += dot(xv0, q8x4(wq(w5 * 4u + k / 4u)));
        p0_6 += dot(xv0, q8x4(wq(w6 * 4u + k / 4u)));
        p0_7 += dot(xv0, q8x4(wq(w7 * 4u + k / 4u)));
        p0_8 += dot(xv0, q8x4(wq(w8 * 4u + k / 4u)));
        p0_9 += dot(xv0, q8x4(wq(w9 * 4u + k / 4u)));
        p0_10 += dot(xv0, q8x4(wq(w10 * 4u + k / 4u)));
        p0_11 += dot(xv0, q8x4(wq(w11 * 4u + k / 4u)));
        p0_12 += dot(xv0, q8x4(wq(w12 * 4u + k / 4u)));
        p0_13 += dot(xv0, q8x4(wq(w13 * 4u + k / 4u)));
        p0_14 += dot(xv0, q8x4(wq(w14 * 4u + k / 4u)));
        p0_15 += dot(xv0, q8x4(wq(w15 * 4u + k / 4u)));
        p1_0 += dot(xv1, q8x4(wq(w0 * 4u + k / 4u)));
        p1_1 += dot(xv1, q8x4(wq(w1 * 4u + k / 4u)));
        p1_2 += dot(xv1, q8x4(wq(w2 * 4u + k / 4u)));
        p1_3 += dot(xv1, q8x4(wq(w3 * 4u + k / 4u)));
        p1_4 += dot(xv1, q8x4(wq(w4 * 4u + k / 4u)));
        p1_5 += dot(xv1, q8x4(wq(w5 * 4u + k / 4u)));
        p1_6 += dot(xv1, q8x4(wq(w6 * 4u + k / 4u)));
        p1_7 += dot(xv1, q8x4(wq(w7 * 4u + k / 4u)));
        p1_8 += dot(xv1, q8x4(wq(w8 * 4u + k / 4u)));
        p1_9 += dot(xv1, q8x4(wq(w9 * 4u + k / 4u)));
        p1_10 += dot(xv1, q8x4(wq(w10 * 4u + k / 4u)));
        p1_11 += dot(xv1, q8x4(wq(w11 * 4u + k / 4u)));
        p1_12 += dot(xv1, q8x4(wq(w12 * 4u + k / 4u)));
        p1_13 += dot(xv1, q8x4(wq(w13 * 4u + k / 4u)));
        p1_14 += dot(xv1, q8x4(wq(w14 * 4u + k / 4u)));
        p1_15 += dot(xv1, q8x4(wq(w15 * 4u + k / 4u)));
      }
    }
    let s0 = scale4(b, min(c0 / 4u + 0u, (u.N + 3u) / 4u - 1u));
    let s1 = scale4(b, min(c0 / 4u + 1u, (u.N + 3u) / 4u - 1u));
    let s2 = scale4(b, min(c0 / 4u + 2u, (u.N + 3u) / 4u - 1u));
    let s3 = scale4(b, min(c0 / 4u + 3u, (u.N + 3u) / 4u - 1u));
    a0_0 = fma(p0_0, s0[0], a0_0);
    a0_1 = fma(p0_1, s0[1], a0_1);
    a0_2 = fma(p0_2, s0[2], a0_2);
    a0_3 = fma(p0_3, s0[3], a0_3);
    a0_4 = fma(p0_4, s1[0], a0_4);
    a0_5 = fma(p0_5, s1[1], a0_5);
    a0_6 = fma(p0_6, s1[2], a0_6);
    a0_7 = fma(p0_7, s1[3], a0_7);
    a0_8 = fma(p0_8, s2[0], a0_8);
    a0_9 = fma(p0_9, s2[1], a0_9);
    a0_10 = fma(p0_10, s2[2], a0_10);
    a0_11 = fma(p0_11, s2[3], a0_11);
    a0_12 = fma(p0_12, s3[0], a0_12);
    a0_13 = fma(p0_13, s3[1], a0_13);
    a0_14 = fma(p0_14, s3[2], a0_14);
    a0_15 = fma(p0_15, s3[3], a0_15);
    a1_0 = fma(p1_0, s0[0], a1_0);
    a1_1 = fma(p1_1, s0[1], a1_1);
    a1_2 = fma(p1_2, s0[2], a1_2);
    a1_3 = fma(p1_3, s0[3], a1_3);
    a1_4 = fma(p1_4, s1[0], a1_4);
    a1_5 = fma(p1_5, s1[1], a1_5);
    a1_6 = fma(p1_6, s1[2], a1_6);
    a1_7 = fma(p1_7, s1[3], a1_7);
    a1_8 = fma(p1_8, s2[0], a1_8);
    a1_9 = fma(p1_9, s2[1], a1_9);
    a1_10 = fma(p1_10, s2[2], a1_10);
    a1_11 = fma(p1_11, s2[3], a1_11);
    a1_12 = fma(p1_12, s3[0], a1_12);
    a1_13 = fma(p1_13, s3[1], a1_13);
    a1_14 = fma(p1_14, s3[2], a1_14);
    a1_15 = fma(p1_15, s3[3], a1_15);
  }
  store(0u, c0 + 0u, vec4f(a0_0, a0_1, a0_2, a0_3));
  store(0u, c0 + 4u, vec4f(a0_4, a0_5, a0_6, a0_7));
  store(0u, c0 + 8u, vec4f(a0_8, a0_9, a0_10, a0_11));
  store(0u, c0 + 12u, vec4f(a0_12, a0_13, a0_14, a0_15));
  store(1u, c0 + 0u, vec4f(a1_0, a1_1, a1_2, a1_3));
  store(1u, c0 + 4u, vec4f(a1_4, a1_5, a1_6, a1_7));
  store(1u, c0 + 8u, vec4f(a1_8, a1_9, a1_10, a1_11));
  store(1u, c0 + 12u, vec4f(a1_12, a1_13, a1_14, a1_15));
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
