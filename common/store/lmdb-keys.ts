import { type ActivationRecord, activationPath } from '../activation.ts';
import type { EntityKind } from '../entities.ts';

/**
 * The key layout of the lmdb store: every listing and query of the EntityStore is one key
 * range. Keys are strings of parts joined by NUL (no name, namespace or id holds one);
 * numbers (`updated`, `start`) are written zero-padded to a fixed width, so that byte order
 * is numeric order and a `since`/`upto` bound is a key. Each index key ends with the
 * document id, which orders ties as CouchDB's views do (by id).
 *
 * Documents (versioned: the version is the revision's number, what conflicts are checked on):
 *   w ␀ path/name                 an entity (parameters sealed; big code apart, under c)
 *   c ␀ path/name                 the code of an action kept apart (> SIZES.inlineCode)
 *   s ␀ subject                   a subject
 *   x ␀ name                      a server secret
 *   f ␀ namespace/name            a trigger's feed
 *   g ␀ namespace ␀ basePath      an API of the gateway
 *   a ␀ namespace ␀ activationId  an activation record
 * Index entries (written in the transaction that writes their document):
 *   e ␀ kind ␀ root ns ␀ updated ␀ id      entity summary, every entity of a root namespace
 *   p ␀ kind ␀ ns/pkg ␀ updated ␀ id       entity summary, the contents of one package
 *   u ␀ uuid                               { subject, namespace }
 *   n ␀ namespace                          the subject that owns it
 *   v ␀ provider ␀ feed id                 the feeds of a provider
 *   an ␀ namespace ␀ start ␀ id            activation brief, by namespace
 *   ap ␀ namespace ␀ path ␀ start ␀ id     activation brief, by (packaged) name
 */
const SEP = '\u0000';
/** Above every part that can follow a separator: a range's end (exclusive, forward) or start (reverse). */
const TOP = '\uffff';
const WIDTH = 16;

export const key = (...parts: Array<string | number>): string => parts.map((p) => (typeof p === 'number' ? pad(p) : p)).join(SEP);

/** A key as lmdb stores it: its UTF-8 bytes, compared byte by byte (lmdb's default key encoding would take NUL-separated strings for arrays). */
export const bytes = (k: string): Buffer => Buffer.from(k, 'utf8');

/** A number as fixed-width digits (what is not a finite non-negative number orders first). */
function pad(n: number): string {
  const v = Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), 10 ** WIDTH - 1) : 0;
  return String(v).padStart(WIDTH, '0');
}

export interface KeyRange {
  start: string;
  end: string;
}

/** Every key that starts with the parts (and a separator). */
export const prefixRange = (...parts: Array<string | number>): KeyRange => ({ start: key(...parts) + SEP, end: key(...parts) + SEP + TOP });

/** Keys `parts ␀ n ␀ ...` with lo ≤ n ≤ hi (hi undefined: no upper bound). */
export function numberRange(parts: Array<string | number>, lo: number, hi: number | undefined): KeyRange {
  return { start: key(...parts, lo) + SEP, end: hi === undefined ? key(...parts) + SEP + TOP : key(...parts, hi) + SEP + TOP };
}

export const docKey = {
  entity: (id: string) => key('w', id),
  code: (id: string) => key('c', id),
  subject: (subject: string) => key('s', subject),
  secret: (name: string) => key('x', name),
  feed: (id: string) => key('f', id),
  api: (namespace: string, basePath: string) => key('g', namespace, basePath),
  activation: (namespace: string, activationId: string) => key('a', namespace, activationId),
};

/** A stored entity document, as far as its listing entry and index keys need it. */
export interface EntityDoc {
  namespace: string;
  entityType: EntityKind;
  updated: number;
  exec?: { kind?: string; binary?: boolean; code?: string; attached?: boolean };
  [field: string]: unknown;
}

/** What OpenWhisk shows of an entity in a listing (design.ts ENTITY_SUMMARY): no code, no parameters. */
export function entitySummary(doc: EntityDoc): Record<string, unknown> {
  const v: Record<string, unknown> = { namespace: doc.namespace, name: doc.name, version: doc.version, publish: doc.publish, annotations: doc.annotations ?? [], updated: doc.updated };
  if (doc.entityType === 'action') Object.assign(v, { exec: { kind: doc.exec?.kind, binary: !!doc.exec?.binary }, limits: doc.limits });
  if (doc.entityType === 'rule') Object.assign(v, { status: doc.status, trigger: doc.trigger, action: doc.action });
  if (doc.entityType === 'package') v.binding = doc.binding ?? {};
  return v;
}

/** The index keys of an entity document (its listings by root namespace and by package). */
export function entityIndex(id: string, doc: EntityDoc): string[] {
  const ns = doc.namespace as string;
  const kind = doc.entityType as EntityKind;
  const keys = [key('e', kind, ns.split('/')[0]!, doc.updated, id)];
  if (ns.indexOf('/') > 0) keys.push(key('p', kind, ns, doc.updated, id));
  return keys;
}

/** A listing entry of an activation (design.ts ACTIVATION_BRIEF): no logs, no response but its status code. */
export function activationBrief(r: ActivationRecord): Record<string, unknown> {
  const v: Record<string, unknown> = { activationId: r.activationId, namespace: r.namespace, name: r.name, version: r.version, publish: r.publish, annotations: r.annotations ?? [], start: r.start, end: r.end, duration: r.duration, statusCode: r.response?.statusCode };
  if (r.cause) v.cause = r.cause;
  return v;
}

export function activationIndex(r: ActivationRecord): string[] {
  return [key('an', r.namespace, r.start, r.activationId), key('ap', r.namespace, activationPath(r), r.start, r.activationId)];
}

/** The index entries of a subject: its uuids (to the subject and namespace) and its namespaces (to the subject). */
export const subjectIndex = (s: { subject: string; namespaces?: Array<{ uuid: string; name: string }> }): Array<[string, string]> =>
  (s.namespaces ?? []).flatMap((n): Array<[string, string]> => [
    [key('u', n.uuid), JSON.stringify({ subject: s.subject, namespace: n.name })],
    [key('n', n.name), s.subject],
  ]);
