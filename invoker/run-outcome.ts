import type { ActivationResponse } from '../common/activation.ts';
import type { ContainerEnd } from './pool.ts';
import { MAX_RESPONSE_BYTES, type ProxyResponse } from './proxy-client.ts';
import { classify, developerError, RunMessages } from './response.ts';

/** How a /init or /run went: answered, past the action's time limit, or no answer (the container died). */
export type CallOutcome = { kind: 'ok'; res: ProxyResponse } | { kind: 'timeout' } | { kind: 'failed'; error: string };

/** What an activation's end makes of its response and of its container. */
export interface Ending {
  res: ActivationResponse;
  end: ContainerEnd;
  /** The container timed out or died: it will not mark the end of its logs. */
  abnormal: boolean;
  timedOut: boolean;
}

/**
 * A /init that did not answer 200 ends the activation as the action developer's error
 * (the init's own message when the runtime gave one) and destroys the container, as
 * OpenWhisk's ContainerProxy does; undefined when the init succeeded.
 */
export function initEnding(init: CallOutcome, timeoutMs: number): Ending | undefined {
  if (init.kind === 'ok' && init.res.status === 200) return undefined;
  // (a non-200 answer never classifies as success or the action's own error)
  const res =
    init.kind === 'timeout'
      ? developerError(RunMessages.timedOut(timeoutMs, true))
      : init.kind === 'failed'
        ? developerError(RunMessages.abnormalInit)
        : classify(init.res, MAX_RESPONSE_BYTES);
  return { res, end: 'destroy', abnormal: init.kind !== 'ok', timedOut: init.kind === 'timeout' };
}

/**
 * What /run's outcome makes of the activation and its container: a timeout or a dead
 * container is a developer error and the container is destroyed; otherwise the answer is
 * classified, and (as OpenWhisk) a developer or internal error retires the container (a
 * runtime may have stopped itself after it) while success or the action's own `{error}`
 * keeps it warm.
 */
export function runEnding(run: CallOutcome, timeoutMs: number): Ending {
  if (run.kind === 'timeout') return { res: developerError(RunMessages.timedOut(timeoutMs)), end: 'destroy', abnormal: true, timedOut: true };
  if (run.kind === 'failed') return { res: developerError(RunMessages.abnormalRun), end: 'destroy', abnormal: true, timedOut: false };
  const res = classify(run.res, MAX_RESPONSE_BYTES);
  return { res, end: res.statusCode >= 2 ? 'retire' : 'keep', abnormal: false, timedOut: false };
}
