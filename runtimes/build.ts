import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST_DIR, RUNTIMES_DIR } from './paths.ts';

/** The proxies written in TypeScript, each bundled into one file with its dependencies (fflate). */
export const BUNDLES = {
  nodejs: join(RUNTIMES_DIR, 'nodejs', 'proxy.ts'),
  stdio: join(RUNTIMES_DIR, 'stdio', 'proxy.ts'),
} as const;
export type BundleName = keyof typeof BUNDLES;

export const bundlePath = (name: BundleName): string => join(DIST_DIR, `${name}.mjs`);
const inputsPath = (name: BundleName): string => join(DIST_DIR, `${name}.inputs.json`);
const ROOT = resolve(RUNTIMES_DIR, '..');

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Up to date when the bundle exists and every source it was made from is unchanged. */
function fresh(name: BundleName): boolean {
  if (!existsSync(bundlePath(name)) || !existsSync(inputsPath(name))) return false;
  try {
    const inputs = JSON.parse(readFileSync(inputsPath(name), 'utf8')) as Record<string, string>;
    return Object.entries(inputs).every(([file, hash]) => existsSync(join(ROOT, file)) && sha256(readFileSync(join(ROOT, file))) === hash);
  } catch {
    return false;
  }
}

/** Write a file so that a concurrent reader sees the old or the new content, never half of it. */
function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

const building = new Map<BundleName, Promise<string>>();

/**
 * The bundle of a proxy (`runtimes/dist/<name>.mjs`), built first when missing or when
 * one of its sources changed since it was built. Returns its path.
 */
export function ensureBundle(name: BundleName, force = false): Promise<string> {
  if (!force && fresh(name)) return Promise.resolve(bundlePath(name));
  let pending = building.get(name);
  if (!pending) {
    pending = buildBundle(name).finally(() => building.delete(name));
    building.set(name, pending);
  }
  return pending;
}

async function buildBundle(name: BundleName): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [BUNDLES[name]],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    // generated code: eslint has nothing to say about it (the sources are linted)
    banner: { js: `/* eslint-disable */\n// swirl's ${name} runtime proxy, bundled by runtimes/build.ts from its sources: do not edit` },
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild produced no output for ${name}`);
  const inputs: Record<string, string> = {};
  // the recipe is an input too: a change of options here makes every bundle stale
  for (const file of [relative(ROOT, fileURLToPath(import.meta.url)), ...Object.keys(result.metafile.inputs)]) {
    const path = resolve(ROOT, file);
    inputs[relative(ROOT, path)] = sha256(readFileSync(path));
  }
  mkdirSync(DIST_DIR, { recursive: true });
  writeAtomic(bundlePath(name), output.contents);
  writeAtomic(inputsPath(name), JSON.stringify(inputs, null, 2));
  return bundlePath(name);
}
