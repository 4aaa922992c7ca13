import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import express from 'express';
import expressPouchDB from 'express-pouchdb';
import PouchDB from 'pouchdb-node';
import { sameSecret } from '../credentials.ts';
import { selfProcess } from '../process-identity.ts';
import { writePrivateFile } from '../private-files.ts';

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

/** The folder of the data directory that holds the embedded store's databases. */
import { EMBEDDED_DIR } from './layout.ts';

/** The one user of the embedded store. */
export const EMBEDDED_USER = 'swirl';

const basicAuth = (password: string): string => 'Basic ' + Buffer.from(`${EMBEDDED_USER}:${password}`).toString('base64');

/**
 * Basic authentication in front of everything express-pouchdb serves: without it any local
 * user (or, on 0.0.0.0, anyone on the network) could read every key and rewrite every
 * entity. Answered as CouchDB answers a bad password.
 */
function requireCredentials(password: string): express.RequestHandler {
  const expected = basicAuth(password);
  return (req, res, next) => {
    if (sameSecret(req.headers.authorization ?? '', expected)) return next();
    res.status(401).json({ error: 'unauthorized', reason: 'Name or password is incorrect.' });
  };
}

/**
 * The embedded CouchDB-API server of standalone mode: PouchDB (LevelDB on disk) behind
 * express-pouchdb, listening on 127.0.0.1 (unless told otherwise) and answering only user
 * `swirl` with its password. swirl talks to it with nano exactly as it talks to real
 * CouchDB; `url` carries the credentials. While it runs, `<dataDir>/couchdb.json` (0600, in
 * the 0700 data directory) names that URL so that tools run as the same user (the admin
 * command) reach the same store instead of opening the locked files.
 */
export class EmbeddedCouch {
  private stopped = false;

  private constructor(
    /** The server's URL with the credentials (as nano takes it). */
    readonly url: string,
    /** The server's URL without credentials, and the Authorization header it wants (for fetch, which refuses credentials in URLs). */
    readonly origin: string,
    readonly authorization: string,
    private readonly server: Server,
    private readonly marker: string,
    private readonly dir: string,
    private readonly pouch: PouchConstructor,
    private readonly listeners: Array<[string, Listener]>,
  ) {}

  /**
   * `host` is the interface to listen on: 127.0.0.1 unless a cluster's invokers must reach
   * it. `password` is the one they are given; unset, a new random one is made for this run
   * (only the marker tells it).
   */
  static async start(dataDir: string, port = 0, host = '127.0.0.1', password = randomBytes(24).toString('base64url')): Promise<EmbeddedCouch> {
    // (the server that runs it has made its data directory private, older files included: privateDir)
    const dir = resolve(dataDir, EMBEDDED_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const Pouch = PouchDB.defaults({ prefix: dir + '/' });
    const pouch = Pouch as unknown as PouchConstructor;
    const before = new Set(POUCH_EVENTS.flatMap((e) => pouch.listeners(e)));
    const app = express();
    app.disable('x-powered-by');
    app.use(requireCredentials(password));
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
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const url = origin.replace('//', `//${EMBEDDED_USER}:${encodeURIComponent(password)}@`);
    const marker = join(resolve(dataDir), 'couchdb.json');
    writePrivateFile(marker, JSON.stringify({ url, process: selfProcess() }) + '\n');
    const listeners = POUCH_EVENTS.flatMap((e) => pouch.listeners(e).filter((l) => !before.has(l)).map((l): [string, Listener] => [e, l]));
    return new EmbeddedCouch(url, origin, basicAuth(password), server, marker, dir, pouch, listeners);
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
