// y[r, c] = epilogue(x[r, :] . W[:, c])   (or y += ... when accumulating a residual)
// Two weight layouts: main_kn reads W as [K, N] (GPT-2's Conv1D, Keras dense), main_nk as [N, K]
// (a tied LM head reading wte, PyTorch Linear). Each invocation computes a TM x 4 block of outputs
// in registers and reads its operands straight from memory: no workgroup memory and no barriers,
// which software adapters pay dearly for and which a GEMV does not need.
//
// This is the general kernel, for any K and N; aligned shapes use vec4.wgsl.
// The prelude (generated in index.ts) declares `w` at binding 2 with w_at, the constants TM (rows per
// invocation) and ACCUMULATE, and what both matmul kernels share: the Meta `u` (binding 0), the
// epilogue (bias at binding 3, post at 4, y at 5) and store().
struct Meta { M: u32, N: u32, K: u32, xRowOffset: u32, ldy: u32, colOffset: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(2) var<storage, read> w: array<f32>;
fn w_at(i: u32) -> f32 { return w[i]; }
fn w_at4(i: u32) -> vec4f { return vec4f(w[i], w[i + 1u], w[i + 2u], w[i + 3u]); }
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 { return x; }
fn act2(x: f32) -> f32 { return x; }
fn finish(acc: f32, co: u32) -> f32 { return act2(act1(acc + bias[co])); }
const TM: u32 = 4u;
const ACCUMULATE: bool = true;
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

@group(0) @binding(1) var<storage, read> x: array<f32>;

fn invocation(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn main_kn(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = invocation(gid, nwg);
  let groups = (u.N + 3u) / 4u;
  let c0 = (g % groups) * 4u; // neighbouring invocations read neighbouring columns of W
  let r0 = (g / groups) * TM;
  if (r0 >= u.M) { return; }
  var acc: array<vec4f, TM>;
  var xi: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xi[i] = (u.xRowOffset + min(r0 + i, u.M - 1u)) * u.K; }
  let full = c0 + 4u <= u.N;
  for (var k = 0u; k < u.K; k++) {
    let base = k * u.N + c0;
    var wv: vec4f;
    if (full) {
      wv = vec4f(w_at(base), w_at(base + 1u), w_at(base + 2u), w_at(base + 3u));
    } else {
      for (var j = 0u; j < 4u; j++) { if (c0 + j < u.N) { wv[j] = w_at(base + j); } }
    }
    for (var i = 0u; i < TM; i++) { acc[i] += x[xi[i] + k] * wv; }
  }
  for (var i = 0u; i < TM; i++) {
    if (r0 + i < u.M) { store(r0 + i, c0, acc[i]); }
  }
}

@compute @workgroup_size(WG)
fn main_nk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = invocation(gid, nwg);
  let groups = (u.N + 3u) / 4u;
  let c0 = (g % groups) * 4u;
  let r0 = (g / groups) * TM;
  if (r0 >= u.M) { return; }
  var acc: array<vec4f, TM>;
  var xi: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xi[i] = (u.xRowOffset + min(r0 + i, u.M - 1u)) * u.K; }
  var wr: array<u32, 4>; // the four weight rows, clamped so a ragged edge reads valid memory
  for (var j = 0u; j < 4u; j++) { wr[j] = min(c0 + j, u.N - 1u) * u.K; }
  for (var k = 0u; k < u.K; k++) {
    let wv = vec4f(w_at(wr[0] + k), w_at(wr[1] + k), w_at(wr[2] + k), w_at(wr[3] + k));
    for (var i = 0u; i < TM; i++) { acc[i] += x[xi[i] + k] * wv; }
  }
  for (var i = 0u; i < TM; i++) {
    if (r0 + i < u.M) { store(r0 + i, c0, acc[i]); }
  }
}
