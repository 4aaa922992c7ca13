import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { NamespaceCredentials } from './identity.ts';

/** A new key: 64 letters and digits, like OpenWhisk's. */
export function newKey(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(64);
  let key = '';
  for (const b of bytes) key += alphabet[b % alphabet.length];
  return key;
}

/** Credentials for `namespace`: the given `uuid:key`, or a new uuid and key. */
export function newCredentials(namespace: string, auth?: string): NamespaceCredentials {
  if (auth) {
    const i = auth.indexOf(':');
    return { name: namespace, uuid: auth.slice(0, i), key: auth.slice(i + 1) };
  }
  return { name: namespace, uuid: randomUUID(), key: newKey() };
}

/** What `uuid:key` must look like (the key part as newKey makes it, or a configured one). */
export const AUTH_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[A-Za-z0-9]{32,128}$/i;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Compare secrets in constant time, whatever their lengths. */
export const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));
