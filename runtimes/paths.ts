import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The root of the checkout: one level up from here, and from dist/ where the built artifact
 * bundles this module (so not `dirname(import.meta.url)`, which would be dist/ there).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The runtimes/ folder of the source tree. */
export const RUNTIMES_DIR = join(ROOT, 'runtimes');
/** Where the JS proxies are bundled (git-ignored). */
export const DIST_DIR = join(RUNTIMES_DIR, 'dist');
/** The folder under DIST_DIR with the modules nodejs actions may `require` (their NODE_PATH). */
export const NODE_MODULES = 'node_modules';
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
