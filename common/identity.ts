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
  key: string;
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
  key: string;
  limits?: NamespaceLimits;
  admin?: boolean;
}

export const authKey = (i: Pick<Identity, 'uuid' | 'key'>): string => `${i.uuid}:${i.key}`;
