// Typed errors. Every message says what went wrong, where (file, tensor, option), and what to do.
// Each class sets its `name` explicitly, so it survives minifiers that rename classes and can be told
// apart after crossing a worker boundary.

/** Base class of every error webgen throws on purpose. */
export class WebgenError extends Error {
  override name = 'WebgenError';
}

/** No WebGPU implementation or no adapter could be found. */
export class WebGPUUnavailableError extends WebgenError {
  override name = 'WebGPUUnavailableError';
}

/** The adapter's limits are too small for what was asked (a buffer, a binding, a workgroup). */
export class LimitError extends WebgenError {
  override name = 'LimitError';
}

/** A WGSL shader failed to compile or its pipeline failed validation; the message names the kernel. */
export class ShaderError extends WebgenError {
  override name = 'ShaderError';
}

/** A GPU command raised a validation or out-of-memory error. */
export class GPUValidationError extends WebgenError {
  override name = 'GPUValidationError';
}

/** A model file is malformed: a tensor missing, of the wrong shape or dtype, a bad header or config. */
export class ModelFormatError extends WebgenError {
  override name = 'ModelFormatError';
}

/** Malformed vocab.json / merges.txt / tokenizer.json, or a bad token id; names the file or field at fault. */
export class TokenizerError extends WebgenError {
  override name = 'TokenizerError';
}

/** An option passed by the caller is invalid (names the option and the accepted values). */
export class OptionError extends WebgenError {
  override name = 'OptionError';
}

/** A prompt plus the requested tokens do not fit the model's context. */
export class ContextLengthError extends WebgenError {
  override name = 'ContextLengthError';
}

/** A resource was used after dispose(). */
export class DisposedError extends WebgenError {
  override name = 'DisposedError';
}

/** Fetching a model file failed (names the URL and the HTTP status). */
export class FetchError extends WebgenError {
  override name = 'FetchError';
}
