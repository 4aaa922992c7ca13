import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SIZES } from '../../common/limits.ts';
import { Sealer } from '../../common/sealing.ts';
import { CouchStore } from '../../common/store/couch-store.ts';
import { EmbeddedCouch } from '../../common/store/embedded-couch.ts';
import { attachStore, openStandaloneStore } from '../../common/store/open.ts';
import { bigCode, digest, sampleAction, sampleActivation, samplePackage, sampleSubject, sampleTrigger } from '../support/store-fixtures.ts';

const config = (dataDir: string) => ({ dataDir, couchdbUrl: undefined, dbPrefix: '', embeddedCouchdbPort: 0 });

describe('standalone store: a data directory of the embedded CouchDB-API store is migrated to lmdb on first start', function () {
  this.timeout(60_000);
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'swirl-migrate-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('copies subjects, secrets, entities (sealed parameters, big code), feeds and activations; keeps the old files renamed; says so with progress; once', async () => {
    const masterKey = randomBytes(32);
    // the data directory as the current CouchDB-based standalone leaves it
    const couch = await EmbeddedCouch.start(dataDir);
    const old = new CouchStore(couch.url, '', new Sealer(masterKey));
    await old.init();
    const subject = sampleSubject({ namespaces: ['alice'] });
    await old.putSubject(subject);
    const jwt = await old.secret('jwt', () => 'the-old-jwt-secret');
    const code = bigCode(SIZES.inlineCode + 4096, 'migrated');
    const params = [{ key: 'password', value: 'p4ss' }];
    const big = await old.put('action', sampleAction({ namespace: 'alice/tools', name: 'big', code, parameters: params, updated: 2 }));
    await old.put('action', sampleAction({ namespace: 'alice', name: 'small', updated: 3 }));
    const pkg = await old.put('package', samplePackage({ namespace: 'alice', name: 'tools', parameters: params, updated: 1 }));
    const trigger = await old.put('trigger', sampleTrigger({ namespace: 'alice', name: 't' }));
    const feed = await old.putFeed({ namespace: 'alice', name: 't', provider: 'alarms', feed: 'alarms/alarm', config: { cron: '* * * * *' }, active: true, dateChanged: 1, created: 1 });
    const records = Array.from({ length: 1203 }, (_, i) => sampleActivation({ namespace: 'alice', name: i % 2 ? 'small' : 'tools/big', start: 1_700_000_000_000 + i }));
    for (let i = 0; i < records.length; i += 400) await old.putActivations(records.slice(i, i + 400));
    const sealedShown = old.sealedParameters('alice', 'tools', params);
    await couch.stop();

    const lines: string[] = [];
    const opened = await openStandaloneStore(config(dataDir), masterKey, (line) => lines.push(line));
    try {
      const { store } = opened;
      expect(opened.where).to.match(/^lmdb /);
      expect(await store.getSubject(subject.subject)).to.deep.include(subject);
      expect(await store.subjectByUuid(subject.namespaces[0]!.uuid)).to.deep.equal({ subject, namespace: 'alice' });
      expect(await store.secret('jwt', () => 'a new one')).to.equal(jwt);

      const gotBig = await store.get('action', 'alice/tools', 'big');
      expect(digest(gotBig.exec.code)).to.equal(digest(code));
      expect(gotBig.parameters, 'opened with the same key and associated data').to.deep.equal(params);
      const { _rev: _b, exec: _e, ...bigRest } = big;
      expect(gotBig).to.deep.include(bigRest);
      expect(await store.get('package', 'alice', 'tools')).to.deep.include({ parameters: params, name: pkg.name });
      expect(store.sealedParameters('alice', 'tools', params), 'shown sealed the same').to.deep.equal(sealedShown);
      expect((await store.get('trigger', 'alice', 't')).name).to.equal(trigger.name);
      expect((await store.list('action', { namespace: 'alice' }, { skip: 0, limit: 10 })).map((a) => a.name)).to.deep.equal(['small', 'big']);
      expect(await store.count('action', { namespace: 'alice', pkg: 'tools' })).to.equal(1);

      const { _rev: _f, ...feedFields } = feed;
      const feeds = await store.listFeeds('alarms');
      expect(feeds).to.have.length(1);
      expect(feeds[0]).to.deep.include(feedFields);
      expect(await store.countActivations('alice', {})).to.equal(records.length);
      expect(await store.countActivations('alice', { name: 'tools/big' })).to.equal(602);
      expect(await store.getActivation('alice', records[700]!.activationId)).to.deep.equal(records[700]);

      // a revision from the new store updates as before
      const again = await store.get('action', 'alice', 'small');
      await store.put('action', { ...again, version: '0.0.2' }, again._rev);

      expect(lines[0]).to.equal(`migrating the store of ${join(dataDir, 'couchdb')} to ${join(dataDir, 'lmdb')}`);
      // a line per page of 500
      expect(lines.filter((l) => l.startsWith('activations: '))).to.have.length(3).and.include('activations: 1203 of 1203 documents');
      expect(lines).to.include('whisks: 4 of 4 documents').and.include('subjects: 2 of 2 documents').and.include('feeds: 1 of 1 documents');
      const kept = readdirSync(dataDir).find((f) => f.startsWith('couchdb.migrated-'));
      expect(kept, 'the old store kept, renamed').to.be.a('string');
      expect(lines[lines.length - 1]).to.equal(`migrated ${1 + 1 + 4 + 1 + records.length} documents; the old store is kept in ${join(dataDir, kept!)} (remove it once you no longer need it)`);
      expect(existsSync(join(dataDir, 'couchdb'))).to.equal(false);
    } finally {
      await opened.close();
    }

    // a CouchDB-API store made afterwards (SWIRL_STANDALONE_STORE=couchdb) is not merged, and that is said
    const later = await EmbeddedCouch.start(dataDir);
    await later.stop();
    const quiet: string[] = [];
    const second = await openStandaloneStore(config(dataDir), masterKey, (line) => quiet.push(line));
    try {
      expect(quiet, 'migrated once').to.deep.equal([`${join(dataDir, 'couchdb')} is not read: the store is ${join(dataDir, 'lmdb')} (SWIRL_STANDALONE_STORE=couchdb uses the other)`]);
      expect((await second.store.get('action', 'alice', 'small')).version).to.equal('0.0.2');
    } finally {
      await second.close();
    }
  });

  it('the admin command\'s store (attachStore) opens the lmdb store beside a running server and sees what it writes, and the server sees the admin\'s', async () => {
    const server = await openStandaloneStore(config(dataDir), randomBytes(32), () => undefined);
    try {
      const admin = await attachStore(config(dataDir));
      try {
        const bob = sampleSubject({ namespaces: ['bob'] });
        await admin.store.putSubject(bob);
        expect(await server.store.subjectByNamespace('bob')).to.deep.equal(bob);
        await server.store.put('action', sampleAction({ namespace: 'bob', name: 'a' }));
        expect((await admin.store.find('bob', 'a'))?.name).to.equal('a');
        await admin.store.deleteSubject(bob.subject);
        expect(await server.store.subjectByNamespace('bob')).to.equal(undefined);
      } finally {
        await admin.close();
      }
    } finally {
      await server.close();
    }
  });
});
