import nano, { type DocumentScope, type ServerScope } from 'nano';
import type { ActivationQuery, ActivationRecord } from '../activation.ts';
import type { Action, EntityKind, EntityOf, EntitySummary, KeyValue, Stored } from '../entities.ts';
import { type ApiDoc, apiId, type StoredApi } from '../api-doc.ts';
import { type FeedDoc, feedId, type StoredFeed } from '../feed.ts';
import { ConflictError, Messages, NotFoundError, ServiceUnavailableError, SwirlError, UnsealError } from '../errors.ts';
import type { Subject } from '../identity.ts';
import { SIZES } from '../limits.ts';
import { entityPath } from '../names.ts';
import type { Sealer } from '../sealing.ts';
import { type DatabaseName, DESIGN, DESIGN_VERSION, designDocs } from './design.ts';
import { type EntityStore, type GetOptions, type ListOptions, type ListScope, ofKind, type RefusedRecord } from './entity-store.ts';
import { openIncomingParams, openStoredParams, sealParams } from './sealed-params.ts';

type Doc = Record<string, unknown> & { _id?: string; _rev?: string };

interface NanoError {
  statusCode?: number;
  error?: string;
  code?: string;
  cause?: { code?: string };
}

const CODE_ATTACHMENT = 'codefile';
/** `_bulk_docs` errors about a document's content (CouchDB and PouchDB): retrying cannot help. */
const DOCUMENT_ERRORS = new Set(['doc_validation', 'forbidden', 'too_large', 'document_too_large', 'bad_request', 'illegal_docid', 'unauthorized']);
const SECRET_PREFIX = 'swirl:secret:';

/** Map a nano failure to the error catalogue. */
function storeError(e: unknown, notFound: () => SwirlError = () => new NotFoundError()): Error {
  if (e instanceof SwirlError) return e;
  // nano wraps every connection failure in a plain Error: these come from the data (a value
  // JSON.stringify cannot write), a fault of ours to log as such, not an unavailable store
  if (e instanceof RangeError || e instanceof TypeError) return e;
  const err = e as NanoError;
  if (err.statusCode === 404) return notFound();
  if (err.statusCode === 409 || err.statusCode === 412) return new ConflictError();
  const unavailable = new ServiceUnavailableError(Messages.unavailable('The entity store'));
  unavailable.cause = e;
  if (err.statusCode === undefined || err.statusCode >= 500) return unavailable;
  return e instanceof Error ? e : new Error(String(e));
}

/** Why the store refused a write for what it holds (not for being unreachable), or undefined. */
function refusal(e: unknown): string | undefined {
  if (e instanceof RangeError || e instanceof TypeError) return `the record cannot be serialized: ${e.message}`;
  const err = e as NanoError & { reason?: string };
  if ((err.error !== undefined && DOCUMENT_ERRORS.has(err.error)) || err.statusCode === 400 || err.statusCode === 413) return err.reason ? `${err.error}: ${err.reason}` : (err.error ?? `status ${err.statusCode}`);
  return undefined;
}

async function attempt<T>(fn: () => Promise<T>, notFound?: () => SwirlError): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw storeError(e, notFound);
  }
}

const entityId = (path: string, name: string): string => `${path}/${name}`;

/** A document without CouchDB's bookkeeping (`_id`, `_rev`). */
function content<T>(doc: Doc): T {
  const { _id: _i, _rev: _r, ...rest } = doc;
  return rest as unknown as T;
}

/**
 * EntityStore on CouchDB's HTTP API through nano. The same code serves real CouchDB and
 * the embedded PouchDB-based server that standalone starts. With a sealer (made from the
 * master key) entity parameters and server secrets are encrypted in the documents, and
 * opened on reading: a copy of the databases alone reveals neither. Without one (an
 * invoker), sealed parameters are read as they are and nothing new is sealed.
 */
export class CouchStore implements EntityStore {
  private readonly server: ServerScope;
  private readonly db: Record<DatabaseName, DocumentScope<Doc>>;

  constructor(
    url: string,
    prefix = '',
    private readonly sealer?: Sealer,
  ) {
    this.server = nano(url);
    this.db = {
      whisks: this.server.use<Doc>(`${prefix}whisks`),
      subjects: this.server.use<Doc>(`${prefix}subjects`),
      activations: this.server.use<Doc>(`${prefix}activations`),
      feeds: this.server.use<Doc>(`${prefix}feeds`),
      apis: this.server.use<Doc>(`${prefix}apis`),
    };
  }

