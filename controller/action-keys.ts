import { createHmac } from 'node:crypto';
import { sameSecret } from '../common/credentials.ts';
import type { Identity } from '../common/identity.ts';

/**
 * The key an action annotated `provide-api-key` gets as `__OW_API_KEY`. OpenWhisk hands the
 * namespace's own key; swirl keeps only its hash, so it hands a key it can check instead:
 * `uuid:` + HMAC(server secret, uuid + key hash), 64 hex characters — within the key
 * alphabet, so clients send it as Basic `uuid:key` like any key. It acts as the namespace,
 * for as long as the namespace keeps its key (feed providers keep what they are given to
 * fire triggers later); a new key for the namespace, or deleting its user, ends it.
 */
export class ActionKeys {
  constructor(private readonly secret: string) {}

  private derive(i: Pick<Identity, 'uuid' | 'keyHash'>): string {
    return createHmac('sha256', this.secret).update(`${i.uuid}\n${i.keyHash}`).digest('hex');
  }

  /** `uuid:key` for actions of this identity's namespace. */
  keyFor(i: Pick<Identity, 'uuid' | 'keyHash'>): string {
    return `${i.uuid}:${this.derive(i)}`;
  }

  /** Whether `key` (the part after `uuid:`) is the action key of this identity; constant time. */
  matches(i: Pick<Identity, 'uuid' | 'keyHash'>, key: string): boolean {
    return sameSecret(this.derive(i), key);
  }
}
