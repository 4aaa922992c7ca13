import { unzipSync, zipSync } from 'fflate';
import { addEntryPoint, EntryPointError, LAMBDA_RUNTIMES, lambdaKind, type LambdaKind } from '../../common/lambda-entry.ts';
import { invalidParameter } from './errors.ts';

export { CONFIG_PARAM, EVENT_PARAM, type HandlerConfig } from '../../common/lambda-entry.ts';

/** The Lambda runtimes served, and the swirl kind each runs on. */
export function kindOf(runtime: string): LambdaKind {
  const kind = lambdaKind(runtime);
  if (!kind) throw invalidParameter(`Value ${runtime} at 'runtime' failed to satisfy constraint: this endpoint runs ${LAMBDA_RUNTIMES}`);
  return kind;
}

/**
 * The function's zip with the entry point for its kind added (common/lambda-entry.ts).
 * Refuses what is no zip, or a zip that has a file of the entry point's name already.
 */
export function withEntryPoint(zip: Uint8Array, kind: LambdaKind): Uint8Array {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip);
  } catch (e) {
    throw invalidParameter(`Could not unzip uploaded file. Please check your file, then try to upload again. (${(e as Error).message})`);
  }
  try {
    return zipSync(addEntryPoint(files, kind));
  } catch (e) {
    throw e instanceof EntryPointError ? invalidParameter(e.message) : e;
  }
}