  async init(): Promise<void> {
    for (const name of Object.keys(this.db) as DatabaseName[]) {
      const db = this.db[name];
      await attempt(async () => {
        try {
          await this.server.db.create(db.config.db);
        } catch (e) {
          if ((e as NanoError).statusCode !== 412) throw e;
        }
      });
      await this.installDesign(name);
    }
  }

  async ping(): Promise<boolean> {
    return this.server.info().then(
      () => true,
      () => false,
    );
  }

  private async installDesign(name: DatabaseName): Promise<void> {
    const db = this.db[name];
    const id = `_design/${DESIGN}`;
    const wanted = { _id: id, language: 'javascript', version: DESIGN_VERSION, views: designDocs[name] };
    for (let i = 0; i < 5; i++) {
      const current = await db.get(id).catch((e: NanoError) => {
        if (e.statusCode === 404) return undefined;
        throw storeError(e);
      });
      if (current && (current as Doc).version === DESIGN_VERSION) return;
      try {
        await db.insert({ ...wanted, ...(current ? { _rev: current._rev } : {}) } as unknown as Doc);
        return;
      } catch (e) {
        // another process installed it at the same time: look again
        if ((e as NanoError).statusCode !== 409) throw storeError(e);
      }
    }
  }

  // ---------------------------------------------------------------------------------- entities

  async find(path: string, name: string, opts: GetOptions = {}): Promise<Stored | undefined> {
    let doc: Doc;
    try {
      doc = await this.db.whisks.get(entityId(path, name));
    } catch (e) {
      if ((e as NanoError).statusCode === 404) return undefined;
      throw storeError(e);
    }
    if (typeof doc.entityType !== 'string') return undefined;
    if (Array.isArray(doc.parameters)) doc.parameters = openStoredParams(this.sealer, doc._id!, doc.parameters as KeyValue[]);
    const exec = doc.exec as (Action['exec'] & { attached?: boolean }) | undefined;
    if (exec?.attached) {
      delete exec.attached;
      if (opts.code !== false) {
        const buf = await attempt(() => this.db.whisks.attachment.get(doc._id!, CODE_ATTACHMENT));
        exec.code = buf.toString('utf8');
      }
    }
    delete doc._attachments;
    delete doc._id;
    return doc as unknown as Stored;
  }

  async get<K extends EntityKind>(kind: K, path: string, name: string, opts?: GetOptions): Promise<Stored<EntityOf[K]>> {
    return ofKind(kind, await this.find(path, name, opts));
  }

  async put<K extends EntityKind>(kind: K, entity: EntityOf[K], rev?: string): Promise<Stored<EntityOf[K]>> {
    const id = entityId(entity.namespace, entity.name);
    const doc: Doc = { ...(entity as unknown as Doc), entityType: kind, _id: id };
    delete doc._attachments;
    const params = (entity as { parameters?: KeyValue[] }).parameters;
    const plainParams = Array.isArray(params) ? openIncomingParams(this.sealer, id, params) : undefined;
    if (plainParams) doc.parameters = this.sealer ? sealParams(this.sealer, id, plainParams) : plainParams;
    if (rev) doc._rev = rev;
    else delete doc._rev;
    let attachment: Buffer | undefined;
    const exec = (entity as Partial<Action>).exec;
    if (exec?.code !== undefined && Buffer.byteLength(exec.code) > SIZES.inlineCode) {
      attachment = Buffer.from(exec.code, 'utf8');
      const { code: _code, ...rest } = exec;
      doc.exec = { ...rest, attached: true };
    }
    let newRev: string;
    try {
      // inline (base64) attachments are written atomically with the document by CouchDB and PouchDB alike
      if (attachment) doc._attachments = { [CODE_ATTACHMENT]: { content_type: 'text/plain', data: attachment.toString('base64') } };
      newRev = (await this.db.whisks.insert(doc)).rev;
    } catch (e) {
      if ((e as NanoError).statusCode === 409 && !rev) {
        const existing = await this.find(entity.namespace, entity.name, { code: false });
        throw new ConflictError(existing && existing.entityType !== kind ? Messages.conformance : Messages.entityExists);
      }
      throw storeError(e);
    }
    const { _id: _i, _attachments: _a, ...stored } = doc;
    if (attachment) stored.exec = exec;
    if (plainParams) stored.parameters = plainParams;
    return { ...stored, _rev: newRev } as unknown as Stored<EntityOf[K]>;
  }

