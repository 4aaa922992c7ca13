/**
 * What the invoker needs of the runtimes: the image of each kind, how to run a kind's
 * proxy as a local process, and building the images.
 */
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ensureBundle } from './build.ts';
import { checkKind } from './kinds.ts';
import { RUNTIMES_DIR } from './paths.ts';

export { RUNTIME_KINDS, RUNTIME_PORT, runtimeImage } from './kinds.ts';
export { ensureImages, type EnsureImagesOptions, requireImages, tryPull } from './images/ensure.ts';

/** Debian's python3 when there is one (what the runtime image runs), else the first python3 on PATH. */
function python3(): string {
  if (existsSync('/usr/bin/python3')) return '/usr/bin/python3';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'python3'))) return join(dir, 'python3');
  }
  return 'python3';
}

/**
 * How to run a kind's proxy as a local child process (the process factory): it listens on
 * env PORT (default 8080) and HOST (default 0.0.0.0). The JS proxies are bundled first when
 * the bundle is missing or stale. The last argument is always the proxy's file; `env` is
 * what the proxy needs in its environment besides.
 */
export async function localProxy(kind: string): Promise<{ command: string; args: string[]; env?: Record<string, string> }> {
  checkKind(kind);
  if (kind === 'python:3') return { command: python3(), args: [join(RUNTIMES_DIR, 'python', 'proxy.py')] };
  if (kind === 'stdio') return { command: process.execPath, args: [await ensureBundle('stdio')] };
  // the modules an action may `require` without bringing them (openwhisk), as the image's NODE_PATH
  const [proxy, openwhisk] = await Promise.all([ensureBundle('nodejs'), ensureBundle('openwhisk')]);
  return { command: process.execPath, args: [proxy], env: { NODE_PATH: dirname(openwhisk) } };
}
