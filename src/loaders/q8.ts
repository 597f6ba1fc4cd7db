// Quantized checkpoints (dtype 'q8', `webgen quantize`): how a safetensors file stores 8-bit matrices.
// Each matrix `<name>` becomes two tensors:
//   <name>.q8     I8   the int8 values, in the checkpoint's own shape and orientation
//   <name>.scale  F16  one scale per block of 32 values along the reduction (input) axis:
//                      [ceil(in / 32), out] for a Conv1D weight [in, out] (blocks run down the rows),
//                      [rows, ceil(C / 32)] for an embedding or Linear weight [rows, C] (along a row)
// and the file carries __metadata__ {"webgen_quant": "q8_0", "webgen_q8_block": "32"}. The value of
// element w is q * scale (runtime/q8.ts). Other tensors (biases, layer norms, wpe) keep their dtype.
import { Q8_BLOCK } from '../runtime/q8.js';

/** The __metadata__ entries of a quantized file. */
export const Q8_METADATA = { webgen_quant: 'q8_0', webgen_q8_block: String(Q8_BLOCK) } as const;

/** Suffixes of a quantized matrix's two tensors. */
export const Q8_VALUES = '.q8';
export const Q8_SCALES = '.scale';