  async delete(path: string, name: string, rev: string): Promise<void> {
    await attempt(() => this.db.whisks.destroy(entityId(path, name), rev));
  }

  private async view(db: DatabaseName, view: string, params: Record<string, unknown>): Promise<Array<{ key: unknown; value: unknown; doc?: Doc }>> {
    const res = await attempt(() => this.db[db].view(DESIGN, view, params));
    return res.rows as Array<{ key: unknown; value: unknown; doc?: Doc }>;
  }

  private entityView(kind: EntityKind, scope: ListScope): { view: string; prefix: unknown[] } {
    return scope.pkg ? { view: 'package-contents', prefix: [kind, entityPath(scope)] } : { view: 'entities', prefix: [kind, scope.namespace] };
  }

  async list(kind: EntityKind, scope: ListScope, opts: ListOptions): Promise<EntitySummary[]> {
    const { view, prefix } = this.entityView(kind, scope);
    const rows = await this.view('whisks', view, {
      startkey: [...prefix, {}],
      endkey: prefix,
      descending: true,
      reduce: false,
      skip: opts.skip,
      limit: opts.limit,
    });
    return rows.map((r) => r.value as EntitySummary);
  }

  async count(kind: EntityKind, scope: ListScope): Promise<number> {
    const { view, prefix } = this.entityView(kind, scope);
    const rows = await this.view('whisks', view, { startkey: prefix, endkey: [...prefix, {}], reduce: true });
    return (rows[0]?.value as number | undefined) ?? 0;
  }

  // ---------------------------------------------------------------------------------- subjects

  async getSubject(subject: string): Promise<(Subject & { _rev: string }) | undefined> {
    try {
      const doc = await this.db.subjects.get(subject);
      if (typeof doc.subject !== 'string') return undefined;
      const { _id: _i, ...rest } = doc;
      return rest as unknown as Subject & { _rev: string };
    } catch (e) {
      if ((e as NanoError).statusCode === 404) return undefined;
      throw storeError(e);
    }
  }

  async putSubject(subject: Subject, rev?: string): Promise<void> {
    for (const ns of subject.namespaces) {
      const byUuid = await this.subjectByUuid(ns.uuid);
      if (byUuid && byUuid.subject.subject !== subject.subject) throw new ConflictError(`The uuid ${ns.uuid} already belongs to another subject.`);
      const byNs = await this.subjectByNamespace(ns.name);
      if (byNs && byNs.subject !== subject.subject) throw new ConflictError(`The namespace ${ns.name} already belongs to another subject.`);
    }
    const doc: Doc = { ...(subject as unknown as Doc), _id: subject.subject };
    if (rev) doc._rev = rev;
    else delete doc._rev;
    try {
      await this.db.subjects.insert(doc);
    } catch (e) {
      if ((e as NanoError).statusCode === 409 && !rev) throw new ConflictError(`The subject ${subject.subject} already exists.`);
      throw storeError(e);
    }
  }

  async deleteSubject(subject: string): Promise<void> {
    const doc = await this.getSubject(subject);
    if (!doc) throw new NotFoundError(`The subject ${subject} does not exist.`);
    await attempt(() => this.db.subjects.destroy(subject, doc._rev));
  }

  async listSubjects(): Promise<Subject[]> {
    const res = await attempt(() => this.db.subjects.list({ include_docs: true }));
    return res.rows
      .map((r) => r.doc as Doc | undefined)
      .filter((d): d is Doc => !!d && typeof d.subject === 'string')
      .map((d) => content<Subject>(d));
  }

  /** The subject a subjects view maps `key` to, with the row's value. */
  private async subjectVia(view: 'by-uuid' | 'by-namespace', key: string): Promise<{ subject: Subject; value: unknown } | undefined> {
    const row = (await this.view('subjects', view, { key, include_docs: true, limit: 1 }))[0];
    return row?.doc ? { subject: content<Subject>(row.doc), value: row.value } : undefined;
  }

  async subjectByUuid(uuid: string): Promise<{ subject: Subject; namespace: string } | undefined> {
    const found = await this.subjectVia('by-uuid', uuid);
    return found && { subject: found.subject, namespace: found.value as string };
  }

  async subjectByNamespace(namespace: string): Promise<Subject | undefined> {
    return (await this.subjectVia('by-namespace', namespace))?.subject;
  }

