import type { ActivationRecord } from './activation.ts';
import type { KeyValue } from './entities.ts';
import { ENVELOPE_DEPTH, MAX_JSON_DEPTH, parseJson } from './json.ts';

/**
 * What controllers and invokers say to each other over the bus (OpenWhisk's
 * ActivationMessage and acknowledgements), as JSON.
 */

/** Controller → `invoker<N>`: run this action. */
export interface ActivationMessage {
  activationId: string;
  transactionId: string;
  /** Where the result and completion go: topic `completed<controllerId>`. */
  controllerId: string;
  /** A caller waits: send the result as soon as it is known, before logs are collected. */
  blocking: boolean;
  /** The namespace the activation runs in (the caller's). */
  namespace: string;
  subject: string;
  /** The uuid of the caller's namespace (OpenWhisk's user id, what user events carry). */
  userId?: string;
  /** `uuid:key` acting as the caller's namespace (its action key, controller/action-keys.ts), for actions annotated `provide-api-key`. */
  apiKey?: string;
  /** The action by reference (its code may be megabytes): path `ns` or `ns/pkg`, name, revision. */
  action: { path: string; name: string; rev: string };
  /** The final parameters (package < action < request). */
  params: Record<string, unknown>;
  cause?: string;
  /** Annotations the record carries besides the invoker's own (`binding`, `causedBy`). */
  annotations?: KeyValue[];
  /** Epoch ms when the controller accepted the request (waitTime starts here). */
  receivedAt: number;
  /**
   * The components after this one of a sequence run as a pipeline (all stdio actions): the
   * invoker runs them in order on the same node, each on the previous one's result, and
   * answers with every component's record (the result message's `stages`).
   */
  pipeline?: PipelineStage[];
}

/** A component of a pipelined sequence after the first (which the message itself describes). */
export interface PipelineStage {
  activationId: string;
  action: { path: string; name: string; rev: string };
  /** The component's inherited parameters (package < binding < action); the previous result goes on top. */
  defaults: Record<string, unknown>;
  apiKey?: string;
  annotations?: KeyValue[];
}

/**
 * Invoker → `completed<controllerId>`. `result` carries the record without logs as soon as
 * /run answers (blocking callers only); `completion` follows once the record is stored and
 * frees the activation's slot in the load balancer. A pipeline's result carries the records
 * of the stages that ran after the first in `stages`.
 */
export type CompletionMessage =
  | { type: 'result'; activationId: string; invokerId: number; record: ActivationRecord; stages?: ActivationRecord[] }
  | { type: 'completion'; activationId: string; invokerId: number; systemError: boolean };

export const encode = (m: ActivationMessage | CompletionMessage): string => JSON.stringify(m);

/** A message holds values from outside a few levels down: deeper is not one of ours, and is refused like any malformed message. */
const decode = (value: Buffer): unknown => parseJson(value, { maxDepth: MAX_JSON_DEPTH + ENVELOPE_DEPTH });

const isStage = (s: PipelineStage): boolean =>
  typeof s?.activationId === 'string' && typeof s.action?.name === 'string' && typeof s.action.path === 'string' && typeof s.defaults === 'object' && s.defaults !== null;

export function decodeActivation(value: Buffer): ActivationMessage {
  const m = decode(value) as ActivationMessage;
  if (typeof m?.activationId !== 'string' || typeof m.action?.name !== 'string' || typeof m.controllerId !== 'string') {
    throw new Error('not an activation message');
  }
  if (m.pipeline !== undefined && !(Array.isArray(m.pipeline) && m.pipeline.every(isStage))) throw new Error('not an activation message: a malformed pipeline');
  return m;
}

export function decodeCompletion(value: Buffer): CompletionMessage {
  const m = decode(value) as CompletionMessage;
  if ((m?.type !== 'result' && m?.type !== 'completion') || typeof m.activationId !== 'string') throw new Error('not a completion message');
  return m;
}

/**
 * The key path of a cache invalidation (OpenWhisk's CacheInvalidationMessage, on the
 * `cacheInvalidation` topic) saying that a user, its keys or its limits changed: the admin
 * command posts it, naming the subject, and every controller forgets the identities and keys
 * it verified.
 */
export const SUBJECTS_PATH = '_subjects';

/** The invalidation the admin command posts after changing a user. */
export const subjectsChanged = (subject: string): string => JSON.stringify({ key: { path: SUBJECTS_PATH, name: subject }, instanceId: 'admin' });
