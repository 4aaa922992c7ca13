import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import nano, { type DocumentListParams } from 'nano';
import type { DatabaseName } from './design.ts';
import { EMBEDDED_DIR, LMDB_DIR } from './layout.ts';
import { LmdbStore } from './lmdb-store.ts';


const DATABASES: DatabaseName[] = ['subjects', 'whisks', 'feeds', 'activations'];
const PAGE = 500;

/** Whether the data directory holds a store of the embedded CouchDB-API server and no lmdb store yet. */
export const needsMigration = (dataDir: string): boolean => existsSync(join(dataDir, EMBEDDED_DIR)) && !existsSync(join(dataDir, LMDB_DIR));

/**
 * Copy the store an older swirl kept in `<dataDir>/couchdb` (PouchDB's LevelDB files, read
 * through the embedded CouchDB-API server, as that swirl read them) into the lmdb store:
 * subjects and server secrets, entities with their code, trigger feeds and activation
 * records, sealed values as they are. It is written to `lmdb-migrating` and renamed to
 * `lmdb` when complete, so an interrupted migration starts over; the old files are kept,
 * renamed to `couchdb.migrated-<time>`. `progress` is told each page.
 */
export async function migrateEmbedded(dataDir: string, dbPrefix: string, progress: (line: string) => void): Promise<{ documents: number; keptAs: string }> {
  const target = join(dataDir, LMDB_DIR);
  const partial = `${target}-migrating`;
  rmSync(partial, { recursive: true, force: true });
  // (loaded only to migrate: PouchDB and express are not needed otherwise)
  const { EmbeddedCouch } = await import('./embedded-couch.ts');
  const couch = await EmbeddedCouch.start(dataDir);
  const lmdb = LmdbStore.open(partial);
  let documents = 0;
  try {
    const server = nano(couch.url);
    for (const name of DATABASES) {
      const db = server.use<Record<string, unknown>>(`${dbPrefix}${name}`);
      const info = await db.info().catch(() => undefined); // never made: nothing to copy
      if (!info) continue;
      const designs = (await db.list({ startkey: '_design/', endkey: '_design0' })).rows.length;
      const total = info.doc_count - designs;
      let copied = 0;
      let after: string | undefined;
      for (;;) {
        const page = await db.list({ include_docs: true, attachments: true, limit: PAGE, ...(after !== undefined ? { startkey: after, skip: 1 } : {}) } as DocumentListParams);
        if (page.rows.length === 0) break;
        after = page.rows[page.rows.length - 1]!.id;
        const docs = page.rows.flatMap((r) => (r.doc && !r.id.startsWith('_design/') ? [r.doc as Record<string, unknown>] : []));
        await lmdb.importDocs(name, docs);
        copied += docs.length;
        progress(`${name}: ${copied} of ${total} documents`);
      }
      documents += copied;
    }
  } finally {
    await lmdb.close();
    await couch.stop();
  }
  renameSync(partial, target);
  const keptAs = join(dataDir, `${EMBEDDED_DIR}.migrated-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  renameSync(join(dataDir, EMBEDDED_DIR), keptAs);
  return { documents, keptAs };
}
