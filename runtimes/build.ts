import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST_DIR, NODE_MODULES, RUNTIMES_DIR } from './paths.ts';

interface Bundle {
  entry: string;
  format: 'esm' | 'cjs';
  /** Where it is written, under runtimes/dist/. */
  out: string;
}

/**
 * What is bundled into one file with its dependencies: the proxies written in TypeScript
 * (with fflate), and the `openwhisk` client that nodejs actions `require` as they do in
 * OpenWhisk's nodejs runtime (found through NODE_PATH, so that a package of the action's
 * own takes precedence).
 */
export const BUNDLES = {
  nodejs: { entry: join(RUNTIMES_DIR, 'nodejs', 'proxy.ts'), format: 'esm', out: 'nodejs.mjs' },
  stdio: { entry: join(RUNTIMES_DIR, 'stdio', 'proxy.ts'), format: 'esm', out: 'stdio.mjs' },
  openwhisk: { entry: createRequire(import.meta.url).resolve('openwhisk'), format: 'cjs', out: `${NODE_MODULES}/openwhisk.js` },
} as const satisfies Record<string, Bundle>;
export type BundleName = keyof typeof BUNDLES;

export const bundlePath = (name: BundleName): string => join(DIST_DIR, BUNDLES[name].out);
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
    entryPoints: [BUNDLES[name].entry],
    bundle: true,
    platform: 'node',
    format: BUNDLES[name].format,
    target: 'node20',
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    // generated code: eslint has nothing to say about it (the sources are linted)
    banner: { js: `/* eslint-disable */\n// swirl's ${name} bundle, made by runtimes/build.ts from its sources: do not edit` },
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild produced no output for ${name}`);
  const inputs: Record<string, string> = {};
  // the recipe is an input too: a change of options here makes every bundle stale
  for (const file of [relative(ROOT, fileURLToPath(import.meta.url)), ...Object.keys(result.metafile.inputs)]) {
    const path = resolve(ROOT, file);
    inputs[relative(ROOT, path)] = sha256(readFileSync(path));
  }
  mkdirSync(dirname(bundlePath(name)), { recursive: true });
  writeAtomic(bundlePath(name), output.contents);
  writeAtomic(inputsPath(name), JSON.stringify(inputs, null, 2));
  return bundlePath(name);
}
