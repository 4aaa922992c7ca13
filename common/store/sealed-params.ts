import type { KeyValue } from '../entities.ts';
import { BadRequestError, UnsealError } from '../errors.ts';
import { SEALED_WITH, type Sealer } from '../sealing.ts';

/**
 * Parameters of actions, packages and triggers as they are kept at rest: each value sealed
 * (its JSON text, as OpenWhisk's ParameterEncryption does) and marked `encryption:
 * "aes-256"`. A sealed value belongs to one parameter of one entity (the associated data is
 * the document id and the key), so copying it to another entity — another namespace's,
 * say, from a published package — does not open it there.
 */
const aad = (id: string, key: string): string => `parameter\n${id}\n${key}`;

const sealed = (p: KeyValue): boolean => p.encryption !== undefined;

/**
 * Seal every parameter of the entity `id` (one sealed already must have been opened first):
 * with random IVs to store them, `stable` to show them (the same value shows the same).
 */
export function sealParams(sealer: Sealer, id: string, params: KeyValue[], stable = false): KeyValue[] {
  return params.map((p) => ({ key: p.key, value: sealer.seal(JSON.stringify(p.value ?? null), aad(id, p.key), stable), encryption: SEALED_WITH }));
}

function open(sealer: Sealer | undefined, id: string, p: KeyValue): KeyValue | undefined {
  if (!sealer || p.encryption !== SEALED_WITH || typeof p.value !== 'string') return undefined;
  const text = sealer.open(p.value, aad(id, p.key));
  return text === undefined ? undefined : { key: p.key, value: JSON.parse(text) as unknown };
}

/**
 * The parameters of `id` as read from the store, opened. Plain ones (written before
 * parameters were encrypted) pass as they are; without a sealer (an invoker, which does not
 * need them) sealed ones stay sealed. One that does not open is an UnsealError: a wrong
 * master key is said, not answered with garbage.
 */
export function openStoredParams(sealer: Sealer | undefined, id: string, params: KeyValue[]): KeyValue[] {
  if (!sealer) return params;
  return params.map((p) => {
    if (!sealed(p)) return p;
    const opened = open(sealer, id, p);
    if (!opened) throw new UnsealError(`The parameter '${p.key}' of '${id}'`);
    return opened;
  });
}

/**
 * The parameters a write brings for `id`, opened: a value sent back sealed, as a GET showed
 * it, must be one sealed for this very entity with this server's key (400 otherwise).
 */
export function openIncomingParams(sealer: Sealer | undefined, id: string, params: KeyValue[]): KeyValue[] {
  return params.map((p) => {
    if (!sealed(p)) return p;
    const opened = open(sealer, id, p);
    if (!opened) throw new BadRequestError(`The parameter '${p.key}' is encrypted for another entity or with another key: send its value instead.`);
    return opened;
  });
}
