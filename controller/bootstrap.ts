import { randomBytes } from 'node:crypto';
import type { Config } from '../common/config.ts';
import { newCredentials } from '../common/credentials.ts';
import { ConflictError } from '../common/errors.ts';
import type { Identity } from '../common/identity.ts';
import type { EntityStore } from '../common/store/entity-store.ts';

/**
 * Make sure the guest identity exists: created on first start with `guestKey` (or a new
 * key, kept in the store so it survives restarts); when `guestKey` is set and differs
 * from what is stored, the stored key is replaced.
 */
export async function ensureGuest(store: EntityStore, config: Pick<Config, 'guestKey' | 'guestNamespace'>, attempts = 3): Promise<Identity> {
  const subject = config.guestNamespace;
  const existing = await store.getSubject(subject);
  const current = existing?.namespaces.find((n) => n.name === config.guestNamespace);
  if (existing && current && (!config.guestKey || config.guestKey === `${current.uuid}:${current.key}`)) {
    return { subject, namespace: current.name, uuid: current.uuid, key: current.key };
  }
  const creds = { ...newCredentials(config.guestNamespace, config.guestKey), ...(current?.limits ? { limits: current.limits } : {}) };
  const others = existing?.namespaces.filter((n) => n.name !== config.guestNamespace) ?? [];
  try {
    await store.putSubject({ subject, namespaces: [...others, creds] }, existing?._rev);
  } catch (e) {
    // another controller starting at the same time wrote it first: take what it wrote
    if (e instanceof ConflictError && attempts > 1) return ensureGuest(store, config, attempts - 1);
    throw e;
  }
  return { subject, namespace: creds.name, uuid: creds.uuid, key: creds.key };
}

/** The HMAC secret for Bearer tokens: configured, or generated once and shared through the store. */
export async function tokenSecret(store: EntityStore, config: Pick<Config, 'jwtSecret'>): Promise<string> {
  return config.jwtSecret ?? store.secret('jwt', () => randomBytes(48).toString('base64url'));
}
