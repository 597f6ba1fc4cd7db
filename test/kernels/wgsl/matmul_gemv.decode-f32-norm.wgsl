// A GEMV shaped for GPUs: y[r, c] = epilogue(x[r, :] . W[:, c]) (+ y) for the 1-2 rows of a decode step
// (TM == M), with the reduction over K shared by the invocations of a workgroup. The other kernels give
// each invocation whole dot products (no workgroup memory, no barrier: what suits a CPU adapter), which on
// a GPU leaves a 768 x 768 projection 192 invocations and makes each one stream its own rows. Here:
//   gemv_nk  W [N, K]: a workgroup computes 4 columns (4 rows of W); invocation t reads k4 = t, t + WG, ...
//            of each row, so the WG invocations read WG neighbouring 16-byte groups of a row at a time.
//            N / 4 workgroups: 192 for N = 768, 12,565 for GPT-2's LM head.
//   gemv_kn  W [K, N]: a workgroup computes CQ * 4 columns; its invocations split K into WG / CQ slices of
//            4 rows each, and CQ neighbouring invocations read a row's neighbouring CQ * 4 columns
//            (CQ is chosen so that they are at least 32 bytes: f32 2, f16 4, q8 8).
// Each invocation's partial sums then meet in workgroup memory, a tree of log2(WG) steps, and the first
// invocation(s) store through the epilogue. K % 4 == 0 (x read as vec4f; matmul() checks).
// With NORM (matmul's `norm` option), x is the residual stream and the GEMV reads LayerNorm(x) * gamma +
// beta: each workgroup first takes its rows' mean and variance (two sweeps of the row and two trees, as
// layernorm.wgsl's two passes), then normalizes x as it reads it, so a layer norm is no dispatch of its
// own (a decode step's row is 3 KiB, read again by each workgroup, against 2.4-9.4 MB of weights).
// The prelude declares the Meta `u`, W (binding 2) with wrow(n, k4) (W[n, 4k4 .. 4k4 + 3], [N, K]) or
// wcol(k, c4) (W[k, 4c4 .. 4c4 + 3], [K, N]) as f32, dequantized for q8 (its scale applied), TM,
// ACCUMULATE, the epilogue and store().
struct Meta { M: u32, N: u32, K: u32, xRowOffset: u32, ldy: u32, colOffset: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
fn w4(i: u32) -> vec4f { return w[i]; }
fn wrow(n: u32, k4: u32) -> vec4f { return w4(n * (u.K / 4u) + k4); }
fn wcol(k: u32, c4: u32) -> vec4f { return w4(k * (u.N / 4u) + c4); }
@group(0) @binding(7) var<storage, read> lnGamma: array<vec4f>;
@group(0) @binding(8) var<storage, read> lnBeta: array<vec4f>;
fn xnorm(v: vec4f, k4: u32, st: vec2f) -> vec4f { return (v - st.x) * st.y * lnGamma[k4] + lnBeta[k4]; }
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
const CQ: u32 = 2u;

@group(0) @binding(1) var<storage, read> x: array<vec4f>;
const NORM: bool = true;
const EPS: f32 = 0.00001;

// the partial sums of row i at red[i * WG + invocation]
var<workgroup> red: array<vec4f, WG * TM>;

// Adds each invocation's sums into those of invocation (index % unit): afterwards red[i * WG + j], j <
// unit, holds the whole sums of invocations j, j + unit, j + 2 unit, ...
fn reduce(lid: u32, unit: u32) {
  for (var s = WG / 2u; s >= unit; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      for (var i = 0u; i < TM; i++) { red[i * WG + lid] += red[i * WG + lid + s]; }
    }
  }
  workgroupBarrier();
}

