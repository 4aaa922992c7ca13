import { parseQualifiedName, type QualifiedName, qualifiedString } from '../common/names.ts';
import { UsageError } from './errors.ts';

export type Collection = 'actions' | 'triggers' | 'rules' | 'packages';

/**
 * A name as wsk takes it: `name`, `pkg/name` (actions only), `/ns/name`, `/ns/pkg/name`;
 * a relative name is in `namespace` (the configured one, `_` by default).
 */
export function qualify(ref: string, namespace: string, collection: Collection = 'actions'): QualifiedName {
  const q = parseQualifiedName(ref, namespace);
  if (q.pkg && collection !== 'actions') throw new UsageError(`A ${collection.slice(0, -1)} cannot be inside a package: '${ref}'.`);
  return q;
}

/** `/_/hello`, `/guest/pkg/hello`: how wsk names an entity in its messages. */
export const fqn = qualifiedString;

const enc = encodeURIComponent;

/** The API path of an entity: `/namespaces/{ns}/{collection}/[{pkg}/]{name}`. */
export const entityPath = (collection: Collection, q: QualifiedName): string => `/namespaces/${enc(q.namespace)}/${collection}/${q.pkg ? `${enc(q.pkg)}/` : ''}${enc(q.name)}`;

/** The API path of a collection in a namespace (optionally of a package's actions). */
export const collectionPath = (collection: Collection, namespace: string, pkg?: string): string => `/namespaces/${enc(namespace)}/${collection}${pkg ? `/${enc(pkg)}/` : ''}`;
