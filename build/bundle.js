// @ts-check
/**
 * Bundling swirl's TypeScript with esbuild, and knowing when a bundle is stale: one recipe
 * for the runtime proxies (runtimes/build.ts) and for the built artifact (build/artifact.js).
 * Plain JavaScript, so that the staleness check needs no TypeScript loader: the `swirl`
 * command pays it on every run.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** @param {...string} parts a path under the repository root */
export const fromRoot = (...parts) => join(ROOT, ...parts);

/**
 * @typedef {object} Bundle
 * @property {string} name what the bundle is, for its banner
 * @property {Record<string, string>} entryPoints the sources it starts from (absolute), by the path of
 *   their output under `outdir` without its extension
 * @property {string} outdir where it is written (absolute)
 * @property {'.js' | '.mjs'} [extension] of the outputs (.js by default)
 * @property {'esm' | 'cjs'} format
 * @property {string} inputs where the list of its sources is kept (absolute)
 * @property {string[]} recipe the files that say how it is made: a change there makes it stale too (absolute)
 * @property {boolean} [external] leave node_modules packages out (they load from node_modules at run time)
 * @property {boolean} [sourcemap] a source map beside each output, so that stack traces name the .ts lines
 * @property {boolean} [splitting] code that entry points share, and code they import dynamically, in
 *   chunks of its own (esm only): a dynamic import then loads its packages only when it runs
 */

/**
 * What a build wrote: the sources it was made from (by path from the root), and for each
 * entry point the outputs it loads and the sources they were made from (so that checking
 * one entry point reads the stat of its own sources only).
 * @typedef {{ outputs: string[], sources: string[] }} Part
 * @typedef {{ sources: Record<string, Input>, entries: Record<string, Part> }} Manifest
 */

/** @typedef {{ size: number, mtimeMs: number, sha256: string }} Input */

/** @param {string | Uint8Array} data */
export const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/**
 * Write a file so that a concurrent reader sees the old or the new content, never half of it.
 * @param {string} path
 * @param {string | Uint8Array} data
 */
export function writeAtomic(path, data) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** @param {string} path @returns {Input} */
function inputOf(path) {
  const { size, mtimeMs } = statSync(path);
  return { size, mtimeMs, sha256: sha256(readFileSync(path)) };
}

/** @param {Bundle} b @param {string} entry a key of b.entryPoints @returns {string} the path of its output */
export const outputOf = (b, entry) => join(b.outdir, `${entry}${b.extension ?? '.js'}`);

/**
 * Up to date when the bundle exists and every source it was made from is unchanged: a file
 * whose size and mtime are as recorded is unchanged (a stat, no read); one whose mtime alone
 * moved (a checkout, a touch) is compared by content, and its new mtime recorded.
 * @param {Bundle} b
 * @param {string} [entry] a key of b.entryPoints: only what that entry point loads
 * @returns {boolean}
 */
export function fresh(b, entry) {
  /** @type {Manifest} */
  let manifest;
  /** @type {Part[]} */
  let parts;
  try {
    manifest = JSON.parse(readFileSync(b.inputs, 'utf8'));
    parts = entry === undefined ? Object.values(manifest.entries) : [manifest.entries[entry] ?? { outputs: [''], sources: [] }];
    for (const out of parts.flatMap((p) => p.outputs)) statSync(resolve(ROOT, out));
  } catch {
    return false;
  }
  let touched = false;
  for (const file of new Set(parts.flatMap((p) => p.sources))) {
    const was = manifest.sources[file];
    let now;
    try {
      now = statSync(resolve(ROOT, file));
    } catch {
      return false;
    }
    if (!was || now.size !== was.size) return false;
    if (now.mtimeMs === was.mtimeMs) continue;
    if (sha256(readFileSync(resolve(ROOT, file))) !== was.sha256) return false;
    manifest.sources[file] = { ...was, mtimeMs: now.mtimeMs };
    touched = true;
  }
  if (touched) writeAtomic(b.inputs, JSON.stringify(manifest));
  return true;
}

