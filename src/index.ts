// webgen's public API: the same in a page, a Web Worker and Node.
export { Gpu, navigatorGpu } from './runtime/device.js';
export type { GpuOptions, AdapterDescription, EngineLimits, MemoryStats } from './runtime/device.js';
export { Tensor } from './runtime/tensor.js';
export type { DType } from './runtime/tensor.js';
export { Plan } from './runtime/plan.js';
export * from './runtime/errors.js';
export { add } from './kernels/add.js';
export { selfCheck } from './runtime/selfcheck.js';
export type { SelfCheckResult } from './runtime/selfcheck.js';
