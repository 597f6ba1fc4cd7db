// matmul's fast path for aligned shapes (moved here from bench/, where it beat scalar.wgsl 1.5-3.6x on
// lavapipe and SwiftShader): scalar.wgsl's blocking (TM rows x 4 columns per invocation, no workgroup
// memory, no barrier) and bindings, with every load a whole vec4: x is read as array<vec4f> four k at a
// time, and W as array<vec4f> (f32), array<vec4<f16>> (f16) or array<vec2u> (f16 packed). On
// SwiftShader each load instruction of a per-invocation address is a gather over the SIMD lanes, so
// one 16-byte load in place of four scalar ones is most of the difference.
//   kn: W [K, N], needs N % 4 == 0 and K % 4 == 0     nk: W [N, K], needs K % 4 == 0
// The prelude declares `w` at binding 2 and `w4(i)` (the vec4 at vec4-index i), TM, ACCUMULATE, the
// Meta `u`, the epilogue and store() (as for scalar.wgsl).
struct Meta { M: u32, N: u32, K: u32, xRowOffset: u32, ldy: u32, colOffset: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
fn w4(i: u32) -> vec4f { return w[i]; }
const EPS: f32 = 0.00001;
@group(0) @binding(7) var<storage, read> lnGamma: array<vec4f>;
@group(0) @binding(8) var<storage, read> lnBeta: array<vec4f>;
fn xnorm(v: vec4f, k4: u32, st: vec2f) -> vec4f { return (v - st.x) * st.y * lnGamma[k4] + lnBeta[k4]; }
fn rowNorm(base: u32) -> vec2f {
  let K4 = u.K / 4u;
  var s = 0.0;
  for (var k4 = 0u; k4 < K4; k4++) { s += dot(x[base + k4], vec4f(1.0)); }
  let mean = s / f32(u.K);
  var q = 0.0;
  for (var k4 = 0u; k4 < K4; k4++) { let d = x[base + k4] - mean; q += dot(d, d); }
  return vec2f(mean, inverseSqrt(q / f32(u.K) + EPS));
}
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 { return x; }
fn act2(x: f32) -> f32 { return x; }
fn finish(acc: f32, co: u32) -> f32 { return act2(act1(acc + bias[co])); }
const TM: u32 = 1u;
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

@group(0) @binding(1) var<storage, read> x: array<vec4f>;

@compute @workgroup_size(WG)
fn main_kn(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let groups = u.N / 4u;
  let c4 = g % groups;  // vec4 column index: neighbouring invocations read neighbouring vec4s of W
  let r0 = (g / groups) * TM;
  if (r0 >= u.M) { return; }
  let K4 = u.K / 4u;
  var acc: array<vec4f, TM>;
  var xi: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xi[i] = (u.xRowOffset + min(r0 + i, u.M - 1u)) * K4; }
  for (var k4 = 0u; k4 < K4; k4++) {
    let b = k4 * 4u * groups + c4;
    let w0 = w4(b);
    let w1 = w4(b + groups);
    let w2 = w4(b + 2u * groups);
    let w3 = w4(b + 3u * groups);
    for (var i = 0u; i < TM; i++) {
      let xv = x[xi[i] + k4];
      acc[i] += xv.x * w0 + xv.y * w1 + xv.z * w2 + xv.w * w3;
    }
  }
  for (var i = 0u; i < TM; i++) {
    if (r0 + i < u.M) { store(r0 + i, c4 * 4u, acc[i]); }
  }
}

@compute @workgroup_size(WG)
fn main_nk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let groups = (u.N + 3u) / 4u;
  let c0 = (g % groups) * 4u;
  let r0 = (g / groups) * TM;
  if (r0 >= u.M) { return; }
  let K4 = u.K / 4u;
  var acc: array<vec4f, TM>;
  var xi: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xi[i] = (u.xRowOffset + min(r0 + i, u.M - 1u)) * K4; }
  var wr: array<u32, 4>; // the four weight rows (vec4 index), clamped at a ragged edge
  for (var j = 0u; j < 4u; j++) { wr[j] = min(c0 + j, u.N - 1u) * K4; }
  for (var k4 = 0u; k4 < K4; k4++) {
    let w0 = w4(wr[0] + k4);
    let w1 = w4(wr[1] + k4);
    let w2 = w4(wr[2] + k4);
    let w3 = w4(wr[3] + k4);
    for (var i = 0u; i < TM; i++) {
      let xv = x[xi[i] + k4];
      acc[i] += vec4f(dot(xv, w0), dot(xv, w1), dot(xv, w2), dot(xv, w3));
    }
  }
  for (var i = 0u; i < TM; i++) {
    if (r0 + i < u.M) { store(r0 + i, c0, acc[i]); }
  }
}

