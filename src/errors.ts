// Typed errors. Every message says what went wrong, where (file, tensor, option), and what to do.

/** Base class of every error webgen throws on purpose. */
export class WebgenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No WebGPU implementation or no adapter could be found. */
export class WebGPUUnavailableError extends WebgenError {}

/** The adapter's limits are too small for what was asked (a buffer, a binding, a workgroup). */
export class LimitError extends WebgenError {}

/** A WGSL shader failed to compile or its pipeline failed validation; the message names the kernel. */
export class ShaderError extends WebgenError {}

/** A GPU command raised a validation or out-of-memory error. */
export class GPUValidationError extends WebgenError {}

/** A model file is malformed: a tensor missing, of the wrong shape or dtype, a bad header or config. */
export class ModelFormatError extends WebgenError {}

/** An option passed by the caller is invalid (names the option and the accepted values). */
export class OptionError extends WebgenError {}

/** A prompt plus the requested tokens do not fit the model's context. */
export class ContextLengthError extends WebgenError {}

/** A resource was used after dispose(). */
export class DisposedError extends WebgenError {}

/** Fetching a model file failed (names the URL and the HTTP status). */
export class FetchError extends WebgenError {}
