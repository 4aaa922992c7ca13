import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config.ts';
import { ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { processState } from '../process-identity.ts';
import { Sealer } from '../sealing.ts';
import { CouchStore } from './couch-store.ts';
import { type DataDirLock, lockDataDir } from './data-lock.ts';
import type { EmbeddedCouch } from './embedded-couch.ts';
import { EMBEDDED_DIR, LMDB_DIR } from './layout.ts';
import type { EntityStore } from './entity-store.ts';
import { LmdbStore } from './lmdb-store.ts';
import { migrateEmbedded, needsMigration } from './migrate-embedded.ts';

export interface OpenedStore {
  store: EntityStore;
  /** The embedded store's hold on its data directory (undefined with CouchDB). */
  lock?: DataDirLock;
  /** The CouchDB URL in use (embedded or real). */
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

type StoreConfig = Pick<Config, 'couchdbUrl' | 'dbPrefix' | 'dataDir' | 'embeddedCouchdbPort'> & Partial<Pick<Config, 'embeddedCouchdbHost' | 'embeddedCouchdbPassword' | 'standaloneStore'>>;

/** A store as standalone and tools use it, whichever implementation. */
export interface LocalStore {
  store: EntityStore;
  /** The hold on the data directory (undefined with CouchDB, and for a tool beside a server). */
  lock?: DataDirLock;
  /** Where the store is, for the start-up line. */
  where: string;
  close(): Promise<void>;
}

const usesLmdb = (config: StoreConfig): boolean => !config.couchdbUrl && (config.standaloneStore ?? 'lmdb') === 'lmdb';

/**
 * The store of standalone: lmdb in this process (`<dataDir>/lmdb`), unless CouchDB is named
 * or SWIRL_STANDALONE_STORE=couchdb asks for the embedded CouchDB-API server. A data
 * directory that holds an older swirl's embedded store and no lmdb store is migrated first
 * (migrate-embedded.ts), each step told to `progress`.
 */
export async function openStandaloneStore(config: StoreConfig, masterKey: Buffer | undefined, progress: (line: string) => void): Promise<LocalStore> {
  if (!usesLmdb(config)) {
    const opened = await openStore(config, masterKey);
    return { store: opened.store, lock: opened.lock, where: opened.embedded ? `embedded CouchDB-API server (${config.dataDir})` : 'couchdb', close: opened.close };
  }
  const dataDir = resolve(config.dataDir);
  const lock = lockDataDir(dataDir);
  try {
    if (needsMigration(dataDir)) {
      progress(`migrating the store of ${join(dataDir, EMBEDDED_DIR)} to ${join(dataDir, LMDB_DIR)}`);
      const { documents, keptAs } = await migrateEmbedded(dataDir, config.dbPrefix, progress);
      progress(`migrated ${documents} documents; the old store is kept in ${keptAs} (remove it once you no longer need it)`);
    } else if (existsSync(join(dataDir, EMBEDDED_DIR))) {
      // made by SWIRL_STANDALONE_STORE=couchdb after a migration: not merged, said
      progress(`${join(dataDir, EMBEDDED_DIR)} is not read: the store is ${join(dataDir, LMDB_DIR)} (SWIRL_STANDALONE_STORE=couchdb uses the other)`);
    }
    const store = LmdbStore.open(join(dataDir, LMDB_DIR), masterKey && new Sealer(masterKey));
    return {
      store,
      lock,
      where: `lmdb (${join(dataDir, LMDB_DIR)})`,
      close: async () => {
        await store.close();
        lock.release();
      },
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * Open the configured store: real CouchDB at `couchdbUrl`, or else the embedded
 * CouchDB-API server on `dataDir`. Databases and views are created when missing. With the
 * master key, parameters and server secrets are encrypted at rest (common/master-key.ts).
 */
export async function openStore(config: StoreConfig, masterKey?: Buffer): Promise<OpenedStore> {
  const sealer = masterKey && new Sealer(masterKey);
  if (config.couchdbUrl) {
    const store = new CouchStore(config.couchdbUrl, config.dbPrefix, sealer);
    await store.init();
    return { store, url: config.couchdbUrl, embedded: false, close: () => store.close() };
  }
  // before any database is opened: a second swirl on the directory is refused here, naming the first
  const lock = lockDataDir(config.dataDir);
  let couch: EmbeddedCouch | undefined;
  try {
    // loaded when used: a start on lmdb or on real CouchDB does without PouchDB and express
    const { EmbeddedCouch } = await import('./embedded-couch.ts');
    couch = await EmbeddedCouch.start(config.dataDir, config.embeddedCouchdbPort, config.embeddedCouchdbHost, config.embeddedCouchdbPassword);
    const store = new CouchStore(couch.url, config.dbPrefix, sealer);
    await store.init();
    const started = couch;
    return {
      store,
      lock,
      url: couch.url,
      embedded: true,
      close: async () => {
        await store.close();
        await started.stop();
        lock.release();
      },
    };
  } catch (e) {
    await couch?.stop();
    lock.release();
    throw e;
  }
}

/**
 * openStore for a process that may start before its store answers (an invoker started with
 * its cluster: CouchDB, or a controller's embedded store, still coming up): while the store
 * is unreachable it waits, saying so every 5 s, for up to `ms`; then the last error stands.
 */
export async function openStoreWhenUp(config: StoreConfig, log: Pick<Logger, 'warn'>, ms = 300_000): Promise<OpenedStore> {
  const started = Date.now();
  let told = 0;
  for (;;) {
    try {
      return await openStore(config);
    } catch (e) {
      if (!(e instanceof ServiceUnavailableError) || Date.now() - started > ms) throw e;
      if (Date.now() - told >= 5_000) {
        told = Date.now();
        log.warn({ waitedMs: told - started }, 'waiting for the store to answer');
      }
      await new Promise((ok) => setTimeout(ok, 500));
    }
  }
}

/** A tool found no store where the configuration points: it makes none (its users and keys would be for no server). */
export class NoStoreError extends Error {}

/**
 * For tools run beside a server (the admin command): the lmdb store of the data directory
 * (opened beside a running server: lmdb allows it), else the embedded CouchDB-API store of
 * a running standalone server when there is one (its files are locked while it runs), else open it —
 * only one a server made: a data directory without a store is a mistaken setting, refused
 * with a NoStoreError that names it. It has no master key: it is for subjects, which hold
 * no sealed values.
 */
export async function attachStore(config: StoreConfig): Promise<Pick<LocalStore, 'store' | 'close'>> {
  const dataDir = resolve(config.dataDir);
  // lmdb takes several processes on one store: beside a running server, or alone
  if (usesLmdb(config) && existsSync(join(dataDir, LMDB_DIR))) {
    const store = LmdbStore.open(join(dataDir, LMDB_DIR));
    return { store, close: () => store.close() };
  }
  const marker = join(dataDir, 'couchdb.json');
  if (!config.couchdbUrl && existsSync(marker)) {
    try {
      const { url, process: server } = JSON.parse(readFileSync(marker, 'utf8')) as { url: string; process?: string };
      // (named as the data directory's lock names its holder: a pid taken over by another process is no server)
      if (processState(server ?? '') === 'dead') throw new Error('the server that wrote the marker is gone');
      const store = new CouchStore(url, config.dbPrefix);
      await store.init();
      return { store, close: () => store.close() };
    } catch {
      // stale marker from a server that is gone: open the files ourselves
    }
  }
  if (!config.couchdbUrl && !existsSync(join(dataDir, EMBEDDED_DIR)))
    throw new NoStoreError(
      `no swirl store in ${dataDir}: set SWIRL_DATA_DIR to the data directory of the swirl server (standalone; the default is .swirl/data in the checkout), or SWIRL_COUCHDB_URL (and SWIRL_DB_PREFIX) to its CouchDB`,
    );
  return openStore(config);
}
