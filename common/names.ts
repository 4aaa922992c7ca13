import { BadRequestError, Messages } from './errors.ts';

/**
 * OpenWhisk entity names: first character a letter, digit or underscore, then up to 255
 * of [\w@ .&-], not ending in a space. A path (`/ns/pkg/name`) is made of such names.
 */
export const ENTITY_NAME = /^(?:\w|\w[\w@ .&-]{0,254}[\w@.&-])$/;
export const DEFAULT_NAMESPACE = '_';

export function isEntityName(s: unknown): s is string {
  return typeof s === 'string' && ENTITY_NAME.test(s);
}

export function assertEntityName(s: string, what: 'name' | 'namespace' = 'name'): string {
  if (!isEntityName(s)) throw new BadRequestError(what === 'name' ? Messages.entityNameIllegal : Messages.namespaceIllegal);
  return s;
}

/** A resolved reference: namespace, optional package, name. */
export interface QualifiedName {
  namespace: string;
  pkg?: string;
  name: string;
}

/** The `namespace` field stored on an entity: `ns` or `ns/pkg`. */
export const entityPath = (q: Pick<QualifiedName, 'namespace' | 'pkg'>): string => (q.pkg ? `${q.namespace}/${q.pkg}` : q.namespace);

/** `/ns/name` or `/ns/pkg/name`. */
export const qualifiedString = (q: QualifiedName): string => `/${entityPath(q)}/${q.name}`;

/**
 * Parse a reference the way wsk and OpenWhisk do:
 * `name`, `pkg/name` (caller's namespace), `/ns/name`, `/ns/pkg/name`; `_` as the
 * namespace means the caller's. Throws a 400 naming the problem.
 */
export function parseQualifiedName(ref: string, callerNamespace: string): QualifiedName {
  if (typeof ref !== 'string' || ref.length === 0) throw new BadRequestError('The fully qualified name of the entity must contain at least the namespace and the name of the entity.');
  const absolute = ref.startsWith('/');
  const parts = (absolute ? ref.slice(1) : ref).split('/');
  let namespace: string;
  let rest: string[];
  if (absolute) {
    if (parts.length < 2 || parts.length > 3) throw new BadRequestError(`The name '${ref}' is not a valid fully qualified name: expected /namespace/name or /namespace/package/name.`);
    namespace = parts[0] === DEFAULT_NAMESPACE ? callerNamespace : parts[0]!;
    rest = parts.slice(1);
  } else {
    if (parts.length > 2) throw new BadRequestError(`The name '${ref}' is not valid: expected name or package/name.`);
    namespace = callerNamespace;
    rest = parts;
  }
  assertEntityName(namespace, 'namespace');
  rest.forEach((p) => assertEntityName(p));
  return rest.length === 2 ? { namespace, pkg: rest[0]!, name: rest[1]! } : { namespace, name: rest[0]! };
}
