import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config.ts';
import { ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { Sealer } from '../sealing.ts';
import { CouchStore } from './couch-store.ts';
import { type DataDirLock, lockDataDir } from './data-lock.ts';
import { EMBEDDED_DIR, EmbeddedCouch } from './embedded-couch.ts';

export interface OpenedStore {
  store: CouchStore;
  /** The embedded store's hold on its data directory (undefined with CouchDB). */
  lock?: DataDirLock;
  /** The CouchDB URL in use (embedded or real). */
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

type StoreConfig = Pick<Config, 'couchdbUrl' | 'dbPrefix' | 'dataDir' | 'embeddedCouchdbPort'> & Partial<Pick<Config, 'embeddedCouchdbHost' | 'embeddedCouchdbPassword'>>;

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
 * For tools run beside a server (the admin command): use the embedded store of a running
 * standalone server when there is one (its files are locked while it runs), else open it —
 * only one a server made: a data directory without a store is a mistaken setting, refused
 * with a NoStoreError that names it. It has no master key: it is for subjects, which hold
 * no sealed values.
 */
export async function attachStore(config: StoreConfig): Promise<OpenedStore> {
  const dataDir = resolve(config.dataDir);
  const marker = join(dataDir, 'couchdb.json');
  if (!config.couchdbUrl && existsSync(marker)) {
    try {
      const { url, pid } = JSON.parse(readFileSync(marker, 'utf8')) as { url: string; pid: number };
      process.kill(pid, 0); // throws when no such process
      const store = new CouchStore(url, config.dbPrefix);
      await store.init();
      return { store, url, embedded: true, close: () => store.close() };
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