// Each row's mean and 1 / sqrt(variance + EPS) of x (rows xRowOffset + i), by the whole workgroup.
fn rowStats(lid: u32) -> array<vec2f, TM> {
  let K4 = u.K / 4u;
  var st: array<vec2f, TM>;
  for (var i = 0u; i < TM; i++) {
    var s = 0.0;
    for (var k4 = lid; k4 < K4; k4 += WG) { s += dot(x[(u.xRowOffset + i) * K4 + k4], vec4f(1.0)); }
    red[i * WG + lid] = vec4f(s);
  }
  reduce(lid, 1u);
  for (var i = 0u; i < TM; i++) { st[i].x = red[i * WG].x / f32(u.K); }
  workgroupBarrier(); // every invocation has its means before red is written again
  for (var i = 0u; i < TM; i++) {
    var s = 0.0;
    for (var k4 = lid; k4 < K4; k4 += WG) {
      let d = x[(u.xRowOffset + i) * K4 + k4] - st[i].x;
      s += dot(d, d);
    }
    red[i * WG + lid] = vec4f(s);
  }
  reduce(lid, 1u);
  for (var i = 0u; i < TM; i++) { st[i].y = inverseSqrt(red[i * WG].x / f32(u.K) + EPS); }
  workgroupBarrier();
  return st;
}

// x[row i, 4k4 .. 4k4 + 3], normalized with NORM
fn xin(i: u32, k4: u32, st: array<vec2f, TM>) -> vec4f {
  let v = x[(u.xRowOffset + i) * (u.K / 4u) + k4];
  return xnorm(v, k4, st[i]);
}

@compute @workgroup_size(WG)
fn gemv_nk(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c0 = (wid.x + wid.y * nwg.x) * 4u;
  if (c0 >= u.N) { return; } // the whole workgroup: the grid's padding
  let K4 = u.K / 4u;
  let n = min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(u.N - 1u)); // the four rows of W, clamped at the edge
  var st: array<vec2f, TM>;
  if (NORM) { st = rowStats(lid); }
  var acc: array<vec4f, TM>;
  for (var k4 = lid; k4 < K4; k4 += WG) {
    let w0 = wrow(n.x, k4);
    let w1 = wrow(n.y, k4);
    let w2 = wrow(n.z, k4);
    let w3 = wrow(n.w, k4);
    for (var i = 0u; i < TM; i++) {
      let xv = xin(i, k4, st);
      acc[i] += vec4f(dot(xv, w0), dot(xv, w1), dot(xv, w2), dot(xv, w3));
    }
  }
  for (var i = 0u; i < TM; i++) { red[i * WG + lid] = acc[i]; }
  reduce(lid, 1u);
  if (lid == 0u) {
    for (var i = 0u; i < TM; i++) { store(i, c0, red[i * WG]); }
  }
}

@compute @workgroup_size(WG)
fn gemv_kn(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let quads = (u.N + 3u) / 4u;
  let q0 = (wid.x + wid.y * nwg.x) * CQ;
  if (q0 >= quads) { return; } // the whole workgroup: the grid's padding
  let c4 = q0 + lid % CQ; // neighbouring invocations read neighbouring columns
  let cq = min(c4, quads - 1u); // clamped at the edge (not stored)
  let K4 = u.K / 4u;
  var st: array<vec2f, TM>;
  if (NORM) { st = rowStats(lid); }
  var acc: array<vec4f, TM>;
  for (var k4 = lid / CQ; k4 < K4; k4 += WG / CQ) {
    let w0 = wcol(4u * k4, cq);
    let w1 = wcol(4u * k4 + 1u, cq);
    let w2 = wcol(4u * k4 + 2u, cq);
    let w3 = wcol(4u * k4 + 3u, cq);
    for (var i = 0u; i < TM; i++) {
      let xv = xin(i, k4, st);
      acc[i] += xv.x * w0 + xv.y * w1 + xv.z * w2 + xv.w * w3;
    }
  }
  for (var i = 0u; i < TM; i++) { red[i * WG + lid] = acc[i]; }
  reduce(lid, CQ);
  if (lid < CQ && c4 < quads) {
    for (var i = 0u; i < TM; i++) { store(i, c4 * 4u, red[i * WG + lid]); }
  }
}
