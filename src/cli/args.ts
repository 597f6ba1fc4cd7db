// What every command shares on the way in and out: negative numbers as option values, and errors as
// one line (the command, the error class, what is wrong, where to find the usage), never a stack.
import { WebgenError } from '../index.js';

/**
 * `--temperature -1` as `--temperature=-1`: node:util's parseArgs takes a value that starts with '-'
 * for an option, and refuses it as "ambiguous"; a negative number is a value, and the checks after
 * parsing say what is wrong with it.
 */
export function joinNegativeNumbers(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = args[i + 1];
    if (/^--[\w-]+$/.test(a) && next !== undefined && /^-(\d|\.\d|Infinity|NaN)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** The library's option names as the CLI spells them. */
const FLAGS: Record<string, string> = {
  maxNewTokens: '--max-new-tokens',
  maxLength: '--max-length',
  temperature: '--temperature',
  topK: '--top-k',
  topP: '--top-p',
  repetitionPenalty: '--repetition-penalty',
  seed: '--seed',
  numReturnSequences: '--num-return-sequences',
  ids: '--ids / --prompt-ids',
};

/** One line for an error of `command` ('webgen', 'webgen gan'). */
export function errorLine(command: string, e: unknown): string {
  if (e instanceof WebgenError) {
    const message = e.message.replace(/^(\w+)\b/, (w) => FLAGS[w] ?? w);
    return `${command}: ${e.name}: ${oneLine(message)}`;
  }
  const err = e as { code?: unknown; message?: unknown };
  if (typeof err?.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'))
    return `${command}: ${oneLine(String(err.message))} (${command} --help for usage)`;
  const detail = process.env.WEBGEN_DEBUG ? `\n${(e as Error)?.stack ?? ''}` : ' (WEBGEN_DEBUG=1 shows the stack)';
  return `${command}: unexpected error: ${oneLine(String(err?.message ?? e))}${detail}`;
}

const oneLine = (s: string) => s.split('\n')[0].trim();
