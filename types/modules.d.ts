// Packages that ship no type declarations.
declare module 'express-pouchdb' {
  import type { RequestHandler } from 'express';
  function expressPouchDB(pouch: unknown, opts?: Record<string, unknown>): RequestHandler;
  export default expressPouchDB;
}
declare module 'pouchdb-node' {
  interface PouchStatic {
    defaults(opts: Record<string, unknown>): PouchStatic;
  }
  const PouchDB: PouchStatic;
  export default PouchDB;
}
