import { PACKAGE_VERSION } from './paths.ts';

/** Port every runtime proxy serves /init and /run on inside its container. */
export const RUNTIME_PORT = 8080;

/** The kinds that have a runtime image (blackbox brings its own, sequence runs none). */
export const RUNTIME_KINDS: readonly string[] = ['nodejs:20', 'python:3', 'stdio'];

export function checkKind(kind: string): void {
  if (!RUNTIME_KINDS.includes(kind)) throw new Error(`no runtime for kind '${kind}' (runtimes: ${RUNTIME_KINDS.join(', ')})`);
}

/** Image tag of a resolved kind: `swirl/runtime-nodejs-20:0.1.0`, `swirl/runtime-python-3:…`, `swirl/runtime-stdio:…`. */
export function runtimeImage(kind: string): string {
  checkKind(kind);
  return `swirl/runtime-${kind.replace(/:/g, '-')}:${PACKAGE_VERSION}`;
}
