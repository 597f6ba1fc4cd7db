#!/usr/bin/env node
// webgen's command line: the same public API as pages and workers use.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { GPT2, OptionError, WebgenError, type GenerateOptions, type ProgressCallback, type WeightDType } from '../index.js';
import { KERNEL_CATALOG, kernelSource } from '../kernels/index.js';
import { relayThroughChild, stderrIsTTY } from './quiet_dawn.js';
import { selfCheck } from './selfcheck.js';
import { runGan } from './gan.js';
import { PLAN_USAGE, runPlan } from './plan.js';
import { QUANTIZE_USAGE, runQuantize } from './quantize.js';
import { errorLine, joinNegativeNumbers } from './args.js';

/** The default text model, trained by tools/train_gpt2.py and shipped in the package. */
export const DEFAULT_GPT2 = new URL('../../pretrained/gpt2-kjv/', import.meta.url).pathname;

/** Each command's usage lines; `webgen COMMAND --help` prints one, `webgen --help` all. */
const COMMANDS: Record<string, string> = {
  generate: `  generate [PROMPT]     stream a continuation of PROMPT (default model: pretrained/gpt2-kjv)
      --model DIR|URL             a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json + merges.txt)
      --dtype f32|f16|q8          weight storage on the GPU (default: the checkpoint's, q8 for a quantized folder, else f32)
      --max-new-tokens N          (default 50)
      --max-length N              prompt plus new tokens, as transformers' max_length (instead of --max-new-tokens)
      --no-stop-at-eos            go on past the end-of-text token; --skip-special-tokens leaves it out of the text
      --greedy                    always the most likely token (the default unless sampling options are given)
      --temperature T  --top-k K  --top-p P  --repetition-penalty R  --seed S
      --stop STRING               stop at STRING (repeatable)
      --num-return-sequences N    N samples of the same prompt, decoded as one batch
      --prompt-ids 1,2,3          token ids instead of PROMPT
      --json                      print prompt ids, generated ids, text and timings as JSON`,
  logits: `  logits --ids 1,2,3 --out FILE   write the logits of every position as little-endian float32 [T, vocab]
      --model DIR|URL  --dtype f32|f16|q8`,
  gan: `  gan                             images from a GAN generator (default: the project's emoji DCGAN); webgen gan --help`,
  plan: PLAN_USAGE,
  quantize: QUANTIZE_USAGE,
  selfcheck: `  selfcheck                       run one WGSL kernel on the adapter and check it against the CPU`,
  wgsl: `  wgsl [KERNEL]                   print the WGSL a kernel runs (no GPU needed); without KERNEL, list them
      --example NAME              one of the kernel's named params (default: its first)
      --params JSON               params merged over the example's, e.g. '{"weight":"f16packed"}'`,
};

const ENVIRONMENT = `environment:
  WEBGEN_VULKAN=lavapipe|swiftshader   pick a software Vulkan driver for Dawn (machines without a GPU)
  WEBGEN_DAWN_WARNINGS=1               show Dawn's two limit notices (hidden by default)`;

const USAGE = `usage: webgen <command> [options]

commands:
${Object.values(COMMANDS).join('\n')}

${ENVIRONMENT}
`;

function ints(s: string, flag: string): number[] {
  const out = s.split(',').map((x) => Number(x.trim()));
  if (out.length === 0 || out.some((x) => !Number.isInteger(x) || x < 0))
    throw new OptionError(`${flag} must be comma-separated token ids, got "${s}"`);
  return out;
}

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new OptionError(`${flag} must be a number, got "${v}"`);
  return n;
}

/** --dtype; undefined: the checkpoint's own (q8 for a folder `webgen quantize` wrote, else f32). */
function dtypeOf(v: string | undefined): WeightDType | undefined {
  if (v === undefined || v === 'f32' || v === 'f16' || v === 'q8') return v;
  throw new OptionError(`--dtype must be f32, f16 or q8, got "${v}"`);
}

/** A download progress bar on stderr (only when stderr is a terminal and the file is remote). */
function progressBar(): { onProgress: ProgressCallback; stop(): void } {
  if (!stderrIsTTY()) return { onProgress: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: '{file} [{bar}] {percentage}% {value}/{total} MB', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: ({ phase, file, loaded, total }) => {
      if (phase !== 'download' || total === undefined || total < 4 << 20) return;
      const mb = (x: number) => Math.round(x / 1e5) / 10;
      if (!started) {
        bar.start(mb(total), 0, { file });
        started = true;
      }
      bar.update(mb(loaded), { file });
    },
    stop: () => started && bar.stop(),
  };
}

async function loadModel(model: string | undefined, dtype: WeightDType | undefined): Promise<GPT2> {
  const progress = progressBar();
  try {
    return await GPT2.load(model ?? DEFAULT_GPT2, { dtype, onProgress: progress.onProgress });
  } finally {
    progress.stop();
  }
}

