// Transposed 2-D convolution as an implicit GEMM tiled in workgroup memory (BM pixels x BN
// channels per workgroup, BK-deep slices of the reduction staged in As/Bs): the classic GPU layout,
// for adapters with fast workgroup memory. Phases, Meta, bindings, weight layout [kh, kw, cin, cout]
// and epilogue as in conv_transpose2d.wgsl (see there). Chosen only on request (path 'tiled'): on the
// software adapters this project can measure, the register-tiled kernel is faster.
override BM: u32 = 64;   // output pixels per workgroup
override BN: u32 = 64;   // output channels per workgroup
override BK: u32 = 16;   // reduction step held in workgroup memory
override WG: u32 = 256;  // (BM / TM) * (BN / TN)
const TM: u32 = 4u;
const TN: u32 = 4u;

{{COMMON}}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;      // [kh, kw, cin, cout]
// then, numbered on: bias [cout] if any, post [2, cout] (scale, shift) if any, y; and finish().
{{EPILOGUE}}

var<workgroup> As: array<f32, BK * BM>;  // [BK][BM]
var<workgroup> Bs: array<f32, BK * BN>;  // [BK][BN]
// Per output row of the tile, decoded once: its sample's offset in x and the input position its
// first tap reads (tap (ty, tx) reads iy - ty, ix - tx); rows past the end get an iy that is never valid.
var<workgroup> row_off: array<u32, BM>;
var<workgroup> row_iy: array<i32, BM>;
var<workgroup> row_ix: array<i32, BM>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let ay = axis(wid.z / u.sw, u.sh, u.ph, u.kh, u.oh);
  let ax = axis(wid.z % u.sw, u.sw, u.pw, u.kw, u.ow);
  let mcount = u.batch * ay.count * ax.count;
  let m0 = wid.x * BM;
  let n0 = wid.y * BN;
  if (m0 >= mcount) { return; }  // the grid is sized for the largest phase

  for (var r = lid; r < BM; r += WG) {
    let m = m0 + r;
    let j = m % ax.count;
    let q = m / ax.count;
    row_off[r] = (q / ay.count) * u.in_sn;
    row_iy[r] = select(-1000000, ay.base + i32(q % ay.count), m < mcount);
    row_ix[r] = ax.base + i32(j);
  }
  workgroupBarrier();

  let tr = lid / (BN / TN);
  let tc = lid % (BN / TN);
  var acc: array<f32, 16>;  // TM * TN
  // K = (ty, tx, ci): taps outside, channels in BK-wide tiles inside, so no tile straddles two taps
  for (var ty = 0u; ty < ay.taps; ty++) {
    for (var tx = 0u; tx < ax.taps; tx++) {
      let wtap = ((ay.phase + ty * u.sh) * u.kw + ax.phase + tx * u.sw) * u.cin * u.cout;
      for (var c0 = 0u; c0 < u.cin; c0 += BK) {
        for (var e = lid; e < BK * BM; e += WG) {
          let mm = e / BK;
          let ci = c0 + e % BK;
          let iy = row_iy[mm] - i32(ty);
          let ix = row_ix[mm] - i32(tx);
          var v = 0.0;
          if (ci < u.cin && iy >= 0 && ix >= 0 && iy < i32(u.ih) && ix < i32(u.iw)) {
            v = x[row_off[mm] + ci * u.in_sc + u32(iy) * u.in_sy + u32(ix) * u.in_sx];
          }
          As[(e % BK) * BM + mm] = v;
        }
        for (var e = lid; e < BK * BN; e += WG) {
          let ci = c0 + e / BN;
          let co = n0 + e % BN;
          var v = 0.0;
          if (ci < u.cin && co < u.cout) { v = w[wtap + ci * u.cout + co]; }
          Bs[e] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
          var a: array<f32, 4>;
          var b: array<f32, 4>;
          for (var i = 0u; i < TM; i++) { a[i] = As[kk * BM + tr * TM + i]; }
          for (var j = 0u; j < TN; j++) { b[j] = Bs[kk * BN + tc * TN + j]; }
          for (var i = 0u; i < TM; i++) {
            for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]); }
          }
        }
        workgroupBarrier();
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + tr * TM + i;
    if (m >= mcount) { break; }
    let ox = ax.o0 + (m % ax.count) * u.sw;
    let r = m / ax.count;
    let oy = ay.o0 + (r % ay.count) * u.sh;
    let base = (r / ay.count) * u.out_sn + oy * u.out_sy + ox * u.out_sx;
    for (var j = 0u; j < TN; j++) {
      let co = n0 + tc * TN + j;
      if (co >= u.cout) { break; }
      y[base + co * u.out_sc] = finish(acc[i * TN + j], co);
    }
  }
}
