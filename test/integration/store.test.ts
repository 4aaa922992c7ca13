import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import nano from 'nano';
import type { KeyValue } from '../../common/entities.ts';
import { BadRequestError, ServiceUnavailableError, UnsealError } from '../../common/errors.ts';
import { SIZES } from '../../common/limits.ts';
import { Sealer } from '../../common/sealing.ts';
import { CouchStore } from '../../common/store/couch-store.ts';
import { EmbeddedCouch } from '../../common/store/embedded-couch.ts';
import { LmdbStore } from '../../common/store/lmdb-store.ts';
import { openStoreWhenUp } from '../../common/store/open.ts';
import { freePort } from '../support/process.ts';
import { privateDir } from '../../common/private-files.ts';
import { type EmbeddedStore, expectReject, sampleAction, sampleActivation, samplePackage, sampleSubject, sampleTrigger, startEmbeddedStore, uniqueName } from '../support/store-fixtures.ts';
import { storeConformance } from './store.conformance.ts';

storeConformance('embedded CouchDB-API server', async () => {
  const embedded = await startEmbeddedStore();
  return { store: embedded.store, restart: () => embedded.restart(), teardown: () => embedded.cleanup() };
}, { restartable: true });

storeConformance('lmdb (in-process, standalone)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swirl-lmdb-'));
  const sealer = new Sealer(randomBytes(32));
  let store = LmdbStore.open(dir, sealer);
  return {
    store,
    restart: async () => {
      await store.close();
      store = LmdbStore.open(dir, sealer);
      return store;
    },
    teardown: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}, { restartable: true });

