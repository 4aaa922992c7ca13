import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInThisContext, Script } from 'node:vm';
import { InitFailure, type InitValue } from '../common/protocol.ts';
import { extractZip } from '../common/zip.ts';

export type ActionMain = (params: unknown) => unknown;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const LOOKS_LIKE_ESM = /^\s*(import\s*[\w{*'"]|export\s)/m;

/** Load the action's entry function from its init value: source text or a base64 zip. */
export async function loadAction(value: InitValue): Promise<ActionMain> {
  const main = value.main || 'main';
  const dir = mkdtempSync(join(tmpdir(), 'action-'));
  const code = value.code ?? '';
  const fn = value.binary ? await loadZip(Buffer.from(code, 'base64'), main, dir) : await loadSource(code, main, dir);
  if (typeof fn !== 'function') throw new InitFailure(`Action entrypoint '${main}' is not a function.`);
  return fn as ActionMain;
}

/**
 * A single file, evaluated as a CommonJS module: the entry is a top-level function of that
 * name, or `module.exports.<main>` / `exports.<main>`. A file written as an ES module
 * (`export function main`) is imported as one.
 */
async function loadSource(code: string, main: string, dir: string): Promise<unknown> {
  if (!IDENTIFIER.test(main)) throw new InitFailure(`'${main}' is not a valid function name.`);
  const filename = join(dir, 'index.js');
  let wrapped: (...args: unknown[]) => unknown;
  try {
    // the code starts on the wrapper's first line, so line numbers in stack traces are the action's own
    wrapped = runInThisContext(
      `(function (exports, require, module, __filename, __dirname) {${code}\n;return typeof ${main} === 'function' ? ${main} : undefined;})`,
      { filename },
    ) as typeof wrapped;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    if (LOOKS_LIKE_ESM.test(code)) return loadModuleFile(join(dir, 'index.mjs'), code, main);
    // compiled alone, the code shows where the error is in its own lines (not in the wrapper's tail)
    new Script(code, { filename });
    throw e;
  }
  const exports: Record<string, unknown> = {};
  const module = { exports };
  const topLevel = wrapped(exports, createRequire(filename), module, filename, dir);
  return topLevel ?? (module.exports as Record<string, unknown>)[main] ?? exports[main];
}

async function loadModuleFile(path: string, code: string, main: string): Promise<unknown> {
  writeFileSync(path, code);
  const ns = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  return ns[main] ?? (ns.default as Record<string, unknown> | undefined)?.[main];
}

/**
 * A zip: unpacked into its own directory, entry point package.json `main` or index.js;
 * CommonJS or ES module alike (dynamic import reads both), node_modules resolved from
 * the archive.
 */
async function loadZip(buf: Buffer, main: string, dir: string): Promise<unknown> {
  extractZip(buf, dir);
  let entry = join(dir, 'index.js');
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    let pkg: { main?: unknown };
    try {
      pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: unknown };
    } catch (e) {
      throw new InitFailure(`package.json is not valid JSON (${(e as Error).message})`);
    }
    if (typeof pkg.main === 'string') entry = join(dir, pkg.main);
  }
  if (!existsSync(entry)) throw new InitFailure('Zipped actions must contain either package.json or index.js at the root.');
  process.chdir(dir);
  const ns = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  return ns[main] ?? (ns.default as Record<string, unknown> | undefined)?.[main];
}
