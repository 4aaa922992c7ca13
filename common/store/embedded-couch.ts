import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import express from 'express';
import expressPouchDB from 'express-pouchdb';
import PouchDB from 'pouchdb-node';

/**
 * The embedded CouchDB-API server of standalone mode: PouchDB (LevelDB on disk) behind
 * express-pouchdb, listening on 127.0.0.1 only. swirl talks to it with nano exactly as it
 * talks to real CouchDB. While it runs, `<dataDir>/couchdb.json` names its URL so that
 * tools (the admin command) reach the same store instead of opening the locked files.
 */
export class EmbeddedCouch {
  private constructor(
    readonly url: string,
    private readonly server: Server,
    private readonly marker: string,
  ) {}

  static async start(dataDir: string, port = 0): Promise<EmbeddedCouch> {
    const dir = resolve(dataDir, 'couchdb');
    mkdirSync(dir, { recursive: true });
    const Pouch = PouchDB.defaults({ prefix: dir + '/' });
    const app = express();
    app.disable('x-powered-by');
    app.use(
      expressPouchDB(Pouch, {
        mode: 'minimumForPouchDB',
        configPath: join(dir, 'config.json'),
        logPath: join(dir, 'log.txt'),
      }),
    );
    const server = await new Promise<Server>((ok, fail) => {
      const s = app.listen(port, '127.0.0.1', () => ok(s));
      s.once('error', fail);
    });
    server.keepAliveTimeout = 60_000;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const marker = join(resolve(dataDir), 'couchdb.json');
    writeFileSync(marker, JSON.stringify({ url, pid: process.pid }) + '\n');
    return new EmbeddedCouch(url, server, marker);
  }

  async stop(): Promise<void> {
    rmSync(this.marker, { force: true });
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}
