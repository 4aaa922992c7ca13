import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import type * as Fflate from 'fflate';
import type { Zippable } from 'fflate';
import { HUB_COMPONENT } from '../common/entities.ts';
import { parseFunctionRef } from '../common/hub/ref.ts';
import { KINDS, knownKinds, resolveKind } from '../common/kinds.ts';
import { lazyPackage } from '../common/lazy-package.ts';
import { SIZES } from '../common/limits.ts';
import { UsageError } from './errors.ts';
import { fqn, qualify } from './names.ts';

/** The `exec` of an action as a PUT carries it. */
export interface ExecInput {
  kind: string;
  code?: string;
  image?: string;
  main?: string;
  components?: string[];
  /** kind `hub`: the function REF fetched on demand from its instance. */
  ref?: string;
}

/** The flags that say what an action runs. */
export interface ExecFlags {
  kind?: string;
  main?: string;
  docker?: string;
  native?: boolean;
  sequence?: string;
  hub?: string;
}

const BY_EXTENSION: Record<string, string> = { '.js': 'nodejs:default', '.mjs': 'nodejs:default', '.cjs': 'nodejs:default', '.py': 'python:default' };

/** What a directory holds tells its kind: package.json or index.js (nodejs), __main__.py (python), exec (stdio). */
const BY_DIRECTORY_ENTRY: [string, string][] = [
  ['package.json', 'nodejs:default'],
  ['index.js', 'nodejs:default'],
  ['__main__.py', 'python:default'],
  ['exec', 'stdio'],
];

interface Code {
  code: string;
  /** base64 of a zip */
  binary: boolean;
  /** how the kind can be told, when it can */
  inferredKind?: string;
}

/** fflate, loaded when something is zipped: every other command starts without it. */
const fflate = lazyPackage<typeof Fflate>('fflate');
const zipSync = (files: Zippable): Uint8Array => fflate().zipSync(files);

const isText = (buf: Buffer): boolean => !buf.subarray(0, 8192).includes(0);
const ZIP_MAGIC = Buffer.from('PK\u0003\u0004', 'latin1');

/** A directory as a zip, keeping file modes (so executables stay executable); `.git` is left out. */
export function zipDirectory(dir: string): Uint8Array {
  const files: Zippable = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files[relative(dir, full).split('\\').join('/')] = [readFileSync(full), { os: 3, attrs: (statSync(full).mode & 0o777) << 16 }];
    }
  };
  walk(dir);
  if (Object.keys(files).length === 0) throw new UsageError(`The directory '${dir}' is empty.`);
  return zipSync(files);
}

/** Source text, or base64 of a zip for a .zip file, a directory (zipped here) or a binary executable (zipped as `exec`). */
function readCode(path: string, forStdio: boolean): Code {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new UsageError(`File '${path}' is not a valid file or it does not exist.`);
  }
  if (stat.isDirectory()) {
    const entries = new Set(readdirSync(path));
    const inferredKind = BY_DIRECTORY_ENTRY.find(([file]) => entries.has(file))?.[1];
    return { code: Buffer.from(zipDirectory(path)).toString('base64'), binary: true, ...(inferredKind ? { inferredKind } : {}) };
  }
  const buf = readFileSync(path);
  if (buf.subarray(0, 4).equals(ZIP_MAGIC)) return { code: buf.toString('base64'), binary: true };
  if (isText(buf)) {
    const inferredKind = BY_EXTENSION[extname(path).toLowerCase()];
    return { code: buf.toString('utf8'), binary: false, ...(inferredKind ? { inferredKind } : {}) };
  }
  if (!forStdio) throw new UsageError(`'${basename(path)}' is neither source text nor a zip archive.`);
  return { code: Buffer.from(zipSync({ exec: [buf, { os: 3, attrs: 0o755 << 16 }] })).toString('base64'), binary: true };
}

/** A function REF (`host:port/owner/package/action[@version]`, or a URL of one), checked here rather than by the server. */
function hubRef(ref: string): string {
  try {
    parseFunctionRef(ref);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return ref.trim();
}

/** The kinds an artifact can be run by: those with a runtime image (not blackbox, whose image is the action's, nor sequence). */
const runtimeKinds = (): string[] => KINDS.filter((k) => k.image).map((k) => k.kind);

function checkKind(kind: string): string {
  if (!resolveKind(kind)) throw new UsageError(`kind '${kind}' is not supported; supported kinds are ${knownKinds().join(', ')}.`);
  return kind;
}

function checkSize(code: string): void {
  const size = Buffer.byteLength(code);
  if (size > SIZES.actionCode) throw new UsageError(`The action code is ${size} bytes; the limit is ${SIZES.actionCode} bytes (48 MB).`);
}

/**
 * The exec of `action create|update`: from `--sequence`, `--docker`, `--native`, or an
 * artifact (source file, .zip, or a directory that is zipped here) with `--kind` or a kind
 * told by the file's extension or the directory's contents. Undefined when an update
 * changes no code.
 */
export function buildExec(artifact: string | undefined, flags: ExecFlags, opts: { cwd: string; namespace: string; update: boolean }): ExecInput | undefined {
  const main = flags.main ? { main: flags.main } : {};
  const chosen = [flags.hub && '--hub', flags.sequence && '--sequence', flags.docker && '--docker', flags.native && '--native', flags.kind && '--kind'].filter(Boolean);
  if (chosen.length > 1) throw new UsageError(`Use only one of ${chosen.join(', ')}.`);
  if (flags.hub !== undefined) {
    if (artifact) throw new UsageError('Do not give an artifact with --hub: the action runs the hub function, fetched on its first invoke.');
    return { kind: 'hub', ref: hubRef(flags.hub) };
  }
  if (flags.sequence !== undefined) {
    if (artifact) throw new UsageError('Do not give an artifact with --sequence: a sequence runs the listed actions.');
    const components = flags.sequence.split(',').map((s) => s.trim()).filter(Boolean);
    if (components.length === 0) throw new UsageError('--sequence needs a comma-separated list of actions.');
    // `hub:REF`: a hub function, fetched on demand, kept as written
    return { kind: 'sequence', components: components.map((c) => (c.startsWith(HUB_COMPONENT) ? `${HUB_COMPONENT}${hubRef(c.slice(HUB_COMPONENT.length))}` : fqn(qualify(c, opts.namespace)))) };
  }
  const path = artifact ? resolve(opts.cwd, artifact) : undefined;
  if (flags.docker) {
    const code = path ? readCode(path, false) : undefined;
    if (code) checkSize(code.code);
    return { kind: 'blackbox', image: flags.docker, ...(code ? { code: code.code } : {}), ...main };
  }
  if (!path) {
    if (!opts.update || flags.native || flags.kind || flags.main) throw new UsageError('An action name and code artifact are required.');
    return undefined;
  }
  const code = readCode(path, !!flags.native || resolveKind(flags.kind ?? '')?.kind === 'stdio');
  checkSize(code.code);
  const kind = flags.native ? 'stdio' : flags.kind ? checkKind(flags.kind) : code.inferredKind;
  if (!kind) {
    const choose = `use --kind with one of ${runtimeKinds().join(', ')}`;
    if (code.binary && !statSync(path).isDirectory()) throw new UsageError(`creating an action from a .zip artifact requires specifying the action kind explicitly: ${choose}.`);
    throw new UsageError(`Cannot tell the kind of ${code.binary ? 'a directory artifact' : `'${basename(path)}'`}; ${choose}.`);
  }
  return { kind, code: code.code, ...main };
}
