// The messages between a page's WorkerEngine (client.ts) and the worker entry (worker.ts). Each
// request carries an id; the worker answers with events of that id: progress and pieces while it
// runs, then one result or one error. Errors travel as their class name, message and code.
import type { GenerateRequest } from '../models/gan/generator.js';
import type { ImageSpec } from '../models/gan/images.js';
import type { GPT2Config } from '../loaders/gpt2_config.js';
import type { GenerationPiece, GenerationResult } from '../generation/generate.js';
import type { GPT2GenerateOptions, WeightDType } from '../models/gpt2.js';
import type { ModelFolder, ModelSource } from '../loaders/fetch.js';
import type { ConversationOptions, TurnResult } from '../generation/conversation.js';
import type { LoadProgress } from '../loaders/progress.js';

/** GPT2Options that can cross postMessage (no device, adapter or callbacks). */
export interface WorkerGPT2Options {
  /** GPT2Options.dtype: 'f32', 'f16' or 'q8' (default: the checkpoint's, else 'f32'). */
  dtype?: WeightDType;
  weightsFile?: string;
  layout?: 'auto' | 'kn' | 'nk';
  /** Compile the generation pipelines during load. */
  warmup?: boolean;
  revision?: string;
  hubHost?: string;
  /** A download silent for this long fails (GPT2Options.stallTimeoutMs; default 30 000 ms). */
  stallTimeoutMs?: number;
  gpuOptions?: { disableF16?: boolean; powerPreference?: GPUPowerPreference; memoryBudget?: number };
}

/** GeneratorLoadOptions that can cross postMessage. */
export interface WorkerGeneratorOptions {
  maxBatch?: number;
  /** A download silent for this long fails (GeneratorLoadOptions.stallTimeoutMs; default 30 000 ms). */
  stallTimeoutMs?: number;
}

export type WorkerGenerateOptions = Omit<GPT2GenerateOptions, 'signal'>;

export type Request =
  | { id: number; op: 'loadGPT2'; folder: ModelFolder; options: WorkerGPT2Options }
  | { id: number; op: 'loadGenerator'; source: ModelFolder | ModelSource; options: WorkerGeneratorOptions }
  | { id: number; op: 'generate'; model: number; prompt: string | number[]; options: WorkerGenerateOptions }
  | { id: number; op: 'logits'; model: number; ids: number[] }
  | { id: number; op: 'memory'; model: number }
  | { id: number; op: 'conversation'; model: number; options: ConversationOptions }
  | { id: number; op: 'say'; conversation: number; input: string | number[]; options: WorkerGenerateOptions }
  | { id: number; op: 'conversationState'; conversation: number; reset?: boolean }
  | { id: number; op: 'disposeConversation'; conversation: number }
  | { id: number; op: 'images'; model: number; request: GenerateRequest }
  | { id: number; op: 'abort'; target: number }
  | { id: number; op: 'dispose'; model: number };

/** A request without its id (the engine numbers them). */
export type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

export interface GPT2Info {
  model: number;
  config: GPT2Config;
  hasTokenizer: boolean;
  adapter: { description: string; hasF16: boolean };
}

/** A conversation's state, after each turn and on request. */
export interface ConversationState {
  conversation: number;
  tokens: number[];
  contextUsed: number;
  contextLength: number;
  cachedTokens: number;
  turnCount: number;
}

export interface GeneratorInfo {
  model: number;
  nz: number;
  image: ImageSpec;
}

export type Response =
  | { id: number; type: 'progress'; progress: LoadProgress }
  | { id: number; type: 'piece'; piece: GenerationPiece }
  | {
      id: number;
      type: 'result';
      value: GPT2Info | GeneratorInfo | GenerationResult | TurnResult | ConversationState | Float32Array | number | null;
    }
  | { id: number; type: 'error'; error: SerializedError };
