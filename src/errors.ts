// Typed errors. Every message says what went wrong, where (file, tensor, option), and what to do.
// Each class sets its `name` explicitly, so it survives minifiers that rename classes, and has a stable
// `code`; both cross a worker boundary (the worker engine rebuilds the class from its name).

/** Base class of every error webgen throws on purpose. */
export class WebgenError extends Error {
  override name = 'WebgenError';
  readonly code: string = 'E_WEBGEN';
}

/** No WebGPU implementation or no adapter could be found. */
export class WebGPUUnavailableError extends WebgenError {
  override name = 'WebGPUUnavailableError';
  override readonly code = 'E_NO_WEBGPU';
}

/** The adapter's limits are too small for what was asked (a buffer, a binding, a workgroup). */
export class LimitError extends WebgenError {
  override name = 'LimitError';
  override readonly code = 'E_LIMIT';
}

/** A WGSL shader failed to compile or its pipeline failed validation; the message names the kernel. */
export class ShaderError extends WebgenError {
  override name = 'ShaderError';
  override readonly code = 'E_SHADER';
}

/** A GPU command raised a validation or out-of-memory error. */
export class GPUValidationError extends WebgenError {
  override name = 'GPUValidationError';
  override readonly code = 'E_GPU_VALIDATION';
}

/** A model file is malformed: a tensor missing, of the wrong shape or dtype, a bad header or config. */
export class ModelFormatError extends WebgenError {
  override name = 'ModelFormatError';
  override readonly code = 'E_MODEL_FORMAT';
}

/** Malformed vocab.json / merges.txt / tokenizer.json, or a bad token id; names the file or field at fault. */
export class TokenizerError extends WebgenError {
  override name = 'TokenizerError';
  override readonly code = 'E_TOKENIZER';
}

/** An option passed by the caller is invalid (names the option and the accepted values). */
export class OptionError extends WebgenError {
  override name = 'OptionError';
  override readonly code = 'E_OPTION';
}

/** A prompt plus the requested tokens do not fit the model's context. */
export class ContextLengthError extends WebgenError {
  override name = 'ContextLengthError';
  override readonly code = 'E_CONTEXT_LENGTH';
}

/** A resource was used after dispose(). */
export class DisposedError extends WebgenError {
  override name = 'DisposedError';
  override readonly code = 'E_DISPOSED';
}

/** Fetching a model file failed (names the URL and the HTTP status). */
export class FetchError extends WebgenError {
  override name = 'FetchError';
  override readonly code = 'E_FETCH';
}

/**
 * The GPU device was lost (a driver reset, the GPU process crashed, the device was destroyed): every
 * buffer and pipeline on it is gone, so the models on it cannot run again. Load them again (a new
 * device is made), or reload the page.
 */
export class DeviceLostError extends WebgenError {
  override name = 'DeviceLostError';
  override readonly code = 'E_DEVICE_LOST';
}

/**
 * GPU memory ran out, or would: a load whose estimate exceeds the Gpu's memoryBudget (refused before
 * anything is allocated), a buffer past that budget, or the device's own out-of-memory error. The
 * message gives the bytes needed and what to do (dtype 'f16', a smaller model, fewer sequences).
 */
export class OutOfMemoryError extends WebgenError {
  override name = 'OutOfMemoryError';
  override readonly code = 'E_OUT_OF_MEMORY';
}

/** Every error class by name, to rebuild an error that crossed a worker boundary. */
export const ERROR_CLASSES: Readonly<Record<string, new (message: string, options?: { cause?: unknown }) => WebgenError>> = {
  WebgenError,
  WebGPUUnavailableError,
  LimitError,
  ShaderError,
  GPUValidationError,
  ModelFormatError,
  TokenizerError,
  OptionError,
  ContextLengthError,
  DisposedError,
  FetchError,
  DeviceLostError,
  OutOfMemoryError,
};
