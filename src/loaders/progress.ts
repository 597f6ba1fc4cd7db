// One progress stream for a whole load: every file's bytes as they arrive (files load in parallel),
// the upload to the GPU as tensors land, pipeline compilation when asked for, and an overall fraction
// that only grows.

export type LoadPhase = 'download' | 'upload' | 'compile' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  /** download: the file; upload: the weights file; compile, done: what was loaded. */
  file: string;
  /** download: bytes of `file` so far; upload: bytes of tensors on the GPU so far. */
  loaded: number;
  /** The matching whole, when known (a server may not say a file's size). */
  total: number | undefined;
  /** The whole load, 0 to 1: the files' bytes (of those whose size is known), then compilation. */
  fraction: number;
}

export type ProgressCallback = (p: LoadProgress) => void;

/** Progress of one file's bytes, as the readers report it. */
export type FileProgressCallback = (p: { file: string; loaded: number; total: number | undefined }) => void;

export class LoadTracker {
  private readonly files = new Map<string, { loaded: number; total: number | undefined }>();
  private compiled = false;
  private last = 0;

  constructor(
    private readonly onProgress: ProgressCallback | undefined,
    private readonly what: string,
    /** Whether compilation (warmup) is part of this load: it takes the last tenth of the fraction. */
    private readonly compiles = false,
  ) {}

  /** The callback a reader reports a file's bytes to. */
  readonly file: FileProgressCallback = (p) => {
    this.files.set(p.file, { loaded: p.loaded, total: p.total });
    this.emit({ phase: 'download', ...p });
  };

  upload(file: string, loaded: number, total: number): void {
    this.emit({ phase: 'upload', file, loaded, total });
  }

  compiling(): void {
    this.emit({ phase: 'compile', file: this.what, loaded: 0, total: undefined });
  }

  compileDone(): void {
    this.compiled = true;
  }

  done(): void {
    this.last = 1;
    this.onProgress?.({ phase: 'done', file: this.what, loaded: 0, total: undefined, fraction: 1 });
  }

  private emit(e: Omit<LoadProgress, 'fraction'>): void {
    if (!this.onProgress) return;
    let loaded = 0;
    let total = 0;
    for (const f of this.files.values()) {
      loaded += f.loaded;
      total += f.total ?? f.loaded;
    }
    const downloads = total > 0 ? loaded / total : 0;
    const f = this.compiles ? 0.9 * downloads + (this.compiled ? 0.1 : 0) : downloads;
    this.last = Math.max(this.last, Math.min(f, 0.999));
    this.onProgress({ ...e, fraction: this.last });
  }
}
