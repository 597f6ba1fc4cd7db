#!/usr/bin/env node
// webgen's command line: the same public API as pages and workers use.
import { parseArgs } from 'node:util';
import { selfCheck } from '../index.js';
import { WebgenError } from '../runtime/errors.js';

const USAGE = `usage: webgen <command> [options]

commands:
  selfcheck             run one WGSL kernel on the WebGPU adapter and check it against the CPU

environment:
  WEBGEN_VULKAN=lavapipe|swiftshader   pick a software Vulkan driver for Dawn (machines without a GPU)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'selfcheck': {
      parseArgs({ args: rest, options: {} });
      const r = await selfCheck();
      const a = r.adapter;
      console.log(`adapter: ${a.description || a.device || a.architecture} (${a.vendor}, ${a.architecture}) via ${a.runtime}`);
      console.log(`features: shader-f16=${r.shaderF16} timestamp-query=${r.timestampQuery}`);
      console.log(`add kernel: n=${r.n} max|gpu-cpu|=${r.maxAbsError} in ${r.ms.toFixed(1)} ms -> ${r.ok ? 'OK' : 'MISMATCH'}`);
      return r.ok ? 0 : 1;
    }
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE);
      return command ? 0 : 2;
    default:
      console.error(`webgen: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (e instanceof WebgenError) console.error(`webgen: ${e.name}: ${e.message}`);
    else console.error(e);
    process.exitCode = 1;
  },
);
