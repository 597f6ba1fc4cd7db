// Picks the next token of each sequence on the GPU, so only its id is read back.
// One workgroup per row b of logits [B, V]. In the order of transformers' generate():
//   repetition penalty (tokens in the row's history: s < 0 ? s * p : s / p)
//   greedy: argmax (lowest index on ties), or
//   temperature -> top-k (keep s >= the k-th largest) -> top-p (keep s whose strictly-greater mass
//   is < top_p) -> draw from the kept softmax with u = hash(seed, row, position).
// Scores are compared through an order-preserving u32 key. The top-k threshold (the k-th largest key)
// comes from a radix select: 4 histogram passes over the row, 8 bits each, instead of a sort. When the
// kept tokens number at most CAP (top-k <= CAP without a flood of ties, or V <= CAP), they are gathered
// into workgroup memory in vocabulary order and top-p and the draw run there; otherwise top-p is a
// bisection over the whole row (32 passes) and the draw scans it. The chosen id goes to ids[b] (the
// next step's input), to out[b] (read back) and to history[b, n].
override WG: u32 = 256;        // a power of two
override SEEN_WORDS: u32 = 1u; // ceil(V / 32): the row's history as a bitmap

struct Meta { V: u32, P: u32, greedy: u32, topK: u32, topP: f32, invTemperature: f32, penalty: f32, seed: u32, logitsRowStride: u32 }
@group(0) @binding(0) var<uniform> u: Meta;
struct Step { pos0: u32, T: u32, B: u32 }
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> history: array<u32>;
@group(0) @binding(4) var<storage, read_write> ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<u32>;

override CAP: u32 = 1024u; // kept tokens the gathered path holds (sized to the device's workgroup storage)
const DROPPED: u32 = 0x80000000u; // candV's mark for a token top-p drops

var<workgroup> seen: array<atomic<u32>, SEEN_WORDS>;
var<workgroup> redF: array<f32, WG>;
var<workgroup> redU: array<u32, WG>;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> candN: u32;
var<workgroup> candS: array<f32, CAP>; // gathered scores, in vocabulary order
var<workgroup> candE: array<f32, CAP>; // their exp(s - max)
var<workgroup> candV: array<u32, CAP>; // their token ids

var<private> row: u32;
var<private> lid: u32;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

/** The score of token v after the penalty and temperature. */
fn score(v: u32) -> f32 {
  var s = logits[row * u.logitsRowStride + v];
  if (u.penalty != 1.0 && (atomicLoad(&seen[v >> 5u]) & (1u << (v & 31u))) != 0u) {
    s = select(s / u.penalty, s * u.penalty, s < 0.0);
  }
  return s * u.invTemperature;
}

/** An order-preserving u32 key of a float: a < b  <=>  key(a) < key(b). */
fn key(s: f32) -> u32 {
  let b = bitcast<u32>(s);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn sumF(v: f32) -> f32 {
  workgroupBarrier();
  redF[lid] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { redF[lid] += redF[lid + s]; }
  }
  return workgroupUniformLoad(&redF[0]);
}

fn sumU(v: u32) -> u32 {
  workgroupBarrier();
  redU[lid] = v;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { redU[lid] += redU[lid + s]; }
  }
  return workgroupUniformLoad(&redU[0]);
}

/** Softmax mass (unnormalised, relative to mx) of kept tokens with key > t. */
fn massAbove(t: u32, keep: u32, mx: f32) -> f32 {
  var m = 0.0;
  for (var v = lid; v < u.V; v += WG) {
    let s = score(v);
    let k = key(s);
    if (k > t && k >= keep) { m += exp(s - mx); }
  }
  return sumF(m);
}