// A GEMV with [N, K] weights (TM == M <= 2) on a CPU adapter: each invocation computes 16 columns (16
// rows of W), so each step has sixteen 16-byte loads in flight (q8.wgsl's gemv_nk does the same for
// 8-bit weights; lavapipe loads per lane and waits on them). Workgroups of 16. GEMV_BODY: unrolled over
// the 16 rows of W (r0..r15, clamped at the edge) and the TM rows of x; sums a<row>_<col>. With matmul's
// norm the prelude has rowNorm() and xnorm() (index.ts, wideNorm): each row's statistics st<row>, then x
// normalized as it is read.
@compute @workgroup_size(WG)
fn gemv_nk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let c0 = g * 16u;
  if (c0 >= u.N) { return; }
  let K4 = u.K / 4u;
  let r0 = min(c0 + 0u, u.N - 1u) * K4;
  let r1 = min(c0 + 1u, u.N - 1u) * K4;
  let r2 = min(c0 + 2u, u.N - 1u) * K4;
  let r3 = min(c0 + 3u, u.N - 1u) * K4;
  let r4 = min(c0 + 4u, u.N - 1u) * K4;
  let r5 = min(c0 + 5u, u.N - 1u) * K4;
  let r6 = min(c0 + 6u, u.N - 1u) * K4;
  let r7 = min(c0 + 7u, u.N - 1u) * K4;
  let r8 = min(c0 + 8u, u.N - 1u) * K4;
  let r9 = min(c0 + 9u, u.N - 1u) * K4;
  let r10 = min(c0 + 10u, u.N - 1u) * K4;
  let r11 = min(c0 + 11u, u.N - 1u) * K4;
  let r12 = min(c0 + 12u, u.N - 1u) * K4;
  let r13 = min(c0 + 13u, u.N - 1u) * K4;
  let r14 = min(c0 + 14u, u.N - 1u) * K4;
  let r15 = min(c0 + 15u, u.N - 1u) * K4;
  let x0 = (u.xRowOffset + 0u) * K4;
  let st0 = rowNorm(x0);
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
  for (var k4 = 0u; k4 < K4; k4++) {
    let v0 = w4(r0 + k4);
    let v1 = w4(r1 + k4);
    let v2 = w4(r2 + k4);
    let v3 = w4(r3 + k4);
    let v4 = w4(r4 + k4);
    let v5 = w4(r5 + k4);
    let v6 = w4(r6 + k4);
    let v7 = w4(r7 + k4);
    let v8 = w4(r8 + k4);
    let v9 = w4(r9 + k4);
    let v10 = w4(r10 + k4);
    let v11 = w4(r11 + k4);
    let v12 = w4(r12 + k4);
    let v13 = w4(r13 + k4);
    let v14 = w4(r14 + k4);
    let v15 = w4(r15 + k4);
    let xv0 = xnorm(x[x0 + k4], k4, st0);
    a0_0 += dot(xv0, v0);
    a0_1 += dot(xv0, v1);
    a0_2 += dot(xv0, v2);
    a0_3 += dot(xv0, v3);
    a0_4 += dot(xv0, v4);
    a0_5 += dot(xv0, v5);
    a0_6 += dot(xv0, v6);
    a0_7 += dot(xv0, v7);
    a0_8 += dot(xv0, v8);
    a0_9 += dot(xv0, v9);
    a0_10 += dot(xv0, v10);
    a0_11 += dot(xv0, v11);
    a0_12 += dot(xv0, v12);
    a0_13 += dot(xv0, v13);
    a0_14 += dot(xv0, v14);
    a0_15 += dot(xv0, v15);
  }
  store(0u, c0 + 0u, vec4f(a0_0, a0_1, a0_2, a0_3));
  store(0u, c0 + 4u, vec4f(a0_4, a0_5, a0_6, a0_7));
  store(0u, c0 + 8u, vec4f(a0_8, a0_9, a0_10, a0_11));
  store(0u, c0 + 12u, vec4f(a0_12, a0_13, a0_14, a0_15));
}