describe('LmdbStore', function () {
  it('a write is committed once it resolves (flushing to disk is lmdb\'s default, kept): after SIGKILL of the writing process, every entity and record it was told of is read back', async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), 'swirl-lmdb-kill-'));
    const ns = uniqueName('killed');
    try {
      const child = fileURLToPath(new URL('../support/lmdb-writer-child.ts', import.meta.url));
      const writer = spawn(process.execPath, ['--import', 'tsx', child, dir, ns], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      writer.stderr.on('data', (d: Buffer) => (err += d.toString()));
      // killed mid-stream, while writes are in flight
      await new Promise<void>((ok, fail) => {
        writer.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.split('\n').length > 200) ok();
        });
        writer.once('exit', () => fail(new Error(`the writer stopped: ${err.slice(0, 1500)}`)));
      });
      writer.kill('SIGKILL');
      await new Promise((ok) => writer.once('close', ok));
      // (a line cut short by the kill does not count)
      const told = out.split('\n').filter((l) => /^\d+( [0-9a-f]{32}){2}$/.test(l)).map((l) => l.split(' '));
      expect(told.length).to.be.at.least(200);
      const store = LmdbStore.open(dir);
      try {
        for (const [i, ...ids] of told) {
          expect((await store.get('action', ns, `a${i}`)).name).to.equal(`a${i}`);
          for (const id of ids) expect((await store.getActivation(ns, id!)).activationId).to.equal(id);
        }
        expect(await store.countActivations(ns, {})).to.be.at.least(told.length * 2);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('LmdbStore: records', function () {
  it('a record larger than swirl makes records fit in (SIZES.record) is refused as document_too_large; its batch is stored', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'swirl-lmdb-big-'));
    const store = LmdbStore.open(dir);
    try {
      const ns = uniqueName('big');
      const fits = sampleActivation({ namespace: ns, name: 'a', start: 1, logs: ['x'.repeat(SIZES.record - 4096)] });
      const huge = sampleActivation({ namespace: ns, name: 'a', start: 2, logs: ['x'.repeat(SIZES.record)] });
      const small = sampleActivation({ namespace: ns, name: 'a', start: 3 });
      const refused = await store.putActivations([fits, huge, small]);
      expect(refused.map((r) => [r.record.activationId, r.reason.split(':')[0]])).to.deep.equal([[huge.activationId, 'document_too_large']]);
      expect(await store.getActivation(ns, fits.activationId)).to.deep.equal(fits);
      expect(await store.countActivations(ns, {})).to.equal(2);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

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

describe('CouchStore: parameters and secrets encrypted at rest', function () {
  this.timeout(30_000);
  let embedded: EmbeddedStore;
  /** The document as it is in the database: what a copy of the store holds. */
  const raw = (db: string, id: string) => nano(embedded.couch.url).use(db).get(id) as Promise<Record<string, any>>;
  const other = (sealer?: Sealer) => new CouchStore(embedded.couch.url, '', sealer);
  before(async () => {
    embedded = await startEmbeddedStore();
  });
  after(() => embedded?.cleanup());

  it('action, package and trigger parameters are sealed in the documents (aes-256, OpenWhisk\'s marking) and read back in plain', async () => {
    const ns = uniqueName('sealed');
    const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
    const params = [{ key: 'password', value: secret }, { key: 'nested', value: { token: secret, n: 1 } }, { key: 'n', value: 9876543210123 }];
    const entities = [
      await embedded.store.put('action', sampleAction({ namespace: ns, name: 'a', parameters: params })),
      await embedded.store.put('package', samplePackage({ namespace: ns, name: 'p', parameters: params })),
      await embedded.store.put('trigger', sampleTrigger({ namespace: ns, name: 't', parameters: params })),
    ];
    for (const e of entities) {
      expect(e.parameters, 'what put returns').to.deep.equal(params);
      expect(((await embedded.store.get(e.entityType, ns, e.name)) as { parameters?: unknown }).parameters).to.deep.equal(params);
      const doc = await raw('whisks', `${ns}/${e.name}`);
      expect(JSON.stringify(doc)).to.not.contain(secret).and.not.contain('9876543210123');
      expect(doc.parameters.map((p: KeyValue) => [p.key, p.encryption])).to.deep.equal([['password', 'aes-256'], ['nested', 'aes-256'], ['n', 'aes-256']]);
      // a random IV per value: the same value seals differently
      expect(new Set(doc.parameters.map((p: KeyValue) => p.value)).size).to.equal(3);
    }
  });

  it('server secrets are kept sealed; one an older version kept in plain text is replaced by a new one', async () => {
    const name = uniqueName('jwt');
    const value = await embedded.store.secret(name, () => randomBytes(32).toString('base64url'));
    const doc = await raw('subjects', `swirl:secret:${name}`);
    expect(doc).to.not.have.property('value');
    expect(JSON.stringify(doc)).to.not.contain(value);
    expect(await embedded.store.secret(name, () => 'not made again')).to.equal(value);

    const legacy = uniqueName('legacy');
    await other().secret(legacy, () => 'plain-and-exposed');
    expect((await raw('subjects', `swirl:secret:${legacy}`)).value).to.equal('plain-and-exposed');
    const replaced = await embedded.store.secret(legacy, () => 'a new one');
    expect(replaced).to.equal('a new one');
    expect(JSON.stringify(await raw('subjects', `swirl:secret:${legacy}`))).to.not.contain('plain-and-exposed').and.not.contain('a new one');
    expect(await embedded.store.secret(legacy, () => 'not again')).to.equal('a new one');
  });

  it('another master key gets a clear error naming SWIRL_MASTER_KEY, not garbage', async () => {
    const ns = uniqueName('wrongkey');
    await embedded.store.put('action', sampleAction({ namespace: ns, name: 'a', parameters: [{ key: 'k', value: 'v' }] }));
    const name = uniqueName('secret');
    await embedded.store.secret(name, () => 'made');
    const wrong = other(new Sealer(randomBytes(32)));
    const e = await expectReject(wrong.get('action', ns, 'a'), UnsealError);
    expect(e.message).to.equal(`The parameter 'k' of '${ns}/a' cannot be decrypted with the configured master key (SWIRL_MASTER_KEY): it was encrypted with another key, or altered.`);
    expect((await expectReject(wrong.secret(name, () => 'x'), UnsealError)).message).to.match(new RegExp(`^The server secret '${name}' cannot be decrypted`));
    // a store without a key (an invoker's) reads them as they are, sealed
    const [p] = (await other().get('action', ns, 'a')).parameters;
    expect(p).to.include({ key: 'k', encryption: 'aes-256' }).and.not.deep.include({ value: 'v' });
  });

  it('parameters stored before encryption are read as they are, and sealed when next written', async () => {
    const ns = uniqueName('old');
    const plain = await other().put('action', sampleAction({ namespace: ns, name: 'a', parameters: [{ key: 'k', value: 'old-plain' }] }));
    expect(JSON.stringify(await raw('whisks', `${ns}/a`))).to.contain('old-plain');
    const read = await embedded.store.get('action', ns, 'a');
    expect(read.parameters).to.deep.equal([{ key: 'k', value: 'old-plain' }]);
    await embedded.store.put('action', { ...read, version: '0.0.2' }, plain._rev);
    expect(JSON.stringify(await raw('whisks', `${ns}/a`))).to.not.contain('old-plain');
    expect((await embedded.store.get('action', ns, 'a')).parameters).to.deep.equal([{ key: 'k', value: 'old-plain' }]);
  });

  it('a sealed value sent back is taken for its own entity only: copied to another one it is a 400', async () => {
    const ns = uniqueName('copy');
    const shownA = embedded.store.sealedParameters(ns, 'a', [{ key: 'k', value: 'mine' }]);
    expect(shownA[0]).to.include({ key: 'k', encryption: 'aes-256' });
    expect(embedded.store.sealedParameters(ns, 'a', [{ key: 'k', value: 'mine' }]), 'shown the same every time').to.deep.equal(shownA);
    expect(embedded.store.sealedParameters(ns, 'a', [{ key: 'k', value: 'yours' }])).to.not.deep.equal(shownA);
    const a = await embedded.store.put('trigger', sampleTrigger({ namespace: ns, name: 'a', parameters: shownA }));
    expect(a.parameters).to.deep.equal([{ key: 'k', value: 'mine' }]);
    await expectReject(embedded.store.put('trigger', sampleTrigger({ namespace: ns, name: 'b', parameters: shownA })), BadRequestError, "The parameter 'k' is encrypted for another entity or with another key: send its value instead.");
    const renamed = [{ ...shownA[0]!, key: 'other' }];
    await expectReject(embedded.store.put('trigger', sampleTrigger({ namespace: ns, name: 'c', parameters: renamed })), BadRequestError);
  });
});

describe('openStoreWhenUp (an invoker started before its store)', function () {
  this.timeout(30_000);

  it('waits, saying so, while the store does not answer, and opens it once it does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swirl-late-store-'));
    const port = await freePort();
    const password = randomBytes(12).toString('hex');
    const told: string[] = [];
    const opening = openStoreWhenUp({ couchdbUrl: `http://swirl:${password}@127.0.0.1:${port}`, dbPrefix: '', dataDir: dir, embeddedCouchdbPort: 0 }, { warn: (_o: unknown, msg: string) => told.push(msg) } as never);
    await new Promise((ok) => setTimeout(ok, 1_500));
    // the store comes up late
    const couch = await EmbeddedCouch.start(dir, port, '127.0.0.1', password);
    try {
      const opened = await opening;
      await opened.store.putSubject(sampleSubject({ subject: 'late' }));
      expect((await opened.store.getSubject('late'))?.subject).to.equal('late');
      expect(told).to.include('waiting for the store to answer');
      await opened.close();
    } finally {
      await couch.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not wait on a store that answers with an error of another kind', async () => {
    const embedded = await startEmbeddedStore();
    try {
      const wrong = embedded.couch.url.replace(/\/\/[^@]+@/, '//swirl:not-the-password@');
      const started = Date.now();
      const err = await openStoreWhenUp({ couchdbUrl: wrong, dbPrefix: '', dataDir: '/nonexistent', embeddedCouchdbPort: 0 }, { warn: () => undefined } as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(Error);
      expect(err).to.not.be.instanceOf(ServiceUnavailableError);
      expect(Date.now() - started).to.be.below(5_000);
    } finally {
      await embedded.cleanup();
    }
  });
});
