import { ActivationStatus, type ActivationResponse } from '../common/activation.ts';
import { JsonTooDeepError } from '../common/errors.ts';
import { MAX_JSON_DEPTH, parseJson } from '../common/json.ts';
import type { ProxyResponse } from './proxy-client.ts';

/**
 * Turning what a runtime proxy answered into an activation response, with OpenWhisk's
 * rules and messages (ActivationResponse.processRunResponseContent).
 */
export const RunMessages = {
  timedOut: (ms: number, init = false) => `The action exceeded its time limits of ${ms} milliseconds${init ? ' during initialization' : ''}.`,
  abnormalRun: 'The action did not produce a valid response and exited unexpectedly.',
  abnormalInit: 'The action did not initialize and exited unexpectedly.',
  invalidJson: (body: string) => `The action did not produce a valid JSON response: ${body}`,
  notADictionary: 'The action did not return a dictionary.',
  tooDeep: (levels: number) => `The action produced a response nested more than ${levels} levels deep.`,
  tooLarge: (size: number, max: number) => `The action produced a response that exceeded the allowed length: ${size} > ${max} bytes.`,
  logsTruncated: (bytes: number) => `Logs were truncated because the total bytes size exceeds the limit of ${bytes} bytes.`,
  logsShared: 'Logs are not kept for an activation that ran at the same time as others in one container (concurrency limit above 1).',
  logsIncomplete: 'Logs might be incomplete: the container did not mark the end of the activation.',
} as const;

type Status = keyof typeof ActivationStatus;

export function response(status: Status, result?: unknown): ActivationResponse {
  const s = ActivationStatus[status];
  return { status: s.status, statusCode: s.statusCode, success: status === 'success', ...(result === undefined ? {} : { result }) };
}

export const developerError = (message: string): ActivationResponse => response('developerError', { error: message });
export const internalError = (message: string): ActivationResponse => response('internalError', { error: message });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Classify a /run (or failed /init) answer into one of the four statuses. */
export function classify(res: ProxyResponse, maxBytes: number): ActivationResponse {
  if (res.truncated) return developerError(RunMessages.tooLarge(res.size, maxBytes));
  let parsed: unknown;
  try {
    // within the depth bound: a deeper result would overflow whatever handles it next (the
    // record's serialization, the bus, the caller's client), so it is the action's error
    parsed = parseJson(res.body, { maxDepth: MAX_JSON_DEPTH });
  } catch (e) {
    if (e instanceof JsonTooDeepError) return developerError(RunMessages.tooDeep(e.maxDepth));
    return developerError(RunMessages.invalidJson(res.body.slice(0, 1000)));
  }
  if (res.status === 200) {
    if (!isObject(parsed)) return developerError(RunMessages.notADictionary);
    // the action returned {error: ...}: its own failure, reported as an application error
    if ('error' in parsed) return response('applicationError', { error: parsed.error });
    return response('success', parsed);
  }
  // the proxy reported a failure (exception, bad result, init error)
  if (isObject(parsed) && 'error' in parsed) return response('developerError', { error: parsed.error });
  return developerError(RunMessages.invalidJson(res.body.slice(0, 1000)));
}
