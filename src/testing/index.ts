// Helpers for tests and benchmarks (the `webgen/testing` entry): GPT-2 checkpoints of the published
// shapes with random weights, made in memory (no download).
export { GPT2_SHAPES, gpt2Config, randomGPT2 } from './random_gpt2.js';
