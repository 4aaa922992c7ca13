import type { ActivationRecord, ActivationResponse } from '../common/activation.ts';
import type { KeyValue } from '../common/entities.ts';
import type { Identity } from '../common/identity.ts';

/** What the controller knows of an activation it ran itself (a trigger fire, a sequence, a built-in action). */
export interface LocalActivation {
  activationId: string;
  identity: Pick<Identity, 'namespace' | 'subject'>;
  /** The entity's name (without its package). */
  name: string;
  version: string;
  /** `ns/name` or `ns/pkg/name`: the `path` annotation. */
  path: string;
  /** The `kind` annotation; triggers have none. */
  kind?: string;
  start: number;
  end?: number;
  /** Defaults to end - start. */
  duration?: number;
  logs: string[];
  response: ActivationResponse;
  cause?: string;
  annotations?: KeyValue[];
}

/** An activation record in OpenWhisk's shape for an activation the controller ran itself. */
export function localRecord(a: LocalActivation): ActivationRecord {
  const end = a.end ?? Date.now();
  return {
    activationId: a.activationId,
    namespace: a.identity.namespace,
    name: a.name,
    subject: a.identity.subject,
    version: a.version,
    publish: false,
    start: a.start,
    end,
    duration: a.duration ?? end - a.start,
    annotations: [{ key: 'path', value: a.path }, ...(a.kind ? [{ key: 'kind', value: a.kind }] : []), ...(a.annotations ?? [])],
    logs: a.logs,
    response: a.response,
    ...(a.cause ? { cause: a.cause } : {}),
  };
}
