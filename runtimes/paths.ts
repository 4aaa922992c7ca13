import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The runtimes/ folder of the source tree. */
export const RUNTIMES_DIR = dirname(fileURLToPath(import.meta.url));
/** Where the JS proxies are bundled (git-ignored). */
export const DIST_DIR = join(RUNTIMES_DIR, 'dist');
/** The folder under DIST_DIR with the modules nodejs actions may `require` (their NODE_PATH). */
export const NODE_MODULES = 'node_modules';
export const PACKAGE_VERSION = (JSON.parse(readFileSync(join(RUNTIMES_DIR, '..', 'package.json'), 'utf8')) as { version: string }).version;
