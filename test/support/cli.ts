import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../../cli/main.ts';

/** The installed command: package.json's bin. */
export const SWIRL_BIN = resolve(import.meta.dirname, '../../bin/swirl.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Settings that would leak from the developer's shell into a run. */
const LEAKS = ['__OW_API_HOST', '__OW_API_KEY', '__OW_NAMESPACE', 'WSK_CONFIG_FILE', 'FORCE_COLOR', 'NO_COLOR'];

export function cleanEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of LEAKS) delete base[k];
  return { ...base, ...env };
}

/** Spawn the real `swirl` (bin/swirl.js) with a clean environment plus `env`; never rejects. */
export function swirl(args: string[], env: Record<string, string | undefined> = {}, cwd = process.cwd()): Promise<CliRun> {
  return new Promise((ok) => {
    execFile(SWIRL_BIN, args, { env: cleanEnv(env), cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      ok({ code, stdout, stderr });
    });
  });
}

/** A string sink standing in for stdout or stderr. */
export function capture(isTTY = false): { write(s: string): boolean; text: () => string; isTTY: boolean } {
  let text = '';
  return {
    isTTY,
    write(s: string) {
      text += s;
      return true;
    },
    text: () => text,
  };
}

/** Run the CLI in this process, capturing its output: for tests of request building and formatting. */
export async function swirlInProcess(args: string[], env: Record<string, string | undefined>, cwd = mkdtempSync(join(tmpdir(), 'swirl-cli-'))): Promise<CliRun> {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(args, { stdout, stderr, env: { PATH: process.env.PATH, HOME: cwd, ...env }, cwd });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** `error: <message> (code <32 hex>)`: an API error as the CLI prints it. */
export const API_ERROR = (message: string): RegExp => new RegExp(`^error: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(code [0-9a-f]{32}\\)\\n`);
