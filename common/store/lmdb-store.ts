import { mkdirSync } from 'node:fs';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { ActivationQuery, ActivationRecord } from '../activation.ts';
import type { Action, EntityKind, EntityOf, EntitySummary, KeyValue, Stored } from '../entities.ts';
import { ConflictError, Messages, NotFoundError, ServiceUnavailableError, SwirlError, UnsealError } from '../errors.ts';
import { type FeedDoc, feedId, type StoredFeed } from '../feed.ts';
import { type ApiDoc, type StoredApi } from '../api-doc.ts';
import type { Subject } from '../identity.ts';
import { SIZES } from '../limits.ts';
import { entityPath } from '../names.ts';
import type { Sealer } from '../sealing.ts';
import type { DatabaseName } from './design.ts';
import { type EntityStore, type GetOptions, type ListOptions, type ListScope, ofKind, type RefusedRecord } from './entity-store.ts';
import { activationBrief, activationIndex, bytes, docKey, type EntityDoc, entityIndex, entitySummary, type KeyRange, key, numberRange, prefixRange, subjectIndex } from './lmdb-keys.ts';
import { openIncomingParams, openStoredParams, sealParams } from './sealed-params.ts';

/** A document as stored: its fields and its revision. */
type Doc = Record<string, unknown> & { _rev?: string; exec?: { attached?: boolean }; provider?: string };

/** How the CouchDB store names what it keeps apart (for importDocs). */
const SECRET_PREFIX = 'swirl:secret:';
const CODE_ATTACHMENT = 'codefile';

/**
 * The largest record taken: what swirl makes a record fit in (common/record-fit.ts); one
 * above it is refused (`document_too_large`, CouchDB's word), so that it is replaced by a
 * reduced record rather than kept whole.
 */
const MAX_RECORD_BYTES = SIZES.record;

/** Revisions as CouchDB shows them (`<generation>-<tag>`); the tag is the entry's lmdb version, what a write is conditional on. */
let lastVersion = 0;
function nextVersion(): number {
  lastVersion = Math.max(Date.now() * 1000, lastVersion + 1);
  return lastVersion;
}
const revOf = (generation: number, version: number): string => `${generation}-${version.toString(36)}`;
function parseRev(rev: string | undefined): { generation: number; version: number } | undefined {
  const m = rev === undefined ? null : /^(\d+)-([0-9a-z]{1,12})$/.exec(rev);
  return m ? { generation: Number(m[1]), version: parseInt(m[2]!, 36) } : undefined;
}

/** What a write of a new revision does inside its transaction. */
type Writes = (version: number) => void;

/** One lmdb database with string keys, stored as their bytes (lmdb-keys.ts). */
class Table {
  constructor(private readonly db: Database<string, Buffer>) {}
  get = (k: string): string | undefined => this.db.get(bytes(k));
  getEntry = (k: string): { value: string; version?: number } | undefined => this.db.getEntry(bytes(k));
  put = (k: string, value: string, version?: number): void => void (version === undefined ? this.db.put(bytes(k), value) : this.db.put(bytes(k), value, version));
  remove = (k: string): void => void this.db.remove(bytes(k));
  /** remove(), resolving once committed (true: it was there). */
  removed = (k: string): Promise<boolean> => this.db.remove(bytes(k));
  ifVersion = (k: string, version: number, writes: () => void): Promise<boolean> => this.db.ifVersion(bytes(k), version, writes);
  ifNoExists = (k: string, writes: () => void): Promise<boolean> => this.db.ifNoExists(bytes(k), writes);
  getCount = (r: KeyRange): number => this.db.getCount({ start: bytes(r.start), end: bytes(r.end) });
  /** Entries in a range; `reverse` goes from its end to its start. */
  *getRange(r: KeyRange, opts: { reverse?: boolean; offset?: number; limit?: number } = {}): Generator<{ key: string; value: string }> {
    const [start, end] = opts.reverse ? [r.end, r.start] : [r.start, r.end];
    for (const e of this.db.getRange({ start: bytes(start), end: bytes(end), ...opts })) yield { key: e.key.toString('utf8'), value: e.value };
  }
}

