import type { ActivationRecord } from '../common/activation.ts';
import type { ActivationMessage } from '../common/messages.ts';

/**
 * Told of each activation an invoker runs, once its result is known (before its logs are
 * collected and its record stored): metrics and user events. Called on the invoke path, so
 * it must be cheap and must not throw.
 */
export type ActivationObserver = (record: ActivationRecord, message: ActivationMessage) => void;

/** What observers read off an activation: its kind, memory and times (ms) as the record's annotations say. */
export interface ActivationFacts {
  /** `ns/pkg/name` of the action. */
  fqn: string;
  kind: string;
  memoryMb: number;
  waitMs: number;
  /** 0 for a warm start. */
  initMs: number;
  /** From the controller's accepting the request to the result. */
  endToEndMs: number;
  causedBy: string | undefined;
}

/** A time in ms as observers can take it: 0 for what is not a number or is negative. */
const ms = (v: unknown): number => (typeof v === 'number' && v > 0 ? v : 0);

export function activationFacts(record: ActivationRecord, m: ActivationMessage): ActivationFacts {
  let kind = 'unknown';
  let memoryMb = 0;
  let waitMs = 0;
  let initMs = 0;
  let causedBy: string | undefined;
  for (const { key, value } of record.annotations) {
    if (key === 'kind') kind = String(value);
    else if (key === 'limits') memoryMb = ms((value as { memory?: unknown } | undefined)?.memory);
    else if (key === 'waitTime') waitMs = ms(value);
    else if (key === 'initTime') initMs = ms(value);
    else if (key === 'causedBy') causedBy = String(value);
  }
  return { fqn: `${m.action.path}/${m.action.name}`, kind, memoryMb, waitMs, initMs, endToEndMs: ms(record.end - m.receivedAt), causedBy };
}
