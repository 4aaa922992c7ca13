#!/usr/bin/env node
// The `swirl` command: the TypeScript CLI in cli/, run through tsx.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
// a reader that stops early (`swirl activation list | head`) closes the pipe: that is the end of the output, not an error
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { runCli } = await import('../cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