const unavailable = (e: unknown): Error => (e instanceof SwirlError ? e : new ServiceUnavailableError(Messages.unavailable('The entity store'), { cause: e }));

/**
 * EntityStore in this process on lmdb (an embedded, memory-mapped, ordered key-value store),
 * for standalone: no HTTP hop, reads are synchronous lookups, and every listing is a key
 * range (lmdb-keys.ts). A write resolves once lmdb has committed it and flushed it to disk;
 * index entries are written in the same transaction as their document. Conflicts are checked
 * by lmdb itself (ifVersion / ifNoExists at commit), so another process on the same files
 * (the admin command beside a running server) is safe. Parameters and secrets are sealed as
 * CouchStore seals them (same associated data), so what the API shows is the same.
 */
export class LmdbStore implements EntityStore {
  private closed = false;

  private constructor(
    private readonly root: RootDatabase,
    /** Documents, versioned. */
    private readonly docs: Table,
    /** Index entries. */
    private readonly index: Table,
    private readonly sealer?: Sealer,
  ) {}

  /** Open (creating) the store in `dir`. */
  static open(dir: string, sealer?: Sealer): LmdbStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // (writes are flushed to disk before their promise resolves: lmdb's default, kept)
    const root = open({ path: dir, noSubdir: false, maxDbs: 4, encoding: 'string' });
    const docs = root.openDB<string, Buffer>({ name: 'docs', encoding: 'string', keyEncoding: 'binary', useVersions: true });
    const index = root.openDB<string, Buffer>({ name: 'index', encoding: 'string', keyEncoding: 'binary' });
    return new LmdbStore(root, new Table(docs), new Table(index), sealer);
  }

  async init(): Promise<void> {
    // nothing to create: the databases exist once opened
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  // ---------------------------------------------------------------------------------- documents

  private read(k: string): { doc: Doc; version: number } | undefined {
    const entry = this.docs.getEntry(k);
    return entry?.value === undefined ? undefined : { doc: JSON.parse(entry.value) as Doc, version: entry.version ?? 0 };
  }

  /**
   * Write a new revision of the document at `k`: created when `rev` is undefined (false when
   * one exists), else replacing revision `rev` (false when it is not the current one). `writes`
   * runs in the transaction, given the new version.
   */
  private async write(k: string, rev: string | undefined, writes: Writes): Promise<boolean> {
    const version = nextVersion();
    const parsed = parseRev(rev);
    if (rev !== undefined && !parsed) return false;
    try {
      return await (parsed ? this.docs.ifVersion(k, parsed.version, () => writes(version)) : this.docs.ifNoExists(k, () => writes(version)));
    } catch (e) {
      throw unavailable(e);
    }
  }

  private nextRev(rev: string | undefined, version: number): string {
    return revOf((parseRev(rev)?.generation ?? 0) + 1, version);
  }

  /** Index entries' values in a key range, in order (reverse: from the end), with skip and limit. */
  private rows(range: KeyRange, opts: { reverse?: boolean; skip?: number; limit?: number } = {}): string[] {
    const out: string[] = [];
    for (const { value } of this.index.getRange(range, { reverse: !!opts.reverse, offset: opts.skip ?? 0, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) })) out.push(value);
    return out;
  }

  private keys(range: KeyRange): string[] {
    return [...this.index.getRange(range)].map((e) => e.key);
  }

  // ---------------------------------------------------------------------------------- entities

  async find(path: string, name: string, opts: GetOptions = {}): Promise<Stored | undefined> {
    const id = `${path}/${name}`;
    const found = this.read(docKey.entity(id));
    if (!found) return undefined;
    const doc = found.doc;
    if (Array.isArray(doc.parameters)) doc.parameters = openStoredParams(this.sealer, id, doc.parameters as KeyValue[]);
    const exec = doc.exec as (Action['exec'] & { attached?: boolean }) | undefined;
    if (exec?.attached) {
      delete exec.attached;
      if (opts.code !== false) exec.code = this.docs.get(docKey.code(id)) ?? '';
    }
    return doc as unknown as Stored;
  }

  async get<K extends EntityKind>(kind: K, path: string, name: string, opts?: GetOptions): Promise<Stored<EntityOf[K]>> {
    return ofKind(kind, await this.find(path, name, opts));
  }

  async put<K extends EntityKind>(kind: K, entity: EntityOf[K], rev?: string): Promise<Stored<EntityOf[K]>> {
    const id = `${entity.namespace}/${entity.name}`;
    const { _rev: _r, ...fields } = entity as unknown as Doc;
    const doc = { ...fields, entityType: kind } as EntityDoc;
    const params = (entity as { parameters?: KeyValue[] }).parameters;
    const plainParams = Array.isArray(params) ? openIncomingParams(this.sealer, id, params) : undefined;
    if (plainParams) doc.parameters = this.sealer ? sealParams(this.sealer, id, plainParams) : plainParams;
    const exec = (entity as Partial<Action>).exec;
    const code = exec?.code !== undefined && Buffer.byteLength(exec.code) > SIZES.inlineCode ? exec.code : undefined;
    if (code !== undefined) doc.exec = { ...exec, code: undefined, attached: true };
    const current = this.read(docKey.entity(id));
    let newRev = '';
    const written = await this.write(docKey.entity(id), rev, (version) => {
      newRev = this.nextRev(rev, version);
      this.dropEntity(id, current?.doc as EntityDoc | undefined);
      this.docs.put(docKey.entity(id), JSON.stringify({ ...doc, _rev: newRev }), version);
      if (code !== undefined) this.docs.put(docKey.code(id), code);
      const summary = JSON.stringify(entitySummary(doc));
      for (const k of entityIndex(id, doc)) this.index.put(k, summary);
    });
    if (!written) {
      const existing = this.read(docKey.entity(id))?.doc;
      throw new ConflictError(rev === undefined ? (existing && existing.entityType !== kind ? Messages.conformance : Messages.entityExists) : undefined);
    }
    return { ...fields, entityType: kind, ...(plainParams ? { parameters: plainParams } : {}), _rev: newRev } as unknown as Stored<EntityOf[K]>;
  }

  /** Remove (in the transaction) what an entity document has beside itself: its index entries and its code. */
  private dropEntity(id: string, doc: EntityDoc | undefined): void {
    if (!doc) return;
    for (const k of entityIndex(id, doc)) this.index.remove(k);
    if (doc.exec?.attached) this.docs.remove(docKey.code(id));
  }

  async delete(path: string, name: string, rev: string): Promise<void> {
    const id = `${path}/${name}`;
    const current = this.read(docKey.entity(id));
    if (!current) throw new NotFoundError();
    const removed = await this.write(docKey.entity(id), rev, () => {
      this.dropEntity(id, current.doc as EntityDoc);
      this.docs.remove(docKey.entity(id));
    });
    if (!removed) throw this.read(docKey.entity(id)) ? new ConflictError() : new NotFoundError();
  }

  private entityRange(kind: EntityKind, scope: ListScope): KeyRange {
    return scope.pkg ? prefixRange('p', kind, entityPath(scope)) : prefixRange('e', kind, scope.namespace);
  }

  async list(kind: EntityKind, scope: ListScope, opts: ListOptions): Promise<EntitySummary[]> {
    return this.rows(this.entityRange(kind, scope), { reverse: true, skip: opts.skip, limit: opts.limit }).map((v) => JSON.parse(v) as EntitySummary);
  }

  async count(kind: EntityKind, scope: ListScope): Promise<number> {
    return this.index.getCount(this.entityRange(kind, scope));
  }

  // ---------------------------------------------------------------------------------- subjects

  async getSubject(subject: string): Promise<(Subject & { _rev: string }) | undefined> {
    return this.read(docKey.subject(subject))?.doc as (Subject & { _rev: string }) | undefined;
  }

  private subjectContent(name: string): Subject | undefined {
    const doc = this.read(docKey.subject(name))?.doc;
    if (!doc) return undefined;
    const { _rev: _r, ...subject } = doc;
    return subject as unknown as Subject;
  }

  async putSubject(subject: Subject, rev?: string): Promise<void> {
    for (const ns of subject.namespaces) {
      const byUuid = await this.subjectByUuid(ns.uuid);
      if (byUuid && byUuid.subject.subject !== subject.subject) throw new ConflictError(`The uuid ${ns.uuid} already belongs to another subject.`);
      const byNs = this.index.get(key('n', ns.name));
      if (byNs !== undefined && byNs !== subject.subject) throw new ConflictError(`The namespace ${ns.name} already belongs to another subject.`);
    }
    const k = docKey.subject(subject.subject);
    const current = this.read(k);
    const { _rev: _r, ...fields } = subject as Subject & { _rev?: string };
    const written = await this.write(k, rev, (version) => {
      for (const [ik] of current ? subjectIndex(current.doc as unknown as Subject) : []) this.index.remove(ik);
      this.docs.put(k, JSON.stringify({ ...fields, _rev: this.nextRev(rev, version) }), version);
      for (const [ik, value] of subjectIndex(subject)) this.index.put(ik, value);
    });
    if (!written) throw new ConflictError(rev === undefined ? `The subject ${subject.subject} already exists.` : undefined);
  }

  async deleteSubject(subject: string): Promise<void> {
    const k = docKey.subject(subject);
    const current = this.read(k);
    if (!current) throw new NotFoundError(`The subject ${subject} does not exist.`);
    const removed = await this.write(k, current.doc._rev as string, () => {
      for (const [ik] of subjectIndex(current.doc as unknown as Subject)) this.index.remove(ik);
      this.docs.remove(k);
    });
    if (!removed) throw new ConflictError();
  }

  async listSubjects(): Promise<Subject[]> {
    const out: Subject[] = [];
    for (const { key: k } of this.docs.getRange(prefixRange('s'))) {
      const s = this.subjectContent(k.slice(2));
      if (s) out.push(s);
    }
    return out;
  }

  async subjectByUuid(uuid: string): Promise<{ subject: Subject; namespace: string } | undefined> {
    const entry = this.index.get(key('u', uuid));
    if (entry === undefined) return undefined;
    const { subject, namespace } = JSON.parse(entry) as { subject: string; namespace: string };
    const found = this.subjectContent(subject);
    return found && { subject: found, namespace };
  }

  async subjectByNamespace(namespace: string): Promise<Subject | undefined> {
    const subject = this.index.get(key('n', namespace));
    return subject === undefined ? undefined : this.subjectContent(subject);
  }

  sealedParameters(path: string, name: string, params: KeyValue[]): KeyValue[] {
    return this.sealer ? sealParams(this.sealer, `${path}/${name}`, params, true) : params;
  }

  /** As CouchStore.secret: kept sealed with a sealer; one kept in plain text (by a store without one) is replaced. */
  async secret(name: string, make: () => string): Promise<string> {
    const k = docKey.secret(name);
    const aad = `secret\n${name}`;
    for (;;) {
      const current = this.read(k)?.doc;
      if (current && typeof current.sealed === 'string') {
        const opened = this.sealer?.open(current.sealed, aad);
        if (opened === undefined) throw new UnsealError(`The server secret '${name}'`);
        return opened;
      }
      if (current && !this.sealer) return current.value as string;
      const value = make();
      const held = this.sealer ? { sealed: this.sealer.seal(value, aad) } : { value };
      // a concurrent first start (or replacement) that wrote first wins: read theirs
      if (await this.write(k, current?._rev as string | undefined, (version) => this.docs.put(k, JSON.stringify({ ...held, _rev: this.nextRev(current?._rev as string | undefined, version) }), version))) return value;
    }
  }

  // ---------------------------------------------------------------------------------- feeds

  async getFeed(namespace: string, name: string): Promise<StoredFeed | undefined> {
    return this.read(docKey.feed(feedId({ namespace, name })))?.doc as StoredFeed | undefined;
  }

  async putFeed(feed: FeedDoc, rev?: string): Promise<StoredFeed> {
    const id = feedId(feed);
    const k = docKey.feed(id);
    const { _rev: _r, ...fields } = feed as FeedDoc & { _rev?: string };
    const current = this.read(k);
    let newRev = '';
    const written = await this.write(k, rev, (version) => {
      newRev = this.nextRev(rev, version);
      if (current) this.index.remove(key('v', current.doc.provider as string, id));
      this.docs.put(k, JSON.stringify({ ...fields, _rev: newRev }), version);
      this.index.put(key('v', feed.provider, id), '');
    });
    if (!written) throw new ConflictError();
    return { ...fields, _rev: newRev };
  }

  async deleteFeed(namespace: string, name: string, rev: string): Promise<void> {
    const id = feedId({ namespace, name });
    const k = docKey.feed(id);
    const current = this.read(k);
    if (!current) throw new NotFoundError();
    const removed = await this.write(k, rev, () => {
      this.index.remove(key('v', current.doc.provider as string, id));
      this.docs.remove(k);
    });
    if (!removed) throw this.read(k) ? new ConflictError() : new NotFoundError();
  }

  async listFeeds(provider: string): Promise<StoredFeed[]> {
    const prefix = key('v', provider) + '\u0000';
    return this.keys(prefixRange('v', provider)).flatMap((k) => {
      const doc = this.read(docKey.feed(k.slice(prefix.length)))?.doc;
      return doc ? [doc as unknown as StoredFeed] : [];
    });
  }

  // ---------------------------------------------------------------------------------- gateway APIs

  async getApi(namespace: string, basePath: string): Promise<StoredApi | undefined> {
    return this.read(docKey.api(namespace, basePath))?.doc as StoredApi | undefined;
  }

  async putApi(api: ApiDoc, rev?: string): Promise<StoredApi> {
    const k = docKey.api(api.namespace, api.basePath);
    const { _rev: _r, ...fields } = api as ApiDoc & { _rev?: string };
    let newRev = '';
    const written = await this.write(k, rev, (version) => {
      newRev = this.nextRev(rev, version);
      this.docs.put(k, JSON.stringify({ ...fields, _rev: newRev }), version);
    });
    if (!written) throw new ConflictError();
    return { ...fields, _rev: newRev };
  }

  async deleteApi(namespace: string, basePath: string, rev: string): Promise<void> {
    const k = docKey.api(namespace, basePath);
    if (!this.read(k)) throw new NotFoundError();
    const removed = await this.write(k, rev, () => this.docs.remove(k));
    if (!removed) throw this.read(k) ? new ConflictError() : new NotFoundError();
  }

  async listApis(namespace: string): Promise<StoredApi[]> {
    return [...this.docs.getRange(prefixRange('g', namespace))].map((e) => JSON.parse(e.value) as StoredApi);
  }

  // ---------------------------------------------------------------------------------- activations

  /** Why the store refuses a record for what it holds (as CouchDB and PouchDB refuse it), or its JSON text. */
  private static recordText(r: ActivationRecord): { text: string } | { reason: string } {
    const special = Object.keys(r).find((k) => k.startsWith('_'));
    if (special) return { reason: `doc_validation: Bad special document member: ${special}` };
    let text: string;
    try {
      text = JSON.stringify(r);
    } catch (e) {
      return { reason: `the record cannot be serialized: ${(e as Error).message}` };
    }
    if (Buffer.byteLength(text) > MAX_RECORD_BYTES) return { reason: 'document_too_large: the record is larger than the store takes' };
    return { text };
  }

  async putActivations(records: ActivationRecord[]): Promise<RefusedRecord[]> {
    const refused: RefusedRecord[] = [];
    const writes: Array<Promise<boolean>> = [];
    // one event turn: lmdb commits them in one transaction; a record stored already stays as it is
    for (const record of records) {
      const checked = LmdbStore.recordText(record);
      if ('reason' in checked) {
        refused.push({ record, reason: checked.reason });
        continue;
      }
      const k = docKey.activation(record.namespace, record.activationId);
      writes.push(
        this.docs.ifNoExists(k, () => {
          this.docs.put(k, checked.text);
          const brief = JSON.stringify(activationBrief(record));
          for (const ik of activationIndex(record)) this.index.put(ik, brief);
        }),
      );
    }
    await Promise.all(writes).catch((e: unknown) => {
      throw unavailable(e);
    });
    return refused;
  }

  async getActivation(namespace: string, activationId: string): Promise<ActivationRecord> {
    const text = this.docs.get(docKey.activation(namespace, activationId));
    if (text === undefined) throw new NotFoundError();
    return JSON.parse(text) as ActivationRecord;
  }

  private activationRange(namespace: string, q: Omit<ActivationQuery, 'skip' | 'limit'>): KeyRange {
    return numberRange(q.name ? ['ap', namespace, q.name] : ['an', namespace], q.since ?? 0, q.upto);
  }

  async listActivations(namespace: string, q: ActivationQuery & { docs?: boolean }): Promise<ActivationRecord[]> {
    const briefs = this.rows(this.activationRange(namespace, q), { reverse: true, skip: q.skip, limit: q.limit }).map((v) => JSON.parse(v) as ActivationRecord);
    if (!q.docs) return briefs;
    return briefs.flatMap((b) => {
      const text = this.docs.get(docKey.activation(namespace, b.activationId));
      return text === undefined ? [] : [JSON.parse(text) as ActivationRecord];
    });
  }

  async countActivations(namespace: string, q: Omit<ActivationQuery, 'skip' | 'limit'>): Promise<number> {
    return this.index.getCount(this.activationRange(namespace, q));
  }

  async deleteActivations(namespace: string): Promise<number> {
    const records = [...this.docs.getRange(prefixRange('a', namespace))].map((e) => ({ k: e.key, record: JSON.parse(e.value) as ActivationRecord }));
    // one event turn: lmdb commits them in one transaction
    const removals = records.map(({ k, record }) => {
      for (const ik of activationIndex(record)) this.index.remove(ik);
      return this.docs.removed(k);
    });
    const done = await Promise.all(removals).catch((e: unknown) => {
      throw unavailable(e);
    });
    return done.filter(Boolean).length;
  }

  /**
   * Take documents as the CouchDB store kept them (database `db`, `_id`, inline attachments:
   * the migration of an old data directory), sealed values as they are: they were sealed for
   * the same ids. Each gets a new revision; one there already is left as it is.
   */
  async importDocs(db: DatabaseName, docs: Doc[]): Promise<void> {
    const version = nextVersion();
    const rev = revOf(1, version);
    const writes = docs.flatMap((raw) => {
      const { _id: id, _rev: _r, _attachments: attachments, ...doc } = raw as Doc & { _id: string; _attachments?: Record<string, { data?: string }> };
      if (id.startsWith('_design/')) return [];
      const text = JSON.stringify({ ...doc, _rev: rev });
      if (db === 'activations') {
        const record = doc as unknown as ActivationRecord;
        return [this.docs.ifNoExists(docKey.activation(record.namespace, record.activationId), () => {
          this.docs.put(docKey.activation(record.namespace, record.activationId), JSON.stringify(record));
          const brief = JSON.stringify(activationBrief(record));
          for (const ik of activationIndex(record)) this.index.put(ik, brief);
        })];
      }
      const [k, index]: [string, Array<[string, string]>] =
        db === 'whisks' ? [docKey.entity(id), entityIndex(id, doc as EntityDoc).map((ik) => [ik, JSON.stringify(entitySummary(doc as EntityDoc))])]
        : db === 'feeds' ? [docKey.feed(id), [[key('v', doc.provider as string, id), '']]]
        : db === 'apis' ? [docKey.api(doc.namespace as string, doc.basePath as string), []]
        : id.startsWith(SECRET_PREFIX) ? [docKey.secret(id.slice(SECRET_PREFIX.length)), []]
        : typeof doc.subject === 'string' ? [docKey.subject(id), subjectIndex(doc as unknown as Subject)]
        : ['', []]; // not a subject (CouchStore does not read it either)
      if (k === '') return [];
      const code = attachments?.[CODE_ATTACHMENT]?.data;
      return [this.docs.ifNoExists(k, () => {
        this.docs.put(k, text, version);
        if (code !== undefined) this.docs.put(docKey.code(id), Buffer.from(code, 'base64').toString('utf8'));
        for (const [ik, value] of index) this.index.put(ik, value);
      })];
    });
    await Promise.all(writes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }
}