async function generate(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      dtype: { type: 'string' },
      'max-new-tokens': { type: 'string' },
      'max-length': { type: 'string' },
      'skip-special-tokens': { type: 'boolean' },
      'no-stop-at-eos': { type: 'boolean' },
      greedy: { type: 'boolean' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'repetition-penalty': { type: 'string' },
      seed: { type: 'string' },
      stop: { type: 'string', multiple: true },
      'num-return-sequences': { type: 'string' },
      'prompt-ids': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const prompt: string | number[] = values['prompt-ids'] !== undefined ? ints(values['prompt-ids'], '--prompt-ids') : positionals.join(' ');
  if (typeof prompt === 'string' && prompt.length === 0) throw new OptionError('give a PROMPT or --prompt-ids');
  const options: GenerateOptions = {
    maxNewTokens: num(values['max-new-tokens'], '--max-new-tokens'),
    maxLength: num(values['max-length'], '--max-length'),
    skipSpecialTokens: values['skip-special-tokens'] ? true : undefined,
    stopAtEos: values['no-stop-at-eos'] ? false : undefined,
    greedy: values.greedy ? true : undefined,
    temperature: num(values.temperature, '--temperature'),
    topK: num(values['top-k'], '--top-k'),
    topP: num(values['top-p'], '--top-p'),
    repetitionPenalty: num(values['repetition-penalty'], '--repetition-penalty'),
    seed: num(values.seed, '--seed'),
    stop: values.stop,
    numReturnSequences: num(values['num-return-sequences'], '--num-return-sequences'),
  };
  const lm = await loadModel(values.model, dtypeOf(values.dtype));
  try {
    const it = lm.generate(prompt, options);
    const batch = options.numReturnSequences ?? 1;
    if (!values.json && batch === 1 && typeof prompt === 'string') process.stdout.write(prompt);
    let r;
    for (;;) {
      const step = await it.next();
      if (step.done) {
        r = step.value;
        break;
      }
      if (!values.json && batch === 1) process.stdout.write(step.value.text);
    }
    if (values.json) {
      const a = lm.gpu.adapter;
      console.log(
        JSON.stringify(
          {
            model: values.model ?? DEFAULT_GPT2,
            dtype: lm.dtype,
            adapter: a.description || a.device || a.architecture,
            promptIds: r.promptIds,
            sequences: r.sequences,
            prefillMs: round(r.prefillMs),
            msPerToken: round(r.msPerToken),
            tokensPerSecond: r.msPerToken ? round(1000 / r.msPerToken) : null,
          },
          null,
          2,
        ),
      );
    } else if (batch > 1) {
      r.sequences.forEach((s, i) =>
        console.log(`--- sequence ${i} (${s.finishReason})\n${typeof prompt === 'string' ? prompt : ''}${s.text}`),
      );
    } else {
      process.stdout.write('\n');
      console.error(`[${r.sequences[0].ids.length} tokens, prefill ${round(r.prefillMs)} ms, ${round(r.msPerToken)} ms/token]`);
    }
    return 0;
  } finally {
    lm.dispose();
  }
}

async function logits(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { model: { type: 'string' }, ids: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' } },
  });
  if (!values.ids) throw new OptionError('--ids 1,2,3 is required');
  if (!values.out) throw new OptionError('--out FILE is required');
  const ids = ints(values.ids, '--ids');
  const lm = await loadModel(values.model, dtypeOf(values.dtype));
  try {
    const out = await lm.logits(ids);
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    await writeFile(values.out, bytes);
    let sum = 0;
    for (const v of out) sum += v;
    const sha = createHash('sha256').update(bytes).digest('hex');
    console.log(`logits [${ids.length}, ${lm.config.vocabSize}] float32 -> ${values.out}`);
    console.log(`sum ${sum.toPrecision(10)} sha256 ${sha}`);
    return 0;
  } finally {
    lm.dispose();
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

function wgsl(args: string[]): number {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { example: { type: 'string' }, params: { type: 'string' } },
  });
  const [kernel] = positionals;
  if (!kernel) {
    for (const [name, e] of Object.entries(KERNEL_CATALOG)) console.log(`${name}: ${Object.keys(e.examples).join(', ')}`);
    return 0;
  }
  let overrides = {};
  if (v.params !== undefined) {
    try {
      overrides = JSON.parse(v.params);
    } catch {
      throw new OptionError(`--params must be a JSON object, got ${v.params}`);
    }
  }
  const { source, params, constants } = kernelSource(kernel, v.example, overrides);
  console.log(
    `// ${kernel} ${JSON.stringify(params)}${constants ? `\n// override constants: ${JSON.stringify(constants)}` : ''}\n${source}`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'gan' && command in COMMANDS && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(`usage: webgen ${command} [options]\n\n${COMMANDS[command]}\n\n${ENVIRONMENT}`);
    return 0;
  }
  switch (command) {
    case 'generate':
      return generate(rest);
    case 'logits':
      return logits(rest);
    case 'gan':
      return runGan(rest);
    case 'plan':
      return runPlan(rest);
    case 'quantize':
      return runQuantize(rest, DEFAULT_GPT2);
    case 'selfcheck': {
      parseArgs({ args: rest, options: {} });
      const r = await selfCheck();
      const a = r.adapter;
      console.log(`adapter: ${a.description || a.device || a.architecture} (${a.vendor}, ${a.architecture}) via ${a.runtime}`);
      console.log(`features: shader-f16=${r.shaderF16} timestamp-query=${r.timestampQuery}`);
      console.log(`add kernel: n=${r.n} max|gpu-cpu|=${r.maxAbsError} in ${r.ms.toFixed(1)} ms -> ${r.ok ? 'OK' : 'MISMATCH'}`);
      return r.ok ? 0 : 1;
    }
    case 'wgsl':
      return wgsl(rest);
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE);
      return command ? 0 : 2;
    default:
      console.error(`webgen: unknown command "${command}" (webgen --help lists the commands)`);
      return 2;
  }
}

if (!relayThroughChild()) {
  main(joinNegativeNumbers(process.argv.slice(2))).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(errorLine(`webgen${process.argv[2] && process.argv[2] in COMMANDS ? ` ${process.argv[2]}` : ''}`, e));
      process.exitCode = 1;
    },
  );
}
