// Causal self-attention against the KV cache, for a prompt (T rows per sequence, pos0 = 0) and for
// one-token decode (T = 1) alike. One invocation per (row, head): it streams over the cached
// positions 0..pos with an online softmax (running max and sum), so scores never leave registers
// and no workgroup memory or barrier is needed.
//   qkv   [R, 3C]      q of row r, head h at qkv[r*3C + h*HD ..]
//   kc,vc [B, P, C]    the caches, already holding positions 0..pos0+T-1 (kv_store ran first)
//   out   [R, C]
const HD: u32 = {{HD}};      // head size
const HD4: u32 = {{HD4}};    // ceil(HD / 4)

override WG: u32 = 64;

{{META}}
{{STEP}}
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read> kc: array<f32>;
@group(0) @binding(4) var<storage, read> vc: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn load4(which: u32, base: u32, j: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var e = 0u; e < 4u; e++) {
    let d = j * 4u + e;
    if (d < HD) {
      switch which {
        case 0u: { v[e] = qkv[base + d]; }
        case 1u: { v[e] = kc[base + d]; }
        default: { v[e] = vc[base + d]; }
      }
    }
  }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= u.R * u.H) { return; }
  let r = i / u.H;
  let h = i % u.H;
  let b = r / step.T;
  let pos = step.pos0 + r % step.T; // this query's absolute position: it sees keys 0..pos

  var q: array<vec4f, HD4>;
  let qBase = r * 3u * u.C + h * HD;
  for (var j = 0u; j < HD4; j++) { q[j] = load4(0u, qBase, j) * u.scale; }

  var m = -3.0e38;
  var l = 0.0;
  var acc: array<vec4f, HD4>;
  let cBase = b * u.P * u.C + h * HD;
  for (var s = 0u; s <= pos; s++) {
    let kBase = cBase + s * u.C;
    var score = 0.0;
    for (var j = 0u; j < HD4; j++) { score += dot(q[j], load4(1u, kBase, j)); }
    if (score > m) {
      let corr = exp(m - score);
      l *= corr;
      for (var j = 0u; j < HD4; j++) { acc[j] *= corr; }
      m = score;
    }
    let p = exp(score - m);
    l += p;
    for (var j = 0u; j < HD4; j++) { acc[j] += p * load4(2u, kBase, j); }
  }
  let oBase = r * u.C + h * HD;
  let inv = 1.0 / l;
  for (var j = 0u; j < HD4; j++) {
    for (var e = 0u; e < 4u; e++) {
      let d = j * 4u + e;
      if (d < HD) { out[oBase + d] = acc[j][e] * inv; }
    }
  }
}
