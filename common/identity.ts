/** Namespace throttles kept with the identity (issue: throttles); absent means the configured defaults. */
export interface NamespaceLimits {
  invocationsPerMinute?: number;
  concurrentInvocations?: number;
  firesPerMinute?: number;
}

/** One namespace a subject owns, with the credentials that act in it. */
export interface NamespaceCredentials {
  name: string;
  uuid: string;
  /** The key, hashed (common/credentials.ts hashKey): the key itself is never stored. */
  keyHash: string;
  limits?: NamespaceLimits;
}

/** A user (subject) as stored in the subjects database. */
export interface Subject {
  subject: string;
  namespaces: NamespaceCredentials[];
  blocked?: boolean;
  /** May use the operator routes (`/api/v1/invokers`...). Set with `swirl admin user create --admin`. */
  admin?: boolean;
}

/** The authenticated caller of a request: a subject acting in one namespace. */
export interface Identity {
  subject: string;
  namespace: string;
  uuid: string;
  /** The namespace's key hash: what tokens and action keys are tied to, so that they die with the key. */
  keyHash: string;
  limits?: NamespaceLimits;
  admin?: boolean;
}

/** The identity of `ns` of `subject`. */
export const identityOf = (subject: Subject, ns: NamespaceCredentials): Identity => ({
  subject: subject.subject,
  namespace: ns.name,
  uuid: ns.uuid,
  keyHash: ns.keyHash,
  ...(ns.limits ? { limits: ns.limits } : {}),
  ...(subject.admin ? { admin: true } : {}),
});