/**
 * What an entry point loads, as the last build recorded it: its output and every chunk it imports.
 * @param {Bundle} b
 * @param {string} entry a key of b.entryPoints
 * @returns {string[]} paths from the root
 */
export function outputsOf(b, entry) {
  /** @type {Manifest} */
  const manifest = JSON.parse(readFileSync(b.inputs, 'utf8'));
  const part = manifest.entries[entry];
  if (!part) throw new Error(`${relative(ROOT, b.inputs)} has no entry point ${entry}: build it`);
  return part.outputs;
}

/**
 * Bundle `b` now: its output (and source map) and the list of its inputs, each written
 * atomically, the list last.
 * @param {Bundle} b
 * @returns {Promise<void>}
 */
export async function bundle(b) {
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: b.entryPoints,
    outdir: b.outdir,
    outExtension: { '.js': b.extension ?? '.js' },
    splitting: b.splitting ?? false,
    chunkNames: 'chunk-[hash]',
    bundle: true,
    platform: 'node',
    format: b.format,
    target: 'node20',
    packages: b.external ? 'external' : undefined,
    sourcemap: b.sourcemap ? 'linked' : false,
    // the map points at the sources in the checkout; it need not carry them
    sourcesContent: false,
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    // generated code: eslint has nothing to say about it (the sources are linted)
    banner: { js: `/* eslint-disable */\n// swirl's ${b.name} bundle, made by ${relative(ROOT, b.recipe[0] ?? fileURLToPath(import.meta.url))} from its sources: do not edit` },
  });
  const { metafile } = result;
  // the recipe is an input of every output: a change of options makes the bundle stale
  const recipe = [fileURLToPath(import.meta.url), ...b.recipe].map((path) => relative(ROOT, path));
  /** @type {Record<string, Input>} */
  const sources = {};
  for (const file of [...recipe, ...Object.keys(metafile.inputs)]) sources[file] = inputOf(resolve(ROOT, file));
  /** @type {Record<string, Part>} */
  const entries = {};
  for (const entry of Object.keys(b.entryPoints)) {
    // the entry point's output and every chunk it imports, statically or not
    const outputs = new Set([relative(ROOT, outputOf(b, entry))]);
    for (const out of outputs) {
      for (const i of metafile.outputs[out]?.imports ?? []) if (!i.external) outputs.add(i.path);
    }
    const used = new Set(recipe);
    for (const out of outputs) for (const file of Object.keys(metafile.outputs[out]?.inputs ?? {})) used.add(file);
    entries[entry] = { outputs: [...outputs], sources: [...used] };
  }
  const entryFiles = new Set(Object.keys(b.entryPoints).map((e) => outputOf(b, e)));
  mkdirSync(b.outdir, { recursive: true });
  // chunks before the entry points that import them, each map before the code that names it:
  // a process starting meanwhile loads the old build or the new one
  const rank = (/** @type {string} */ path) => (entryFiles.has(path) ? 2 : 0) + (path.endsWith('.map') ? 0 : 1);
  const outputs = [...result.outputFiles].sort((x, y) => rank(x.path) - rank(y.path));
  for (const o of outputs) {
    mkdirSync(dirname(o.path), { recursive: true });
    writeAtomic(o.path, o.contents);
  }
  pruneChunks(b, new Set(outputs.map((o) => o.path)));
  /** @type {Manifest} */
  const manifest = { sources, entries };
  writeAtomic(b.inputs, JSON.stringify(manifest));
}

/** A day: a process still running an older build may yet load one of its chunks (a dynamic import). */
const CHUNK_GRACE_MS = 24 * 3600 * 1000;

/**
 * Remove the chunks of earlier builds that this one no longer names, once they are old enough
 * that no process still running is likely to load them.
 * @param {Bundle} b
 * @param {Set<string>} kept
 */
function pruneChunks(b, kept) {
  if (!b.splitting) return;
  for (const file of readdirSync(b.outdir)) {
    const path = join(b.outdir, file);
    if (!file.startsWith('chunk-') || kept.has(path) || kept.has(path.replace(/\.map$/, ''))) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > CHUNK_GRACE_MS) unlinkSync(path);
    } catch {
      // gone already (another build)
    }
  }
}
