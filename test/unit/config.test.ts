import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, envName, loadConfig } from '../../common/config.ts';

describe('config', () => {
  it('has defaults that serve standalone', () => {
    const c = loadConfig({});
    expect(c.port).to.equal(3233);
    // in the checkout, whatever the working directory
    expect(c.dataDir).to.equal(join(fileURLToPath(new URL('../..', import.meta.url)), '.swirl', 'data'));
    expect(c.couchdbUrl).to.equal(undefined);
    expect(c.guestNamespace).to.equal('guest');
  });

  it('reads SWIRL_* variables', () => {
    const c = loadConfig({ SWIRL_PORT: '8080', SWIRL_DATA_DIR: '/tmp/x', SWIRL_COUCHDB_URL: 'http://admin:pw@127.0.0.1:5984', SWIRL_AUTH_CACHE_MS: '0' });
    expect(c.port).to.equal(8080);
    expect(c.dataDir).to.equal('/tmp/x');
    expect(c.couchdbUrl).to.equal('http://admin:pw@127.0.0.1:5984');
    expect(c.authCacheMs).to.equal(0);
  });

  it('maps keys to variable names', () => {
    expect(envName('couchdbUrl')).to.equal('SWIRL_COUCHDB_URL');
    expect(envName('jwtTtlSeconds')).to.equal('SWIRL_JWT_TTL_SECONDS');
  });

  it('names every invalid key in one message', () => {
    let err: unknown;
    try {
      loadConfig({ SWIRL_PORT: 'abc', SWIRL_GUEST_KEY: 'nope', SWIRL_COUCHDB_URL: 'ftp://x' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).to.contain('SWIRL_PORT');
    expect(msg).to.contain('SWIRL_GUEST_KEY');
    expect(msg).to.contain('SWIRL_COUCHDB_URL');
    expect(msg).to.contain('"abc"');
  });

  it('does not repeat a secret in its message', () => {
    expect(() => loadConfig({ SWIRL_JWT_SECRET: 'too-short-secret' })).to.throw(ConfigError, /SWIRL_JWT_SECRET: .*\(got 16 characters\)/);
    try {
      loadConfig({ SWIRL_JWT_SECRET: 'too-short-secret', SWIRL_EMBEDDED_COUCHDB_PASSWORD: 'short-pw' });
    } catch (e) {
      expect((e as Error).message).to.not.contain('too-short-secret').and.not.contain('short-pw');
    }
  });

  it('does not repeat the credentials of a URL in its message', () => {
    expect(() => loadConfig({ SWIRL_REDIS_URL: 'http://:hunter2pw@redis:6379' })).to.throw(ConfigError, /SWIRL_REDIS_URL: .*\(got "http:\/\/\*\*\*@redis:6379"\)/);
  });

  it('an embedded store served beyond loopback needs a password (invokers are given it)', () => {
    expect(() => loadConfig({ SWIRL_EMBEDDED_COUCHDB_HOST: '0.0.0.0' })).to.throw(ConfigError, /SWIRL_EMBEDDED_COUCHDB_PASSWORD: required when SWIRL_EMBEDDED_COUCHDB_HOST is not a loopback address/);
    expect(loadConfig({ SWIRL_EMBEDDED_COUCHDB_HOST: '0.0.0.0', SWIRL_EMBEDDED_COUCHDB_PASSWORD: 'p'.repeat(16) }).embeddedCouchdbPassword).to.equal('p'.repeat(16));
    expect(loadConfig({ SWIRL_EMBEDDED_COUCHDB_HOST: '127.0.0.1' }).embeddedCouchdbPassword).to.equal(undefined);
  });

  it('rejects out-of-range ports', () => {
    expect(() => loadConfig({ SWIRL_PORT: '70000' })).to.throw(ConfigError, /SWIRL_PORT/);
  });
});

describe('config: namespaces', () => {
  it('refuses a guest namespace that starts with _', () => {
    expect(() => loadConfig({ SWIRL_GUEST_NAMESPACE: '_design' })).to.throw(ConfigError, /SWIRL_GUEST_NAMESPACE/);
  });
});

describe('config file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'swirl-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads camelCase keys from SWIRL_CONFIG_FILE, the environment winning', () => {
    const file = join(dir, 'swirl.json');
    writeFileSync(file, JSON.stringify({ port: 4000, dataDir: '/from/file', logLevel: 'warn' }));
    const c = loadConfig({ SWIRL_CONFIG_FILE: file, SWIRL_LOG_LEVEL: 'debug' });
    expect(c.port).to.equal(4000);
    expect(c.dataDir).to.equal('/from/file');
    expect(c.logLevel).to.equal('debug');
  });

  it('names the key of a bad value from the file, and a file it cannot read', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ jwtTtlSeconds: 5 }));
    expect(() => loadConfig({ SWIRL_CONFIG_FILE: file })).to.throw(ConfigError, /SWIRL_JWT_TTL_SECONDS/);
    expect(() => loadConfig({ SWIRL_CONFIG_FILE: join(dir, 'missing.json') })).to.throw(ConfigError, /SWIRL_CONFIG_FILE/);
    writeFileSync(join(dir, 'broken.json'), '{ not json');
    expect(() => loadConfig({ SWIRL_CONFIG_FILE: join(dir, 'broken.json') })).to.throw(ConfigError, /SWIRL_CONFIG_FILE/);
  });
});