  sealedParameters(path: string, name: string, params: KeyValue[]): KeyValue[] {
    return this.sealer ? sealParams(this.sealer, entityId(path, name), params, true) : params;
  }

  /**
   * A secret is kept sealed (`{sealed}`) when the store has a sealer. One an older version
   * kept in plain text (`{value}`) is not reused: it was readable by anyone holding the
   * store, so a new one replaces it.
   */
  async secret(name: string, make: () => string): Promise<string> {
    const id = SECRET_PREFIX + name;
    const aad = `secret\n${name}`;
    for (;;) {
      let current: Doc | undefined;
      try {
        current = await this.db.subjects.get(id);
      } catch (e) {
        if ((e as NanoError).statusCode !== 404) throw storeError(e);
      }
      if (current && typeof current.sealed === 'string') {
        const opened = this.sealer?.open(current.sealed, aad);
        if (opened === undefined) throw new UnsealError(`The server secret '${name}'`);
        return opened;
      }
      if (current && !this.sealer) return current.value as string;
      try {
        const value = make();
        await this.db.subjects.insert({ _id: id, ...(this.sealer ? { sealed: this.sealer.seal(value, aad) } : { value }), ...(current ? { _rev: current._rev } : {}) });
        return value;
      } catch (e) {
        // a concurrent first start (or replacement) wrote it: read theirs
        if ((e as NanoError).statusCode !== 409) throw storeError(e);
      }
    }
  }

  // ---------------------------------------------------------------------------------- feeds

  /** A document of `db` without its `_id` (with its `_rev`), or undefined. */
  private async getDoc<T>(db: DatabaseName, id: string): Promise<(T & { _rev: string }) | undefined> {
    try {
      const { _id: _i, ...rest } = await this.db[db].get(id);
      return rest as unknown as T & { _rev: string };
    } catch (e) {
      if ((e as NanoError).statusCode === 404) return undefined;
      throw storeError(e);
    }
  }

  /** Create (no rev) or replace a document of `db`; answers its fields with the new `_rev`. */
  private async putDoc<T extends object>(db: DatabaseName, id: string, value: T, rev?: string): Promise<T & { _rev: string }> {
    const { _rev: _r, ...fields } = value as T & { _rev?: string };
    const doc: Doc = { ...(fields as unknown as Doc), _id: id, ...(rev ? { _rev: rev } : {}) };
    const res = await attempt(() => this.db[db].insert(doc));
    return { ...(fields as T), _rev: res.rev };
  }

  async getFeed(namespace: string, name: string): Promise<StoredFeed | undefined> {
    return this.getDoc<FeedDoc>('feeds', feedId({ namespace, name }));
  }

  async putFeed(feed: FeedDoc, rev?: string): Promise<StoredFeed> {
    return this.putDoc('feeds', feedId(feed), feed, rev);
  }

  async deleteFeed(namespace: string, name: string, rev: string): Promise<void> {
    await attempt(() => this.db.feeds.destroy(feedId({ namespace, name }), rev));
  }

  async listFeeds(provider: string): Promise<StoredFeed[]> {
    const rows = await this.view('feeds', 'by-provider', { key: provider, include_docs: true });
    return rows.filter((r) => r.doc).map((r) => ({ ...content<FeedDoc>(r.doc!), _rev: r.doc!._rev! }));
  }

  // ---------------------------------------------------------------------------------- gateway APIs

  async getApi(namespace: string, basePath: string): Promise<StoredApi | undefined> {
    return this.getDoc<ApiDoc>('apis', apiId({ namespace, basePath }));
  }

  async putApi(api: ApiDoc, rev?: string): Promise<StoredApi> {
    return this.putDoc('apis', apiId(api), api, rev);
  }

  async deleteApi(namespace: string, basePath: string, rev: string): Promise<void> {
    try {
      await attempt(() => this.db.apis.destroy(apiId({ namespace, basePath }), rev));
    } catch (e) {
      // (CouchDB answers 409 for a deleted document's old revision: it is gone)
      if (e instanceof ConflictError && !(await this.getApi(namespace, basePath))) throw new NotFoundError();
      throw e;
    }
  }

  async listApis(namespace: string): Promise<StoredApi[]> {
    // (a base path starts with `/`: the namespace's ids are `namespace/...`, nothing else's)
    const res = await attempt(() => this.db.apis.list({ startkey: `${namespace}/`, endkey: `${namespace}/\ufff0`, include_docs: true }));
    return res.rows.filter((r) => r.doc && !r.id.startsWith('_design/')).map((r) => ({ ...content<ApiDoc>(r.doc!), _rev: r.doc!._rev! }));
  }

