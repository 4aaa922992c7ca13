import { expect } from 'chai';
import { ConfigError, envName, loadConfig } from '../../common/config.ts';

describe('config', () => {
  it('has defaults that serve standalone', () => {
    const c = loadConfig({});
    expect(c.port).to.equal(3233);
    expect(c.dataDir).to.equal('./.swirl/data');
    expect(c.couchdbUrl).to.equal(undefined);
    expect(c.guestNamespace).to.equal('guest');
  });

  it('reads SWIRL_* variables', () => {
    const c = loadConfig({ SWIRL_PORT: '8080', SWIRL_DATA_DIR: '/tmp/x', SWIRL_COUCHDB_URL: 'http://admin:pw@127.0.0.1:5984', SWIRL_LOG_PRETTY: 'true' });
    expect(c.port).to.equal(8080);
    expect(c.dataDir).to.equal('/tmp/x');
    expect(c.couchdbUrl).to.equal('http://admin:pw@127.0.0.1:5984');
    expect(c.logPretty).to.equal(true);
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

  it('rejects out-of-range ports', () => {
    expect(() => loadConfig({ SWIRL_PORT: '70000' })).to.throw(ConfigError, /SWIRL_PORT/);
  });
});

describe('config: namespaces', () => {
  it('refuses a guest namespace that starts with _', () => {
    expect(() => loadConfig({ SWIRL_GUEST_NAMESPACE: '_design' })).to.throw(ConfigError, /SWIRL_GUEST_NAMESPACE/);
  });
});
