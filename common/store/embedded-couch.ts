import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import express from 'express';
import expressPouchDB from 'express-pouchdb';
import PouchDB from 'pouchdb-node';

type Listener = (...args: unknown[]) => void;
/** The parts of a PouchDB constructor that stop() needs (pouchdb-node ships no types). */
interface PouchConstructor {
  new (name: string): { close(): Promise<void> };
  allDbs?: () => Promise<string[]>;
  listeners(event: string): Listener[];
  removeListener(event: string, listener: Listener): void;
}
/** Events on which express-pouchdb (pouchdb-all-dbs) listens; PouchDB shares one emitter per process. */
const POUCH_EVENTS = ['created', 'destroyed'];

/**
 * The embedded CouchDB-API server of standalone mode: PouchDB (LevelDB on disk) behind
 * express-pouchdb, listening on 127.0.0.1 (unless told otherwise). swirl talks to it with nano exactly as it
 * talks to real CouchDB. While it runs, `<dataDir>/couchdb.json` names its URL so that
 * tools (the admin command) reach the same store instead of opening the locked files.
 */
export class EmbeddedCouch {
  private stopped = false;

  private constructor(
    readonly url: string,
    private readonly server: Server,
    private readonly marker: string,
    private readonly dir: string,
    private readonly pouch: PouchConstructor,
    private readonly listeners: Array<[string, Listener]>,
  ) {}

  /** `host` is the interface to listen on: 127.0.0.1 unless a cluster's invokers must reach it (it has no authentication). */
  static async start(dataDir: string, port = 0, host = '127.0.0.1'): Promise<EmbeddedCouch> {
    const dir = resolve(dataDir, 'couchdb');
    mkdirSync(dir, { recursive: true });
    const Pouch = PouchDB.defaults({ prefix: dir + '/' });
    const pouch = Pouch as unknown as PouchConstructor;
    const before = new Set(POUCH_EVENTS.flatMap((e) => pouch.listeners(e)));
    const app = express();
    app.disable('x-powered-by');
    // express-pouchdb's multipart parser throws outside the request (taking the process down)
    // on malformed input; swirl never sends multipart, so refuse it at the door
    app.use((req, res, next) => {
      if (/^multipart\//i.test(req.headers['content-type'] ?? '')) {
        res.status(415).json({ error: 'unsupported_media_type', reason: 'multipart requests are not accepted' });
        return;
      }
      next();
    });
    app.use(
      expressPouchDB(Pouch, {
        mode: 'minimumForPouchDB',
        configPath: join(dir, 'config.json'),
        logPath: join(dir, 'log.txt'),
      }),
    );
    const server = await new Promise<Server>((ok, fail) => {
      const s = app.listen(port, host, () => ok(s));
      s.once('error', fail);
    });
    server.keepAliveTimeout = 60_000;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const marker = join(resolve(dataDir), 'couchdb.json');
    writeFileSync(marker, JSON.stringify({ url, pid: process.pid }) + '\n');
    const listeners = POUCH_EVENTS.flatMap((e) => pouch.listeners(e).filter((l) => !before.has(l)).map((l): [string, Listener] => [e, l]));
    return new EmbeddedCouch(url, server, marker, dir, pouch, listeners);
  }

  /** Stop serving and close the databases, so that their files are no longer locked by this process. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    rmSync(this.marker, { force: true });
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
    // PouchDB keeps each LevelDB open (and locked) for the life of the process, and calls
    // the listeners of every server started in it: detach ours and close our databases.
    for (const [event, listener] of this.listeners) this.pouch.removeListener(event, listener);
    await this.pouch.allDbs?.().catch(() => undefined); // waits for pending bookkeeping of the list of databases
    // (view indexes `<db>-mrview-<hash>` are databases of their own, not closed with their database)
    const names = readdirSync(this.dir, { withFileTypes: true }).filter((d) => d.isDirectory());
    for (const { name } of names) await new this.pouch(name).close().catch(() => undefined); // not openable: not held by us
  }
}
