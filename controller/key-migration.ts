import { hashKey } from '../common/credentials.ts';
import { ConflictError } from '../common/errors.ts';
import type { NamespaceCredentials, Subject } from '../common/identity.ts';
import type { Logger } from '../common/logger.ts';
import type { EntityStore } from '../common/store/entity-store.ts';

/** A namespace as stores before hashed keys kept it: the key in plain text. */
type Legacy = Omit<NamespaceCredentials, 'keyHash'> & { key?: string; keyHash?: string };

const plain = (s: Subject): boolean => (s.namespaces as Legacy[]).some((n) => typeof n.key === 'string');

/** The subject with each plain key replaced by its hash. */
function hashed(s: Subject): Subject {
  const namespaces = (s.namespaces as Legacy[]).map(({ key, ...n }) => (typeof key === 'string' ? { ...n, keyHash: hashKey(key) } : n) as NamespaceCredentials);
  return { ...s, namespaces };
}

/**
 * Replace the plain keys of subjects written before keys were hashed, at controller start,
 * so every key keeps working. Idempotent (a hashed subject is left alone), and safe with
 * several controllers starting at once: a subject changed meanwhile is read again.
 */
export async function hashStoredKeys(store: Pick<EntityStore, 'listSubjects' | 'getSubject' | 'putSubject'>, log: Logger): Promise<number> {
  let count = 0;
  for (const listed of (await store.listSubjects()).filter(plain)) {
    for (let attempt = 0; ; attempt++) {
      const current = await store.getSubject(listed.subject);
      if (!current || !plain(current)) break;
      const { _rev, ...subject } = current;
      try {
        await store.putSubject(hashed(subject), _rev);
        count++;
        break;
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= 4) throw e;
      }
    }
  }
  if (count) log.info({ subjects: count }, 'stored keys replaced by their hashes');
  return count;
}
