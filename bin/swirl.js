#!/usr/bin/env node
// @ts-check
// The `swirl` command: the CLI in cli/, run from its bundle (dist/swirl.js, built first when a source changed).
import process from 'node:process';
import { importArtifact } from '../build/artifact.js';

// a reader that stops early (`swirl activation list | head`) closes the pipe: that is the end of the output, not an error
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { runCli } = /** @type {{ runCli: (argv: string[]) => Promise<number> }} */ (await importArtifact('swirl'));
process.exitCode = await runCli(process.argv.slice(2));
