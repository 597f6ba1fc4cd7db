// y[r, c] = epilogue(x[r, :] . W[:, c]) (+ y) for many rows (a prefill), shaped for GPUs: the textbook
// matmul with workgroup-shared tiles. A workgroup of 256 invocations computes a 64 x 64 tile of y, each
// invocation a 4 x 4 block of it in registers. K is walked 16 at a time: the workgroup copies the
// 64 x 16 slice of x and the 16 x 64 slice of W into workgroup memory (every invocation four values of
// each; neighbouring invocations read neighbouring addresses), waits at a barrier, and each invocation
// then reads its operands from there: a value of x or W is fetched from memory once per 64 outputs that
// use it, not once per 4 (an invocation's 4 x 4 block in scalar.wgsl), 16x less traffic.
// The barriers cost little on a GPU and much on a CPU adapter, where register-blocked scalar.wgsl and
// vec4.wgsl stay the choice (MatmulOptions.shape).
//   main_kn: W [K, N]: 16 invocations read 64 neighbouring values of a row of W
//   main_nk: W [N, K]: 4 invocations read 16 neighbouring values of a row of W
// A step of 16 values of K is half a q8 block (32 values): four values of W share one scale.
// Ragged edges: the copies write zeros past M, N and K, and only outputs inside [M, N] are stored.
// The prelude declares the Meta `u` (binding 0), W (binding 2) read four values at a time by
// `w_kn4(k, c)` (W[k, c..c+3], c % 4 == 0, zeros past N) and `w_nk4(n, k)` (W[n, k..k+3] of [N, K],
// k % 4 == 0, zeros past K), dequantized for q8 weights (scales at binding 6), ACCUMULATE, the epilogue
// (bias 3, post 4, y 5) and store().
struct Meta { M: u32, N: u32, K: u32, xRowOffset: u32, ldy: u32, colOffset: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(2) var<storage, read> w: array<u32>;
fn w_at(i: u32) -> f32 {
  let p = unpack2x16float(w[i >> 1u]);
  return select(p.x, p.y, (i & 1u) == 1u);
}
// i must be a multiple of 4: the four halves are two whole words.
fn w_at4(i: u32) -> vec4f {
  let j = i >> 1u;
  return vec4f(unpack2x16float(w[j]), unpack2x16float(w[j + 1u]));
}
fn w_kn4(k: u32, c: u32) -> vec4f {
  var v: vec4f;
  for (var j = 0u; j < 4u; j++) { if (c + j < u.N) { v[j] = w_at(k * u.N + c + j); } }
  return v;
}
fn w_nk4(n: u32, k: u32) -> vec4f {
  var v: vec4f;
  for (var j = 0u; j < 4u; j++) { if (k + j < u.K) { v[j] = w_at(n * u.K + k + j); } }
  return v;
}
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
fn act1(x: f32) -> f32 { return x; }
fn act2(x: f32) -> f32 { return x; }
fn finish(acc: f32, co: u32) -> f32 { return act2(act1(acc + bias[co])); }
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


const BM: u32 = 64u; // rows of y per workgroup
const BN: u32 = 64u; // columns of y per workgroup
const BK: u32 = 16u; // values of K per step
// one invocation per 4 x 4 block of the tile, and one vec4 of each tile: (BM / 4) * (BN / 4) = BK * BN / 4
// = 256, which the indexing below assumes (an override only so that the plan reports it)
override WG: u32 = 256;

@group(0) @binding(1) var<storage, read> x: array<f32>;

// The tiles, four values a vec4: xt[k * BM / 4 + i] = x[row0 + 4i .. 4i + 3, k0 + k] (four rows at one
// k) and wt[k * BN / 4 + j] = W[k0 + k, col0 + 4j .. 4j + 3] (four columns at one k), so an
// invocation's step reads one vec4 of each and does 16 multiply-adds.
var<workgroup> xt: array<vec4f, BK * BM / 4u>;
var<workgroup> wt: array<vec4f, BK * BN / 4u>;
// rows 4ty..4ty+3 x columns 4tx..4tx+3 of the workgroup's tile: acc[i][j] (row 4ty + i, column 4tx + j)
var<private> acc: array<vec4f, 4>;

// Copies x[row0 .. row0 + 63, k0 .. k0 + 15] to xt: 16 invocations read 16 neighbouring values of a row.
fn load_x(row0: u32, k0: u32, lid: u32) {
  let k = lid % BK;
  for (var t = 0u; t < BM * BK / WG; t++) {
    let r = lid / BK + t * (WG / BK);
    var v = 0.0;
    if (row0 + r < u.M && k0 + k < u.K) { v = x[(u.xRowOffset + row0 + r) * u.K + k0 + k]; }
    xt[k * (BM / 4u) + r / 4u][r % 4u] = v;
  }
}

// One step of K from the tiles: acc += x tile . W tile.
fn multiply(lid: u32) {
  let ty = lid / (BN / 4u);
  let tx = lid % (BN / 4u);
  for (var k = 0u; k < BK; k++) {
    let a = xt[k * (BM / 4u) + ty];
    let b = wt[k * (BN / 4u) + tx];
    acc[0] += a.x * b;
    acc[1] += a.y * b;
    acc[2] += a.z * b;
    acc[3] += a.w * b;
  }
}

fn store_tile(row0: u32, col0: u32, lid: u32) {
  let r0 = row0 + 4u * (lid / (BN / 4u));
  let c0 = col0 + 4u * (lid % (BN / 4u));
  for (var i = 0u; i < 4u; i++) {
    if (r0 + i < u.M && c0 < u.N) { store(r0 + i, c0, acc[i]); }
  }
}

@compute @workgroup_size(WG)
fn main_kn(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  // this invocation's vec4 of the W tile: row k0 + lid / 16, columns c..c+3
  let kw = lid / (BN / 4u);
  let c = col0 + 4u * (lid % (BN / 4u));
  for (var k0 = 0u; k0 < u.K; k0 += BK) {
    load_x(row0, k0, lid);
    var v = vec4f(0.0);
    if (k0 + kw < u.K && c < u.N) { v = w_kn4(k0 + kw, c); }
    wt[lid] = v;
    workgroupBarrier();
    multiply(lid);
    workgroupBarrier(); // the tiles are read before the next step overwrites them
  }
  store_tile(row0, col0, lid);
}

@compute @workgroup_size(WG)
fn main_nk(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  // this invocation's four values of the W tile: W[n, k0 + kw .. kw + 3] (column n of y), transposed
  // into wt as it is stored
  let nl = lid / (BK / 4u);
  let n = col0 + nl;
  let kw = 4u * (lid % (BK / 4u));
  for (var k0 = 0u; k0 < u.K; k0 += BK) {
    load_x(row0, k0, lid);
    var v = vec4f(0.0);
    if (n < u.N && k0 + kw < u.K) { v = w_nk4(n, k0 + kw); }
    for (var j = 0u; j < 4u; j++) { wt[(kw + j) * (BN / 4u) + nl / 4u][nl % 4u] = v[j]; }
    workgroupBarrier();
    multiply(lid);
    workgroupBarrier();
  }
  store_tile(row0, col0, lid);
}
