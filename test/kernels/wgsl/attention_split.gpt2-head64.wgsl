// Decode attention split over the context (one query row per sequence, T = 1): a workgroup per
// (row, head, chunk of CH keys), so a head at context 1024 is 32 workgroups, not one invocation's loop.
// Each workgroup scores its keys (a thread per key), takes their softmax with a workgroup max and sum,
// and writes its partial result: the chunk's max m, its sum l, and sum_i exp(score_i - m) v_i. The
// combine kernel merges the chunks. The row's own key and value come from qkv, and the workgroup whose
// chunk holds the row's position stores them in the cache: no separate kv_store dispatch.
//   qkv    [R, 3C]          q, k, v of row r (sequence b = r / T, position pos0 + r % T)
//   kc,vc  [B, P, C]        the caches: positions < pos read, position pos written
//   part   [R, H, S, HD+2]  per chunk: m, l, then HD weighted sums
const HD: u32 = 64u;   // head size
const CH: u32 = 32u;   // keys per workgroup (<= WG)

override WG: u32 = 64;

struct Meta { R: u32, C: u32, H: u32, P: u32, S: u32, scale: f32 }
@group(0) @binding(0) var<uniform> u: Meta;
struct Step { pos0: u32, T: u32, B: u32 }
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read_write> kc: array<f32>;
@group(0) @binding(4) var<storage, read_write> vc: array<f32>;
@group(0) @binding(5) var<storage, read_write> part: array<f32>;

var<workgroup> red: array<f32, WG>;
var<workgroup> prob: array<f32, CH>;

fn reduceMax(lid: u32, x: f32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { red[lid] = max(red[lid], red[lid + stride]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduceSum(lid: u32, x: f32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { red[lid] += red[lid + stride]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= u.R * u.H * u.S) { return; }
  let s = w % u.S;
  let h = (w / u.S) % u.H;
  let r = w / (u.S * u.H);
  let b = r / step.T;
  let pos = step.pos0 + r % step.T;
  let k0 = s * CH;
  let pBase = w * (HD + 2u);
  if (k0 > pos) {
    // a chunk past the position: it adds nothing (l = 0)
    if (lid == 0u) {
      part[pBase] = -3.0e38;
      part[pBase + 1u] = 0.0;
    }
    return;
  }
  let n = min(CH, pos + 1u - k0);
  let qBase = r * 3u * u.C + h * HD;
  let cBase = b * u.P * u.C + h * HD;
  if (pos < k0 + CH) {
    for (var d = lid; d < HD; d += WG) {
      kc[cBase + pos * u.C + d] = qkv[qBase + u.C + d];
      vc[cBase + pos * u.C + d] = qkv[qBase + 2u * u.C + d];
    }
  }
  var score = -3.0e38;
  if (lid < n) {
    let key = k0 + lid;
    var dot = 0.0;
    if (key == pos) {
      for (var d = 0u; d < HD; d++) { dot += qkv[qBase + d] * qkv[qBase + u.C + d]; }
    } else {
      let kBase = cBase + key * u.C;
      for (var d = 0u; d < HD; d++) { dot += qkv[qBase + d] * kc[kBase + d]; }
    }
    score = dot * u.scale;
  }
  let m = reduceMax(lid, score);
  var p = 0.0;
  if (lid < n) { p = exp(score - m); }
  if (lid < CH) { prob[lid] = p; }
  let l = reduceSum(lid, p); // its barriers also publish prob
  for (var d = lid; d < HD; d += WG) {
    var acc = 0.0;
    for (var i = 0u; i < n; i++) {
      let key = k0 + i;
      var v: f32;
      if (key == pos) { v = qkv[qBase + 2u * u.C + d]; } else { v = vc[cBase + key * u.C + d]; }
      acc += prob[i] * v;
    }
    part[pBase + 2u + d] = acc;
  }
  if (lid == 0u) {
    part[pBase] = m;
    part[pBase + 1u] = l;
  }
}
