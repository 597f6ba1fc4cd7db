// Dawn (the `webgpu` package) prints two notices on every device creation straight to the process's
// stderr from native code ("maxDynamic...PerPipelineLayout artificially reduced ..."), where no JS
// hook can catch them. The CLI therefore runs itself as a child whose stderr it reads, dropping those
// two lines and passing everything else through unchanged (progress bars included: a partial line is
// held back only while it could still become one of them). WEBGEN_DAWN_WARNINGS=1 shows them.
import { spawn } from 'node:child_process';

const CHILD = 'WEBGEN_CLI_CHILD';
const NOTICE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced/;
const PREFIX = 'Warning: maxDynamic';

/** In the child (or with warnings asked for): false, run the CLI here. In the parent: run the child and exit with its code. */
export function relayThroughChild(): boolean {
  if (process.env[CHILD] || process.env.WEBGEN_DAWN_WARNINGS === '1') return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, [CHILD]: '1', WEBGEN_STDERR_TTY: process.stderr.isTTY ? '1' : '0' },
  });
  let pending = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    const out = lines.filter((l) => !NOTICE.test(l)).map((l) => l + '\n');
    // a partial line is held only while it could still be a notice
    if (!(PREFIX.startsWith(pending) || pending.startsWith(PREFIX))) {
      out.push(pending);
      pending = '';
    }
    if (out.length) process.stderr.write(out.join(''));
  });
  child.stderr!.on('end', () => {
    if (pending && !NOTICE.test(pending)) process.stderr.write(pending);
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
  return true;
}

/** Whether stderr reaches a terminal (through the parent, in the child). */
export function stderrIsTTY(): boolean {
  return process.env.WEBGEN_STDERR_TTY === '1' || !!process.stderr.isTTY;
}