  // ---------------------------------------------------------------------------------- activations

  async putActivations(records: ActivationRecord[]): Promise<RefusedRecord[]> {
    if (records.length === 0) return [];
    try {
      return await this.bulkActivations(records);
    } catch (e) {
      // the store refused the whole request for what one record holds (CouchDB: 413
      // document_too_large, 400 doc_validation; PouchDB: 500 doc_validation), or a record
      // cannot be serialized: halve the batch until the record is found, storing the rest
      const reason = refusal(e);
      if (reason === undefined) throw storeError(e);
      if (records.length === 1) return [{ record: records[0]!, reason }];
      const half = records.length >> 1;
      return [...(await this.putActivations(records.slice(0, half))), ...(await this.putActivations(records.slice(half)))];
    }
  }

  /** One `_bulk_docs` request; what it refuses one by one comes back, a transient failure throws. */
  private async bulkActivations(records: ActivationRecord[]): Promise<RefusedRecord[]> {
    const byId = new Map(records.map((r) => [`${r.namespace}/${r.activationId}`, r]));
    const res = await this.db.activations.bulk({ docs: [...byId].map(([_id, r]) => ({ ...r, _id })) });
    // conflict: stored already (a redelivered activation); a refusal of the document itself is
    // that record's alone; anything else is the store's trouble: the whole batch is tried again
    // (what was stored meanwhile then conflicts, which is fine)
    const failed = res.filter((r) => r.error && r.error !== 'conflict');
    const transient = failed.filter((r) => !DOCUMENT_ERRORS.has(r.error!));
    if (transient.length > 0) throw new ServiceUnavailableError(Messages.unavailable('The activation store'), { cause: transient });
    return failed.flatMap((r) => {
      const record = r.id !== undefined ? byId.get(r.id) : undefined;
      return record ? [{ record, reason: r.reason ? `${r.error}: ${r.reason}` : r.error! }] : [];
    });
  }

  async getActivation(namespace: string, activationId: string): Promise<ActivationRecord> {
    return content<ActivationRecord>(await attempt(() => this.db.activations.get(`${namespace}/${activationId}`)));
  }

  private activationRange(namespace: string, q: Omit<ActivationQuery, 'skip' | 'limit'>): { view: string; lo: unknown[]; hi: unknown[] } {
    const prefix = q.name ? [namespace, q.name] : [namespace];
    return { view: q.name ? 'by-name' : 'by-namespace', lo: [...prefix, q.since ?? 0], hi: [...prefix, q.upto ?? {}] };
  }

  async listActivations(namespace: string, q: ActivationQuery & { docs?: boolean }): Promise<ActivationRecord[]> {
    const { view, lo, hi } = this.activationRange(namespace, q);
    const rows = await this.view('activations', view, { startkey: hi, endkey: lo, descending: true, reduce: false, skip: q.skip, limit: q.limit, include_docs: !!q.docs });
    return rows.map((r) => (q.docs && r.doc ? content<ActivationRecord>(r.doc) : (r.value as ActivationRecord)));
  }

  async countActivations(namespace: string, q: Omit<ActivationQuery, 'skip' | 'limit'>): Promise<number> {
    const { view, lo, hi } = this.activationRange(namespace, q);
    const rows = await this.view('activations', view, { startkey: lo, endkey: hi, reduce: true });
    return (rows[0]?.value as number | undefined) ?? 0;
  }

  async deleteActivations(namespace: string): Promise<number> {
    // (record ids are `namespace/activationId`, and no namespace holds a slash: the namespace's ids are one id range)
    let removed = 0;
    for (;;) {
      const res = await attempt(() => this.db.activations.list({ startkey: `${namespace}/`, endkey: `${namespace}/\ufff0`, limit: 500 }));
      const rows = res.rows.filter((r) => !r.id.startsWith('_design/'));
      if (rows.length === 0) return removed;
      const out = await attempt(() => this.db.activations.bulk({ docs: rows.map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true })) }));
      const done = out.filter((r) => !r.error).length;
      if (done === 0) throw new ServiceUnavailableError(Messages.unavailable('The activation store'));
      removed += done;
    }
  }

  async close(): Promise<void> {
    // nano keeps no connections that need closing beyond the process-wide HTTP agent
  }
}
