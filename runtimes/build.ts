import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Bundle, bundle, fresh, outputOf } from '../build/bundle.js';
import { DIST_DIR, NODE_MODULES, RUNTIMES_DIR } from './paths.ts';

/** A proxy's bundle: one file under runtimes/dist/, with its dependencies inside. */
const proxyBundle = (name: string, entry: string, out: string, format: Bundle['format'], extension: Bundle['extension']): Bundle => ({
  name,
  entryPoints: { [out]: entry },
  outdir: DIST_DIR,
  extension,
  format,
  inputs: join(DIST_DIR, `${name}.inputs.json`),
  recipe: [join(RUNTIMES_DIR, 'build.ts')],
});

/**
 * What is bundled into one file with its dependencies: the proxies written in TypeScript
 * (with fflate), and the `openwhisk` client that nodejs actions `require` as they do in
 * OpenWhisk's nodejs runtime (found through NODE_PATH, so that a package of the action's
 * own takes precedence).
 */
export const BUNDLES = {
  nodejs: proxyBundle('nodejs', join(RUNTIMES_DIR, 'nodejs', 'proxy.ts'), 'nodejs', 'esm', '.mjs'),
  stdio: proxyBundle('stdio', join(RUNTIMES_DIR, 'stdio', 'proxy.ts'), 'stdio', 'esm', '.mjs'),
  openwhisk: proxyBundle('openwhisk', createRequire(import.meta.url).resolve('openwhisk'), `${NODE_MODULES}/openwhisk`, 'cjs', '.js'),
} as const satisfies Record<string, Bundle>;
export type BundleName = keyof typeof BUNDLES;

/** Where a bundle is, as a path under runtimes/dist/. */
export const bundleFile = (name: BundleName): string => `${Object.keys(BUNDLES[name].entryPoints)[0]}${BUNDLES[name].extension}`;
export const bundlePath = (name: BundleName): string => outputOf(BUNDLES[name], Object.keys(BUNDLES[name].entryPoints)[0]!);

const building = new Map<BundleName, Promise<string>>();

/**
 * The bundle of a proxy (`runtimes/dist/<name>.mjs`), built first when missing or when
 * one of its sources changed since it was built. Returns its path.
 */
export function ensureBundle(name: BundleName, force = false): Promise<string> {
  if (!force && fresh(BUNDLES[name])) return Promise.resolve(bundlePath(name));
  let pending = building.get(name);
  if (!pending) {
    pending = bundle(BUNDLES[name])
      .then(() => bundlePath(name))
      .finally(() => building.delete(name));
    building.set(name, pending);
  }
  return pending;
}
