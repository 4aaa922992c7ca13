import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { NamespaceCredentials } from './identity.ts';

/** A new key: 64 letters and digits, like OpenWhisk's. */
export function newKey(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(64);
  let key = '';
  for (const b of bytes) key += alphabet[b % alphabet.length];
  return key;
}

/** What `uuid:key` must look like (the key part as newKey makes it, or a configured one). */
export const AUTH_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[A-Za-z0-9]{32,128}$/i;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Compare secrets in constant time, whatever their lengths. */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

const SCHEME = 'sha256';

/**
 * The stored form of a key: `sha256$<salt>$<HMAC-SHA256(salt, key)>` (base64url). A fast
 * hash is enough because keys are long and random — 64 characters of 62 letters and digits
 * (about 380 bits) — so guessing one from its hash is as hopeless as guessing it, and a slow
 * password hash would only cost every request time. The random salt makes equal keys
 * hash differently and rules out precomputed tables; the scheme name leaves room for
 * another one later. (A key an operator configures is hashed the same way, so it should be
 * as random as a generated one.)
 */
export function hashKey(key: string): string {
  const salt = randomBytes(16).toString('base64url');
  return `${SCHEME}$${salt}$${createHmac('sha256', salt).update(key).digest('base64url')}`;
}

/** Whether `key` is the one `keyHash` was made from; compared in constant time. */
export function keyMatches(key: string, keyHash: string): boolean {
  const [scheme, salt, hash] = keyHash.split('$');
  if (scheme !== SCHEME || !salt || !hash) return false;
  return sameSecret(createHmac('sha256', salt).update(key).digest('base64url'), hash);
}

/**
 * A short digest of a key hash, for what must change when the key does (tokens carry it)
 * without carrying the hash itself.
 */
export const keyDigest = (keyHash: string): string => digest(keyHash).subarray(0, 16).toString('base64url');

/**
 * Credentials for `namespace` from the given `uuid:key` or a new uuid and key: what is
 * stored (the key hashed) and the `uuid:key` to hand to the user, once.
 */
export function newCredentials(namespace: string, auth?: string, uuid: string = randomUUID()): { creds: NamespaceCredentials; auth: string } {
  const [u, key] = auth ? [auth.slice(0, auth.indexOf(':')), auth.slice(auth.indexOf(':') + 1)] : [uuid, newKey()];
  return { creds: { name: namespace, uuid: u, keyHash: hashKey(key) }, auth: `${u}:${key}` };
}
