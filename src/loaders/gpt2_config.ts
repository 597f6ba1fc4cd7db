// Hugging Face GPT-2 config.json, checked field by field.
import { ModelFormatError } from '../errors.js';

export type GPT2Activation = 'gelu_new' | 'gelu_pytorch_tanh' | 'gelu' | 'relu';

export interface GPT2Config {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nPositions: number;
  vocabSize: number;
  nInner: number;
  layerNormEpsilon: number;
  activation: GPT2Activation;
  bosTokenId?: number;
  eosTokenId?: number;
}

const ACTIVATIONS: readonly GPT2Activation[] = ['gelu_new', 'gelu_pytorch_tanh', 'gelu', 'relu'];

/** Parses a GPT-2 config.json object; `file` names it in errors. */
export function parseGPT2Config(json: unknown, file = 'config.json'): GPT2Config {
  if (typeof json !== 'object' || json === null) throw new ModelFormatError(`${file}: not a JSON object`);
  const j = json as Record<string, unknown>;
  const int = (key: string, fallback?: string): number => {
    const v = j[key] ?? (fallback !== undefined ? j[fallback] : undefined);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new ModelFormatError(`${file}: "${key}" must be a positive integer, found ${JSON.stringify(v)}`);
    }
    return v;
  };
  if (j.model_type !== undefined && j.model_type !== 'gpt2') {
    throw new ModelFormatError(`${file}: model_type is ${JSON.stringify(j.model_type)}; webgen runs GPT-2 checkpoints ("gpt2")`);
  }
  const nEmbd = int('n_embd');
  const nHead = int('n_head');
  if (nEmbd % nHead !== 0) throw new ModelFormatError(`${file}: n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  const activation = (j.activation_function ?? 'gelu_new') as GPT2Activation;
  if (!ACTIVATIONS.includes(activation)) {
    throw new ModelFormatError(
      `${file}: activation_function ${JSON.stringify(j.activation_function)} is not one of ${ACTIVATIONS.join(', ')}`,
    );
  }
  const eps = j.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0))
    throw new ModelFormatError(`${file}: layer_norm_epsilon must be a positive number, found ${JSON.stringify(eps)}`);
  const nInner = j.n_inner === undefined || j.n_inner === null ? 4 * nEmbd : int('n_inner');
  const optInt = (key: string): number | undefined => (typeof j[key] === 'number' ? (j[key] as number) : undefined);
  return {
    nLayer: int('n_layer'),
    nHead,
    nEmbd,
    nPositions: int('n_positions', 'n_ctx'),
    vocabSize: int('vocab_size'),
    nInner,
    layerNormEpsilon: eps,
    activation,
    bosTokenId: optInt('bos_token_id'),
    eosTokenId: optInt('eos_token_id'),
  };
}
