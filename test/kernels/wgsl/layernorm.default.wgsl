// out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, one invocation per row.
// Two passes over the row (mean, then variance) for accuracy; rows are short (C <= 1600 in GPT-2).
override WG: u32 = 64;

struct Meta { R: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> u: Meta;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= u.R) { return; }
  let base = r * u.C;
  var mean = 0.0;
  for (var c = 0u; c < u.C; c++) { mean += x[base + c]; }
  mean /= f32(u.C);
  var v = 0.0;
  for (var c = 0u; c < u.C; c++) { let d = x[base + c] - mean; v += d * d; }
  let inv = inverseSqrt(v / f32(u.C) + u.eps);
  for (var c = 0u; c < u.C; c++) { out[base + c] = (x[base + c] - mean) * inv * gamma[c] + beta[c]; }
}
