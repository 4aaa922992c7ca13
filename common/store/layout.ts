/**
 * The folders of a standalone data directory's stores, apart from the code that opens them,
 * so that deciding which to open loads neither (the embedded CouchDB-API server brings
 * PouchDB and express, which a start on lmdb does not need).
 */

/** The embedded CouchDB-API server's files (PouchDB on LevelDB). */
export const EMBEDDED_DIR = 'couchdb';
/** The lmdb store. */
export const LMDB_DIR = 'lmdb';
