import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import nano from 'nano';
import { ServiceUnavailableError } from '../../common/errors.ts';
import { CouchStore } from '../../common/store/couch-store.ts';
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

  it('refuses multipart requests (which would crash its parser) and keeps serving', async function () {
    const embedded = await startEmbeddedStore();
    try {
      const body = '--b\r\ncontent-type: application/json\r\n\r\nnot json\r\n--b--\r\n';
      const res = await fetch(`${embedded.couch.url}/whisks/doc1`, { method: 'PUT', headers: { 'content-type': 'multipart/related; boundary=b' }, body });
      expect(res.status).to.equal(415);
      const stillUp = await fetch(`${embedded.couch.url}/whisks`);
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
