import { ActivationStatus, type ActivationRecord } from './activation.ts';
import { stampLine } from './container.ts';
import { JsonTooDeepError, Messages } from './errors.ts';
import { ENVELOPE_DEPTH, MAX_JSON_DEPTH, stringifyBounded } from './json.ts';
import { SIZES } from './limits.ts';

/**
 * Making an activation record storable before it joins a batch, and replacing one the store
 * refused: a record that cannot be written must cost its own result or logs, never the
 * records batched with it, and must still be stored (same activation id) saying why.
 */

export interface RecordBounds {
  maxBytes: number;
  maxDepth: number;
}

/** A record as swirl makes it nests a value from outside inside a few levels of its own. */
export const RECORD_BOUNDS: RecordBounds = { maxBytes: SIZES.record, maxDepth: MAX_JSON_DEPTH + ENVELOPE_DEPTH };

export const RecordMessages = {
  notStored: (why: string) => `The activation record could not be stored as it was: ${why}`,
  resultDropped: (why: string) => `The activation's result could not be stored: ${why}`,
  logsCut: (why: string) => `Logs were cut: ${why}`,
  refused: (reason: string) => `The activation store refused this record (${reason}); its logs were dropped.`,
} as const;

/** What is wrong with a record (undefined: nothing), without anything recursive touching it. */
function problem(record: ActivationRecord, bounds: RecordBounds): string | undefined {
  try {
    stringifyBounded(record, { maxDepth: bounds.maxDepth, maxBytes: bounds.maxBytes, what: 'activation record' });
    return undefined;
  } catch (e) {
    return e instanceof JsonTooDeepError ? Messages.tooDeep(e.maxDepth) : (e as Error).message;
  }
}

const logLine = (note: string) => stampLine(new Date().toISOString(), 'stderr', note);

/** Only the fields a record has: whatever else an object carries is not stored. */
function known(r: ActivationRecord): ActivationRecord {
  const { activationId, namespace, name, subject, version, publish, start, end, duration, annotations, logs, response, cause } = r;
  return { activationId, namespace, name, subject, version, publish, start, end, duration, annotations, logs, response, ...(cause !== undefined ? { cause } : {}) };
}

/** The first log lines that fit in `budget` bytes, then a line saying they were cut. */
function cutLogs(r: ActivationRecord, budget: number, why: string): ActivationRecord {
  const kept: string[] = [];
  let used = 0;
  for (const line of Array.isArray(r.logs) ? r.logs : []) {
    const size = typeof line === 'string' ? Buffer.byteLength(JSON.stringify(line)) + 1 : Infinity;
    if (used + size > budget) break;
    used += size;
    kept.push(line);
  }
  return { ...r, logs: [...kept, logLine(RecordMessages.logsCut(why))] };
}

/** The response replaced by a whisk internal error saying why (the result is what could not be stored). */
function withoutResult(r: ActivationRecord, why: string): ActivationRecord {
  return { ...r, response: { ...ActivationStatus.internalError, success: false, result: { error: RecordMessages.resultDropped(why) } } };
}

/**
 * The record itself when it is within the bounds; otherwise the closest record that is —
 * logs cut first (a record too large is nearly always its logs), then the result replaced by
 * an internal error, then both — with `why` saying what was wrong.
 */
export function fitRecord(record: ActivationRecord, bounds: RecordBounds = RECORD_BOUNDS): { record: ActivationRecord; why?: string } {
  const why = problem(record, bounds);
  if (why === undefined) return { record };
  const base = known(record);
  // what the logs may take: the bound, less everything else and room for the note
  const rest = problem({ ...base, logs: [] }, bounds) === undefined ? Buffer.byteLength(JSON.stringify({ ...base, logs: [] })) : bounds.maxBytes;
  const logBudget = bounds.maxBytes - rest - 1024;
  const candidates = [cutLogs(base, logBudget, why), withoutResult(base, why), withoutResult(cutLogs(base, bounds.maxBytes / 2, why), why)];
  const fitted = candidates.find((c) => problem(c, bounds) === undefined) ?? withoutResult({ ...base, annotations: [], logs: [logLine(RecordMessages.notStored(why))] }, why);
  return { record: fitted, why };
}

/** What to store in place of a record the store refused: its own fields, no logs, the response if it is small. */
export function refusedReplacement(record: ActivationRecord, reason: string): ActivationRecord {
  const base: ActivationRecord = { ...known(record), logs: [logLine(RecordMessages.refused(reason))] };
  return fitRecord(base, { maxBytes: SIZES.payload, maxDepth: RECORD_BOUNDS.maxDepth }).record;
}
