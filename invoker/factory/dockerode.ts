import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import type Dockerode from 'dockerode';

const require = createRequire(import.meta.url);

/**
 * Modules dockerode loads with itself that swirl's use of it needs only in rare cases, so
 * they load on first use instead: its BuildKit session (gRPC and protobuf; a build with
 * `version: '2'`) and docker-modem's SSH transport (ssh2; a `DOCKER_HOST=ssh://…`).
 * Together about 15 MiB of a standalone server's idle memory.
 */
const DEFERRED = [
  ['dockerode/lib/session.js', 'dockerode'],
  ['docker-modem/lib/ssh.js', 'dockerode'],
] as const;

/** dockerode's constructor, with the modules above deferred (each a function, called through a stand-in). */
export function loadDockerode(): typeof Dockerode {
  for (const [id, from] of DEFERRED) defer(id, from);
  return require('dockerode') as typeof Dockerode;
}

/**
 * Put a stand-in for the module `id` (resolved as `from` resolves it) in the module cache: a
 * function that loads the real module when first called and calls it. A module that cannot
 * be found where expected (another dockerode version) is left to load as usual.
 */
function defer(id: string, from: string): void {
  let path: string;
  try {
    path = require.resolve(id, { paths: [dirname(require.resolve(`${from}/package.json`))] });
  } catch {
    return;
  }
  if (require.cache[path]) return;
  let real: ((...args: unknown[]) => unknown) | undefined;
  const standIn = function (this: unknown, ...args: unknown[]): unknown {
    if (!real) {
      delete require.cache[path];
      real = require(path) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  const module = new Module(path);
  module.filename = path;
  module.loaded = true;
  module.exports = standIn;
  require.cache[path] = module;
}