/** The k-th largest key of the row (1 <= k <= V): radix select, most significant byte first. */
fn kthLargestKey(k: u32) -> u32 {
  var prefix = 0u;
  var need = k; // rank of the wanted key among the keys that match prefix
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    let mask = ~(0xffffffffu >> (8u * round)); // the bytes already fixed
    for (var i = lid; i < 256u; i += WG) { atomicStore(&hist[i], 0u); }
    workgroupBarrier();
    for (var v = lid; v < u.V; v += WG) {
      let kk = key(score(v));
      if ((kk & mask) == prefix) { atomicAdd(&hist[(kk >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      // the byte value holding the need-th largest: count down from 255
      var above = 0u;
      var d = 255u;
      loop {
        let c = atomicLoad(&hist[d]);
        if (above + c >= need || d == 0u) { break; }
        above += c;
        d -= 1u;
      }
      redU[0] = d;
      redU[1] = need - above;
    }
    let d = workgroupUniformLoad(&redU[0]);
    need = workgroupUniformLoad(&redU[1]);
    prefix |= d << shift;
  }
  return prefix;
}

/**
 * Gathers the tokens with key >= keep into candS/candE/candV in vocabulary order (each invocation
 * owns a contiguous range; offsets from a prefix sum of their counts). Returns how many there are;
 * above CAP nothing is gathered.
 */
fn gather(keep: u32, mx: f32) -> u32 {
  let per = (u.V + WG - 1u) / WG;
  let lo = min(lid * per, u.V);
  let hi = min(lo + per, u.V);
  var c = 0u;
  for (var v = lo; v < hi; v++) { c += u32(key(score(v)) >= keep); }
  workgroupBarrier();
  redU[lid] = c;
  workgroupBarrier();
  if (lid == 0u) {
    var acc = 0u;
    for (var i = 0u; i < WG; i++) { let t = redU[i]; redU[i] = acc; acc += t; }
    candN = acc;
  }
  let n = workgroupUniformLoad(&candN);
  if (n <= CAP) {
    var o = redU[lid];
    for (var v = lo; v < hi; v++) {
      let s = score(v);
      if (key(s) >= keep) {
        candS[o] = s;
        candE[o] = exp(s - mx);
        candV[o] = v;
        o++;
      }
    }
  }
  workgroupBarrier();
  return n;
}

/** Top-p over the n gathered tokens, then the draw; `goal01` in [0, 1); `top` is the argmax. */
fn drawGathered(n: u32, goal01: f32, top: u32) -> u32 {
  // top-p: keep a token when the mass of the tokens strictly above it is < top_p of the total
  var z = 0.0;
  for (var i = 0u; i < n; i++) { z += candE[i]; }
  if (u.topP < 1.0) {
    let goal = u.topP * z;
    for (var c = lid; c < n; c += WG) {
      var above = 0.0;
      for (var i = 0u; i < n; i++) { if (candS[i] > candS[c]) { above += candE[i]; } }
      if (above >= goal) { candV[c] |= DROPPED; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    var kept = 0.0;
    for (var i = 0u; i < n; i++) { if ((candV[i] & DROPPED) == 0u) { kept += candE[i]; } }
    let goal = goal01 * kept;
    var acc = 0.0;
    var pick = top; // (top-p keeps it: nothing is strictly above it)
    for (var i = 0u; i < n; i++) {
      if ((candV[i] & DROPPED) == 0u && candE[i] > 0.0) {
        pick = candV[i];
        acc += candE[i];
        if (acc > goal) { break; }
      }
    }
    redU[2] = pick;
  }
  return workgroupUniformLoad(&redU[2]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  row = wid.x;
  lid = li;
  let n = step.pos0 + step.T; // tokens in this row's history so far

  for (var w = lid; w < SEEN_WORDS; w += WG) { atomicStore(&seen[w], 0u); }
  workgroupBarrier();
  if (u.penalty != 1.0) {
    for (var i = lid; i < n; i += WG) {
      let t = history[row * u.P + i];
      if (t < u.V) { atomicOr(&seen[t >> 5u], 1u << (t & 31u)); }
    }
  }
  workgroupBarrier();

  // max and argmax (first index among equals)
  var best = -3.4e38;
  var bestIdx = 0xffffffffu;
  for (var v = lid; v < u.V; v += WG) {
    let s = score(v);
    if (s > best) { best = s; bestIdx = v; }
  }
  redF[lid] = best;
  redU[lid] = bestIdx;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      let ov = redF[lid + s];
      let oi = redU[lid + s];
      if (ov > redF[lid] || (ov == redF[lid] && oi < redU[lid])) { redF[lid] = ov; redU[lid] = oi; }
    }
  }
  let mx = workgroupUniformLoad(&redF[0]);
  var chosen = workgroupUniformLoad(&redU[0]);
  // a row with no finite score (every logit -inf or NaN) has no argmax: token 0, as the CPU sampler picks
  if (chosen >= u.V) { chosen = 0u; }

  let goal01 = f32(pcg(u.seed ^ pcg((row * 0x9e3779b9u) ^ pcg(n))) >> 8u) / 16777216.0;
  var gathered = false;
  if (u.greedy == 0u) {
    // top-k: keep the keys >= the k-th largest
    var keep = 0u;
    if (u.topK > 0u && u.topK < u.V) { keep = kthLargestKey(u.topK); }
    if ((u.topK > 0u && u.topK <= CAP) || u.V <= CAP) {
      let count = gather(keep, mx);
      if (count <= CAP) {
        chosen = drawGathered(count, goal01, chosen);
        gathered = true;
      }
    }
  }
  if (u.greedy == 0u && !gathered) {
    var keep = 0u;
    if (u.topK > 0u && u.topK < u.V) { keep = kthLargestKey(u.topK); }
    var z = massAbove(0u, keep, mx); // every real score has a key > 0
    // top-p: t = the largest key whose kept mass strictly above it is still >= top_p; keep keys > t
    if (u.topP < 1.0) {
      let goal = u.topP * z;
      var t = 0u;
      for (var bit = 31i; bit >= 0i; bit--) {
        let cand = t | (1u << u32(bit));
        if (massAbove(cand, keep, mx) >= goal) { t = cand; }
      }
      keep = max(keep, t + 1u);
      z = massAbove(0u, keep, mx);
    }
    // draw: each invocation owns a contiguous range of the vocabulary; scan the partial sums
    let per = (u.V + WG - 1u) / WG;
    let lo = min(lid * per, u.V);
    let hi = min(lo + per, u.V);
    var part = 0.0;
    for (var v = lo; v < hi; v++) { let s = score(v); if (key(s) >= keep) { part += exp(s - mx); } }
    workgroupBarrier();
    redF[lid] = part;
    workgroupBarrier();
    let goal = goal01 * z;
    if (lid == 0u) {
      // the range holding the goal; past the end (rounding), the last range with mass
      var acc = 0.0;
      var owner = 0u;
      var before = 0.0;
      for (var i = 0u; i < WG; i++) {
        if (redF[i] > 0.0) {
          owner = i;
          before = acc;
          if (acc + redF[i] > goal) { break; }
        }
        acc += redF[i];
      }
      redU[0] = owner;
      redF[0] = before;
    }
    let owner = workgroupUniformLoad(&redU[0]);
    if (lid == owner) {
      var acc = redF[0];
      var pick = lo;
      for (var v = lo; v < hi; v++) {
        let s = score(v);
        if (key(s) >= keep) {
          pick = v;
          acc += exp(s - mx);
          if (acc > goal) { break; }
        }
      }
      redU[1] = pick;
    }
    chosen = workgroupUniformLoad(&redU[1]);
  }

  if (lid == 0u) {
    chosen = select(chosen, 0u, chosen >= u.V); // never an id outside the vocabulary
    ids[row] = chosen;
    out[row] = chosen;
    if (n < u.P) { history[row * u.P + n] = chosen; }
  }
}
