import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import nano from 'nano';
import { ServiceUnavailableError } from '../../common/errors.ts';
import { CouchStore } from '../../common/store/couch-store.ts';
import { EmbeddedCouch } from '../../common/store/embedded-couch.ts';
import { privateDir } from '../../common/private-files.ts';
import { expectReject, sampleAction, sampleActivation, sampleSubject, startEmbeddedStore, uniqueName } from '../support/store-fixtures.ts';
import { storeConformance } from './store.conformance.ts';

storeConformance('embedded CouchDB-API server', async () => {
  const embedded = await startEmbeddedStore();
  return { store: embedded.store, restart: () => embedded.restart(), teardown: () => embedded.cleanup() };
}, { restartable: true });

const couchUrl = process.env.SWIRL_TEST_COUCHDB_URL;
if (couchUrl) {
  storeConformance('CouchDB at SWIRL_TEST_COUCHDB_URL', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}_`;
    const store = new CouchStore(couchUrl, prefix);
    await store.init();
    return {
      store,
      teardown: async () => {
        await store.close();
        const server = nano(couchUrl);
        for (const db of ['whisks', 'subjects', 'activations', 'feeds']) {
          await server.db.destroy(`${prefix}${db}`).catch(() => undefined);
        }
      },
    };
  }, { restartable: false });
}

describe('EmbeddedCouch', function () {
  it('stop() releases the data directory: another process can open it and read the data', async function () {
    this.timeout(30_000);
    const embedded = await startEmbeddedStore();
    try {
      const ns = uniqueName('ns');
      const subject = sampleSubject({ namespaces: [ns] });
      await embedded.store.putSubject(subject);
      await embedded.store.put('action', sampleAction({ namespace: ns, name: 'hello' }));
      await embedded.store.putActivations([sampleActivation({ namespace: ns, name: 'hello', start: 1 })]);
      expect(await embedded.store.count('action', { namespace: ns })).to.equal(1); // views built and open
      await embedded.couch.stop();

      const child = fileURLToPath(new URL('../support/embedded-store-child.ts', import.meta.url));
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, embedded.dataDir, ns], { timeout: 20_000 }).catch((e: { stderr?: string }) => {
        throw new Error(`the other process could not open the store: ${String(e.stderr).slice(0, 1500)}`);
      });
      expect(JSON.parse(stdout)).to.deep.equal({ subject, actions: ['hello'], activations: 1 });
    } finally {
      await embedded.cleanup();
    }
  });

  it('answers only user swirl with its password (401 otherwise); its marker, with the URL and password, is 0600 in a 0700 directory', async function () {
    const embedded = await startEmbeddedStore();
    try {
      const { origin, authorization } = embedded.couch;
      const wrong = 'Basic ' + Buffer.from('swirl:guessed-password-0123').toString('base64');
      for (const [method, path, headers] of [
        ['GET', '/subjects/_all_docs?include_docs=true', {}],
        ['GET', '/_all_dbs', { authorization: wrong }],
        ['PUT', '/subjects/mallory', {}],
        ['GET', '/', { authorization: authorization.toLowerCase() }],
      ] as const) {
        const res = await fetch(`${origin}${path}`, { method, headers, ...(method === 'PUT' ? { body: '{"subject":"mallory","namespaces":[]}' } : {}) });
        expect(res.status, `${method} ${path}`).to.equal(401);
        expect(await res.json()).to.deep.equal({ error: 'unauthorized', reason: 'Name or password is incorrect.' });
      }
      expect((await fetch(`${origin}/subjects`, { headers: { authorization } })).status).to.equal(200);
      const marker = join(embedded.dataDir, 'couchdb.json');
      expect(statSync(marker).mode & 0o777).to.equal(0o600);
      expect(statSync(embedded.dataDir).mode & 0o777).to.equal(0o700);
      expect(JSON.parse(readFileSync(marker, 'utf8')).url).to.equal(embedded.couch.url).and.match(/^http:\/\/swirl:[^@]{16,}@127\.0\.0\.1:\d+$/);
    } finally {
      await embedded.cleanup();
    }
  });

  it('privateDir() makes an existing data directory private: 0700 directories, 0600 files, LevelDB\'s included; the store opens as before', async function () {
    const dataDir = mkdtempSync(join(tmpdir(), 'swirl-old-'));
    try {
      const first = await EmbeddedCouch.start(dataDir);
      const ns = uniqueName('old');
      await new CouchStore(first.url).init();
      await new CouchStore(first.url).putSubject(sampleSubject({ namespaces: [ns] }));
      await first.stop();
      // as an install before this change left it
      const all = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...all(join(dir, e.name))] : [join(dir, e.name)]));
      for (const path of [dataDir, ...all(dataDir)]) chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);
      expect(all(dataDir).filter((p) => /\.(ldb|log)$|CURRENT$|MANIFEST-/.test(p)).length, 'LevelDB files').to.be.greaterThan(3);
      privateDir(dataDir);
      for (const path of [dataDir, ...all(dataDir)]) expect(statSync(path).mode & 0o777, path).to.equal(statSync(path).isDirectory() ? 0o700 : 0o600);
      const second = await EmbeddedCouch.start(dataDir);
      try {
        expect(await new CouchStore(second.url).subjectByNamespace(ns)).to.not.equal(undefined);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses multipart requests (which would crash its parser) and keeps serving', async function () {
    const embedded = await startEmbeddedStore();
    try {
      const body = '--b\r\ncontent-type: application/json\r\n\r\nnot json\r\n--b--\r\n';
      const { origin, authorization } = embedded.couch;
      const res = await fetch(`${origin}/whisks/doc1`, { method: 'PUT', headers: { authorization, 'content-type': 'multipart/related; boundary=b' }, body });
      expect(res.status).to.equal(415);
      const stillUp = await fetch(`${origin}/whisks`, { headers: { authorization } });
      expect(stillUp.status).to.equal(200);
    } finally {
      await embedded.cleanup();
    }
  });
});

describe('CouchStore', function () {
  it('init() is idempotent and keeps the data', async function () {
    const embedded = await startEmbeddedStore({ prefix: 'again_' });
    try {
      const s = sampleSubject();
      await embedded.store.putSubject(s);
      await embedded.store.init();
      await new CouchStore(embedded.couch.url, 'again_').init();
      expect(await embedded.store.subjectByNamespace(s.namespaces[0]!.name)).to.deep.equal(s);
    } finally {
      await embedded.cleanup();
    }
  });

  it('reports an unreachable server as ServiceUnavailableError', async function () {
    // a port that was free a moment ago: nothing listens there
    const port = await new Promise<number>((ok) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => ok(p));
      });
    });
    const store = new CouchStore(`http://127.0.0.1:${port}`);
    await expectReject(store.get('action', 'ns', 'a'), ServiceUnavailableError);
    await expectReject(store.putActivations([sampleActivation({ namespace: 'ns', name: 'a', start: 1 })]), ServiceUnavailableError);
    await expectReject(store.listActivations('ns', { skip: 0, limit: 1 }), ServiceUnavailableError);
    await expectReject(store.init(), ServiceUnavailableError);
  });
});
