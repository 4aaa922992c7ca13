#!/usr/bin/env node
// The `swirl` command: the TypeScript CLI in cli/, run through tsx.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
