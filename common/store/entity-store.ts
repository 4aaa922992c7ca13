import type { ActivationQuery, ActivationRecord } from '../activation.ts';
import type { ApiDoc, StoredApi } from '../api-doc.ts';
import type { EntityKind, EntityOf, EntitySummary, KeyValue, Stored } from '../entities.ts';
import { ConflictError, Messages, NotFoundError } from '../errors.ts';
import type { FeedDoc, StoredFeed } from '../feed.ts';
import type { Subject } from '../identity.ts';

export interface ListOptions {
  limit: number;
  skip: number;
}

/** Where to list: a whole namespace (including packaged actions), or one package's contents. */
export interface ListScope {
  namespace: string;
  pkg?: string;
}

/** A record the store would not take, and the store's reason. */
export interface RefusedRecord {
  record: ActivationRecord;
  reason: string;
}

export interface GetOptions {
  /** Load action code kept as an attachment (default true). An entity read without it must not be written back. */
  code?: boolean;
}

/**
 * Persistence for swirl: entities (whisks), identities (subjects) and activation records.
 * Errors are the catalogue's: NotFoundError, ConflictError (409: stale revision, name
 * taken, or taken by another kind), ServiceUnavailableError (store unreachable).
 */
export interface EntityStore {
  /** Create databases and design documents when missing or out of date. Idempotent. */
  init(): Promise<void>;
  /** Whether the store answers now (for /ready). */
  ping(): Promise<boolean>;

  /** Read an entity by its path (`ns` or `ns/pkg`) and name. A different kind under the name is a 409. */
  get<K extends EntityKind>(kind: K, path: string, name: string, opts?: GetOptions): Promise<Stored<EntityOf[K]>>;
  /** Read whatever entity is stored under the name, or undefined. */
  find(path: string, name: string, opts?: GetOptions): Promise<Stored | undefined>;
  /**
   * Create (no `rev`) or replace (with the current `rev`) an entity. Creating over an
   * existing name, or replacing with a stale revision, is a 409. Parameters are encrypted
   * at rest (get and find open them); one sent back sealed must be this entity's (else 400).
   */
  put<K extends EntityKind>(kind: K, entity: EntityOf[K], rev?: string): Promise<Stored<EntityOf[K]>>;
  /** Delete the entity at the given revision, as read by get() (stale → 409, missing → 404). */
  delete(path: string, name: string, rev: string): Promise<void>;
  /** Entities of a kind, newest first, as listing summaries. */
  list(kind: EntityKind, scope: ListScope, opts: ListOptions): Promise<EntitySummary[]>;
  count(kind: EntityKind, scope: ListScope): Promise<number>;

  getSubject(subject: string): Promise<(Subject & { _rev: string }) | undefined>;
  /** Create (no rev) or replace a subject; a uuid or namespace already used by another subject is a 409. */
  putSubject(subject: Subject, rev?: string): Promise<void>;
  deleteSubject(subject: string): Promise<void>;
  listSubjects(): Promise<Subject[]>;
  /** The subject and namespace that own the uuid, or undefined. */
  subjectByUuid(uuid: string): Promise<{ subject: Subject; namespace: string } | undefined>;
  /** The subject that owns a namespace, or undefined. */
  subjectByNamespace(namespace: string): Promise<Subject | undefined>;

  /**
   * Store activation records in one batch (`_bulk_docs`). Resolves with the records the store
   * refused one by one for what they hold (too large, invalid): the others are stored. A
   * record stored already counts as stored. An unreachable store rejects the whole batch.
   */
  putActivations(records: ActivationRecord[]): Promise<RefusedRecord[]>;
  getActivation(namespace: string, activationId: string): Promise<ActivationRecord>;
  /** Newest first; brief records (no logs, no response), or the full records with `docs: true`. */
  listActivations(namespace: string, query: ActivationQuery & { docs?: boolean }): Promise<ActivationRecord[]>;
  countActivations(namespace: string, query: Omit<ActivationQuery, 'skip' | 'limit'>): Promise<number>;
  /** Remove every record of a namespace (a disposable namespace's, when it goes); resolves with how many. */
  deleteActivations(namespace: string): Promise<number>;

  /** The feed of the trigger `namespace/name`, or undefined. */
  getFeed(namespace: string, name: string): Promise<StoredFeed | undefined>;
  /** Create (no rev; an existing one is a 409) or replace (current rev; stale → 409) a trigger's feed. */
  putFeed(feed: FeedDoc, rev?: string): Promise<StoredFeed>;
  /** Delete a feed at the revision read (stale → 409, missing → 404). */
  deleteFeed(namespace: string, name: string, rev: string): Promise<void>;
  /** Every feed of a provider (every controller runs them all). */
  listFeeds(provider: string): Promise<StoredFeed[]>;

  /** The API of a namespace at a base path, or undefined. */
  getApi(namespace: string, basePath: string): Promise<StoredApi | undefined>;
  /** Create (no rev; an existing one is a 409) or replace (current rev; stale → 409) an API. */
  putApi(api: ApiDoc, rev?: string): Promise<StoredApi>;
  /** Delete an API at the revision read (stale → 409, missing → 404). */
  deleteApi(namespace: string, basePath: string, rev: string): Promise<void>;
  /** Every API of a namespace, by base path. */
  listApis(namespace: string): Promise<StoredApi[]>;

  /**
   * Parameters of the entity `path/name` as they are kept at rest: sealed (`encryption:
   * "aes-256"`) when the store encrypts parameters. The API shows them so, as OpenWhisk does.
   */
  sealedParameters(path: string, name: string, params: KeyValue[]): KeyValue[];

  /** A server-wide secret (JWT key...), created with `make()` the first time it is asked for; kept encrypted when the store encrypts. */
  secret(name: string, make: () => string): Promise<string>;

  close(): Promise<void>;
}

/** What get() answers for what find() found: the entity when it is of the kind, else a 404 (none) or a 409 (another kind). */
export function ofKind<K extends EntityKind>(kind: K, doc: Stored | undefined): Stored<EntityOf[K]> {
  if (!doc) throw new NotFoundError();
  if (doc.entityType !== kind) throw new ConflictError(Messages.conformance);
  return doc as unknown as Stored<EntityOf[K]>;
}
