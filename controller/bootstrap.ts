import { randomBytes } from 'node:crypto';
import type { Config } from '../common/config.ts';
import { keyMatches, newCredentials } from '../common/credentials.ts';
import { ConflictError } from '../common/errors.ts';
import { guestKeyPath, readGuestKey, writeGuestKey } from '../common/guest-key.ts';
import { type Identity, identityOf } from '../common/identity.ts';
import type { Logger } from '../common/logger.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import { hashStoredKeys } from './key-migration.ts';

type GuestConfig = Pick<Config, 'guestKey' | 'guestNamespace' | 'dataDir'>;

export interface Guest {
  identity: Identity;
  /** `uuid:key`, when this call made the key (the one time it is shown). */
  issued?: string;
}

/** Whether `auth` (`uuid:key`) is the key of `ns`. */
const isKeyOf = (auth: string, ns: { uuid: string; keyHash?: string }): boolean => {
  const colon = auth.indexOf(':');
  return auth.slice(0, colon) === ns.uuid && !!ns.keyHash && keyMatches(auth.slice(colon + 1), ns.keyHash);
};

/**
 * Make sure the guest identity exists: created on first start with `guestKey`, or with a new
 * key that is returned (to be shown once) and kept in `<dataDir>/guest.key` (0600) — the
 * store keeps only its hash. When `guestKey` is set and is not the stored key, the stored
 * key is replaced.
 */
export async function ensureGuest(store: EntityStore, config: GuestConfig, attempts = 3): Promise<Guest> {
  const subject = config.guestNamespace;
  const existing = await store.getSubject(subject);
  const current = existing?.namespaces.find((n) => n.name === config.guestNamespace);
  if (existing && current?.keyHash && (!config.guestKey || isKeyOf(config.guestKey, current))) return { identity: identityOf(existing, current) };
  const { creds, auth } = newCredentials(config.guestNamespace, config.guestKey);
  const kept = { ...creds, ...(current?.limits ? { limits: current.limits } : {}) };
  const others = existing?.namespaces.filter((n) => n.name !== config.guestNamespace) ?? [];
  try {
    await store.putSubject({ subject, namespaces: [...others, kept] }, existing?._rev);
  } catch (e) {
    // another controller starting at the same time wrote it first: take what it wrote
    if (e instanceof ConflictError && attempts > 1) return ensureGuest(store, config, attempts - 1);
    throw e;
  }
  const identity = identityOf({ subject, namespaces: [kept] }, kept);
  if (config.guestKey) return { identity };
  writeGuestKey(config.dataDir, auth);
  return { identity, issued: auth };
}

/** What a starting server says about the guest key: the key only when it was just made. */
export function guestKeyLines(guest: Guest, config: GuestConfig): string[] {
  const file = guestKeyPath(config.dataDir);
  if (guest.issued) return [`guest key: ${guest.issued}`, `(shown this once; kept in ${file}, readable by this user only)`];
  if (config.guestKey) return ['guest key: the configured one (SWIRL_GUEST_KEY)'];
  const kept = readGuestKey(config.dataDir);
  if (kept && isKeyOf(kept, guest.identity)) return [`guest key: kept in ${file}`];
  return [`guest key: not kept on this machine${kept ? ` (${file} holds an old one)` : ''}; \`npm run admin -- user key ${guest.identity.subject}\` issues a new one`];
}

/**
 * What a controller does to its store before serving: keys stored in plain text by older
 * versions are hashed, and the guest identity is made sure of.
 */
export async function prepareStore(store: EntityStore, config: GuestConfig, log: Logger): Promise<Guest> {
  await hashStoredKeys(store, log);
  return ensureGuest(store, config);
}

const randomSecret = (): string => randomBytes(48).toString('base64url');

/** The server's secrets, shared by every controller through the store: the HMAC keys of Bearer tokens (unless configured) and of action keys. */
export async function serverSecrets(store: EntityStore, config: Pick<Config, 'jwtSecret'>): Promise<{ jwt: string; actionKey: string }> {
  return { jwt: config.jwtSecret ?? (await store.secret('jwt', randomSecret)), actionKey: await store.secret('action-key', randomSecret) };
}
