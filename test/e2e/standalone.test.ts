import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { TEST_NETWORK } from '../support/invoker-fixtures.ts';
import { installationId } from '../../invoker/factory/select.ts';
import { freePort, run, type Spawned } from '../support/process.ts';
import { guestKeyPath, readGuestKey } from '../../common/guest-key.ts';
import { masterKeyPath } from '../../common/master-key.ts';
import { call } from '../support/server.ts';
import { sleep } from '../support/api.ts';
import { asStranger, ensureStranger, openParent, strangerStatus } from '../support/stranger.ts';

const exec = promisify(execFile);

/** `npm start` as a user runs it: one process, embedded store in a data directory. */
describe('standalone (npm start)', function () {
  this.timeout(90_000);
  let dataDir: string;
  let port: number;
  let server: Spawned | undefined;

  // (an invoker id of its own: an invoker removes, at start, the containers of its id)
  const invokerId = String(1000 + Math.floor(Math.random() * 9000));
  /** Start `npm start`; the guest key as printed on first start, and as kept in the data directory. */
  const startIn = async (dir: string, env: Record<string, string> = {}) => {
    server = run('npm', ['start'], { SWIRL_DATA_DIR: dir, SWIRL_PORT: String(port), SWIRL_HOST: '127.0.0.1', SWIRL_INVOKER_ID: invokerId, SWIRL_DOCKER_NETWORK: TEST_NETWORK, ...env });
    const [, printed] = await server.waitFor(/guest key: (.+)/);
    const [, api] = await server.waitFor(/api: (\S+)/);
    return { key: readGuestKey(dir)!, printed: printed!, api: api! };
  };
  const start = (env: Record<string, string> = {}) => startIn(dataDir, env);
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...walk(join(dir, e.name))] : [join(dir, e.name)]));
  const stop = async () => {
    server?.kill('SIGTERM');
    const code = await server?.exited;
    server = undefined;
    return code;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'swirl-e2e-'));
    port = await freePort();
  });
  afterEach(async () => {
    if (server) await stop();
  });
  after(() => server?.killGroup('SIGKILL'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints the API URL, and the guest key once, kept in guest.key (0600); keeps an action created with curl across a restart', async () => {
    const first = await start();
    expect(first.api).to.equal(`http://127.0.0.1:${port}/api/v1`);
    expect(first.key).to.match(/^[0-9a-f-]{36}:[A-Za-z0-9]{64}$/);
    expect(first.printed).to.equal(first.key);
    // not a terminal: the banner goes to stderr, stdout carries JSON lines only
    expect(server!.stderr()).to.contain(`(shown this once; kept in ${guestKeyPath(dataDir)}, readable by this user only)`);
    expect(statSync(guestKeyPath(dataDir)).mode & 0o777).to.equal(0o600);
    // what `curl -u KEY -X PUT -d '{...}'` sends: a form content type
    const code = 'function main(p) { return { greeting: "hello " + p.name } }';
    const created = await call('PUT', `${first.api}/namespaces/_/actions/hello`, {
      auth: first.key,
      raw: JSON.stringify({ exec: { kind: 'nodejs:20', code } }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(created.status).to.equal(200);
    expect(created.body.name).to.equal('hello');
    const running = server!;
    await stop();
    // npm re-raises the signal on itself; the server's own graceful shutdown is in its log
    expect(running.stdout()).to.contain('"msg":"shutting down"');

    const second = await start();
    expect(second.key).to.equal(first.key);
    // not shown again: where it is
    expect(second.printed).to.equal(`kept in ${guestKeyPath(dataDir)}`);
    expect(server!.stdout()).to.not.contain(first.key.split(':')[1]);
    const got = await call('GET', `${second.api}/namespaces/_/actions/hello`, { auth: second.key });
    expect(got.status).to.equal(200);
    expect(got.body.exec.code).to.equal(code);
  });

  it('a data directory of the embedded CouchDB-API store (SWIRL_STANDALONE_STORE=couchdb, as older versions kept it) is migrated to lmdb on the next start, saying so', async () => {
    const own = mkdtempSync(join(tmpdir(), 'swirl-e2e-migrate-'));
    try {
      const first = await startIn(own, { SWIRL_STANDALONE_STORE: 'couchdb' });
      const code = 'function main() { return { migrated: true } }';
      expect((await call('PUT', `${first.api}/namespaces/_/actions/kept`, { auth: first.key, body: { exec: { kind: 'nodejs:20', code }, parameters: [{ key: 'pw', value: 'p4ss' }] } })).status).to.equal(200);
      await stop();

      const second = await startIn(own);
      expect(second.key).to.equal(first.key);
      expect(server!.stderr()).to.contain(`store: migrating the store of ${join(own, 'couchdb')} to ${join(own, 'lmdb')}`).and.match(/store: migrated \d+ documents; the old store is kept in \S+couchdb\.migrated-/);
      const got = await call('GET', `${second.api}/namespaces/_/actions/kept`, { auth: second.key });
      expect(got.body.exec.code).to.equal(code);
      expect(got.body.parameters).to.have.length(1);
      expect(got.body.parameters[0]).to.include({ key: 'pw', encryption: 'aes-256' });
      expect(readdirSync(own)).to.include('lmdb').and.not.include('couchdb');
    } finally {
      await stop();
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('logs JSON lines only on a stdout that is no terminal: the transaction id returned in X-Request-ID on each, one line per activation, `component` once', async () => {
    const { api, key } = await start();
    const res = await call('GET', `${api}/namespaces/_/triggers/missing`, { auth: key });
    expect(res.status).to.equal(404);
    const tid = res.headers.get('x-request-id')!;
    expect(res.body.code).to.equal(tid);
    await server!.waitFor(new RegExp(`"tid":"${tid}"`), 5000);
    const line = server!.stdout().split('\n').find((l) => l.includes(`"tid":"${tid}"`))!;
    const entry = JSON.parse(line);
    expect(entry).to.include({ tid, status: 404, method: 'GET' });

    // an invoke: its transaction id, from the request through the bus to the invoker, and one line for the activation
    await call('PUT', `${api}/namespaces/_/actions/logged?overwrite=true`, { auth: key, body: { exec: { kind: 'nodejs:20', code: 'function main() { return {} }' } } });
    const invoked = await call('POST', `${api}/namespaces/_/actions/logged?blocking=true`, { auth: key, body: {} });
    const itid = invoked.headers.get('x-request-id')!;
    await server!.waitFor(new RegExp(`"msg":"activation".*"tid":"${itid}"|"tid":"${itid}".*"msg":"activation"`), 5000);
    // (npm's own lines, `> swirl@… start`, name the script it runs)
    const lines = server!.stdout().split('\n').filter((l) => l.trim() !== '' && !l.startsWith('> '));
    for (const l of lines) expect(() => JSON.parse(l), `not a JSON line: ${l}`).to.not.throw();
    for (const l of lines) expect(l.match(/"component":/g), `component once: ${l}`).to.have.length(1);
    const activation = lines.map((l) => JSON.parse(l)).find((e) => e.msg === 'activation' && e.tid === itid);
    expect(activation).to.include({ activationId: invoked.body.activationId, namespace: 'guest', action: '/guest/logged', kind: 'nodejs:20', status: 'success', component: 'invoker' });
    expect(activation.start).to.be.oneOf(['cold', 'prewarm']);
    expect(activation.duration).to.be.a('number');
    expect(activation.wait).to.be.a('number');
    expect(activation.init).to.be.a('number');
  });

  it('admin command creates a user beside the running server, and its key works', async () => {
    const { api } = await start({ SWIRL_AUTH_CACHE_MS: '0' });
    const { stdout } = await exec('npm', ['run', '-s', 'admin', '--', 'user', 'create', 'bob'], { env: { ...process.env, SWIRL_DATA_DIR: dataDir } });
    const key = stdout.trim().split('\n').pop()!;
    expect(key).to.match(/^[0-9a-f-]{36}:\w{64}$/);
    const res = await call('GET', `${api}/namespaces`, { auth: key });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal(['bob']);
    const list = await exec('npm', ['run', '-s', 'admin', '--', 'user', 'list'], { env: { ...process.env, SWIRL_DATA_DIR: dataDir } });
    expect(list.stdout).to.match(/^bob\tbob$/m);
    await exec('npm', ['run', '-s', 'admin', '--', 'user', 'delete', 'bob'], { env: { ...process.env, SWIRL_DATA_DIR: dataDir } });
    // with the identity cache off (SWIRL_AUTH_CACHE_MS=0) a deleted user is refused at once
    expect((await call('GET', `${api}/namespaces`, { auth: key })).status).to.equal(401);
  });

  it('admin: `user get` says a key cannot be shown; `user key guest` issues a new one, printed once and kept in guest.key; the old key and its tokens stop working', async () => {
    const { api, key: old } = await start({ SWIRL_AUTH_CACHE_MS: '0' });
    const env = { env: { ...process.env, SWIRL_DATA_DIR: dataDir } };
    const token = (await call('POST', `${api}/token`, { auth: old })).body.token;
    expect((await call('GET', `${api}/namespaces`, { auth: `Bearer ${token}` })).status).to.equal(200);
    const got = await exec('npm', ['run', '-s', 'admin', '--', 'user', 'get', 'guest'], env);
    expect(got.stdout).to.contain(old.split(':')[0]).and.contain('the key cannot be shown: it is stored hashed').and.not.contain(old.split(':')[1]);
    const issued = await exec('npm', ['run', '-s', 'admin', '--', 'user', 'key', 'guest'], env);
    const fresh = issued.stdout.trim();
    expect(fresh).to.match(/^[0-9a-f-]{36}:\w{64}$/).and.not.equal(old);
    expect(fresh.split(':')[0], 'the same uuid').to.equal(old.split(':')[0]);
    expect(issued.stderr).to.contain(`the guest key is kept in ${guestKeyPath(dataDir)} as well`);
    expect(readGuestKey(dataDir)).to.equal(fresh);
    expect((await call('GET', `${api}/namespaces`, { auth: fresh })).body).to.deep.equal(['guest']);
    expect((await call('GET', `${api}/namespaces`, { auth: old })).status).to.equal(401);
    expect((await call('GET', `${api}/namespaces`, { auth: `Bearer ${token}` })).status).to.equal(401);
    // `swirl admin` is the same command
    const viaCli = await exec(process.execPath, ['bin/swirl.js', 'admin', 'user', 'key', 'guest'], env);
    expect(viaCli.stdout.trim()).to.match(/^[0-9a-f-]{36}:\w{64}$/).and.equal(readGuestKey(dataDir));
    expect((await call('GET', `${api}/namespaces`, { auth: fresh })).status).to.equal(401);
  });

  it('runs an action through its own invoker; `admin limits` throttles the namespace at once', async () => {
    const { api, key } = await start({ SWIRL_AUTH_CACHE_MS: '0', SWIRL_PREWARM: '[]' });
    expect(server!.stderr()).to.match(/swirl standalone is up \(actions run in (Docker containers|local processes, not isolated)\)/);
    const put = await call('PUT', `${api}/namespaces/_/actions/twice`, { auth: key, body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return { twice: p.n * 2 } }' } } });
    expect(put.status).to.equal(200);
    const invoke = () => call('POST', `${api}/namespaces/_/actions/twice?blocking=true&result=true`, { auth: key, body: { n: 21 } });
    const first = await invoke();
    expect(first.status).to.equal(200);
    expect(first.body).to.deep.equal({ twice: 42 });

    const admin = (...args: string[]) => exec('npm', ['run', '-s', 'admin', '--', 'limits', ...args], { env: { ...process.env, SWIRL_DATA_DIR: dataDir } });
    // 0 per minute refuses every invoke, whichever one-minute window the next one falls in
    await admin('set', 'guest', '--invocationsPerMinute', '0');
    expect((await admin('get', 'guest')).stdout).to.equal('invocationsPerMinute = 0\n');
    const limited = await invoke();
    expect(limited.status).to.equal(429);
    expect(limited.body.error).to.match(/^Too many requests in the last minute \(count: \d+, allowed: 0\)\.$/);
    await admin('delete', 'guest');
    expect((await admin('get', 'guest')).stdout).to.equal('no limits set for guest\n');
    expect((await invoke()).status).to.equal(200);
  });

  it("actions call actions: require('openwhisk') reaches SWIRL_API_HOST (here this host's own address) with the provide-api-key key", async () => {
    const ip = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    expect(ip, 'a non-loopback address of this host').to.be.a('string');
    const apiHost = `http://${ip}:${port}`;
    const { api, key } = await start({ SWIRL_HOST: '0.0.0.0', SWIRL_API_HOST: apiHost, SWIRL_PREWARM: '[]' });
    const put = (name: string, body: unknown) => call('PUT', `${api}/namespaces/_/actions/${name}?overwrite=true`, { auth: key, body });
    expect((await put('callee', { exec: { kind: 'nodejs:20', code: 'function main(p) { return { doubled: p.x * 2 } }' } })).status).to.equal(200);
    const caller = "const ow = require('openwhisk'); async function main(p) { return { result: await ow().actions.invoke({ name: 'callee', params: p, blocking: true, result: true }), via: process.env.__OW_API_HOST } }";
    expect((await put('caller', { exec: { kind: 'nodejs:20', code: caller }, annotations: [{ key: 'provide-api-key', value: true }] })).status).to.equal(200);
    const res = await call('POST', `${api}/namespaces/_/actions/caller?blocking=true&result=true`, { auth: key, body: { x: 21 } });
    expect(res.body).to.deep.equal({ result: { doubled: 42 }, via: apiHost });
  });

  it('answers nothing before an invoke can succeed: an action and a sequence invoked the moment the API first answers both succeed; /ready is 503 until then', async () => {
    const first = await start();
    const put = (name: string, body: unknown) => call('PUT', `${first.api}/namespaces/_/actions/${name}?overwrite=true`, { auth: first.key, body });
    expect((await put('early', { exec: { kind: 'nodejs:20', code: 'function main(p) { return { n: (p.n || 0) + 1 } }' } })).status).to.equal(200);
    expect((await put('early-seq', { exec: { kind: 'sequence', components: ['/guest/early', '/guest/early'] } })).status).to.equal(200);
    await stop();

    // a restart: the port answers long before its invoker has started (images checked, network, firewall, stem cells)
    server = run('npm', ['start'], { SWIRL_DATA_DIR: dataDir, SWIRL_PORT: String(port), SWIRL_HOST: '127.0.0.1', SWIRL_INVOKER_ID: invokerId, SWIRL_DOCKER_NETWORK: TEST_NETWORK });
    const base = `http://127.0.0.1:${port}`;
    const readyAnswers: number[] = [];
    let polling = true;
    const readyPoll = (async () => {
      while (polling) {
        const r = await fetch(`${base}/ready`).catch(() => undefined);
        if (r) readyAnswers.push(r.status);
        await sleep(20);
      }
    })();
    // the first answer of the API, whenever it comes
    let answered: Response | undefined;
    while (!answered) answered = await fetch(`${base}/api/v1`).catch(() => sleep(10).then(() => undefined));
    expect(answered.status).to.equal(200);
    const [action, sequence] = await Promise.all(
      ['early', 'early-seq'].map((name) => call('POST', `${base}/api/v1/namespaces/_/actions/${name}?blocking=true&result=true`, { auth: first.key, body: { n: 1 } })),
    );
    expect([action!.status, action!.body]).to.deep.equal([200, { n: 2 }]);
    expect([sequence!.status, sequence!.body]).to.deep.equal([200, { n: 3 }]);
    expect(server.stderr()).to.contain('swirl standalone is up');
    polling = false;
    await readyPoll;
    // /ready answered 503 (starting) until then, and 200 after
    expect(readyAnswers.at(-1)).to.equal(200);
    expect(readyAnswers.indexOf(200), JSON.stringify(readyAnswers)).to.equal(readyAnswers.lastIndexOf(503) + 1);
  });

  it('admin from another folder: reaches the running server\'s store with SWIRL_DATA_DIR; without a store where it looks, fails naming the setting and makes none', async () => {
    const { api } = await start({ SWIRL_AUTH_CACHE_MS: '0' });
    const elsewhere = mkdtempSync(join(tmpdir(), 'swirl-elsewhere-'));
    const swirl = join(process.cwd(), 'bin', 'swirl.js');
    const admin = (env: Record<string, string | undefined>, ...args: string[]) =>
      exec(process.execPath, [swirl, 'admin', 'user', ...args], { cwd: elsewhere, env: { ...process.env, SWIRL_DATA_DIR: undefined, ...env } }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    try {
      const created = await admin({ SWIRL_DATA_DIR: dataDir }, 'create', 'carol');
      expect(created.code, created.stderr).to.equal(0);
      expect((await call('GET', `${api}/namespaces`, { auth: created.stdout.trim() })).body).to.deep.equal(['carol']);
      expect((await admin({ SWIRL_DATA_DIR: dataDir }, 'list')).stdout).to.match(/^carol\tcarol$/m);

      // what a user in another folder ran before: a relative data directory where no server keeps its store
      for (const args of [['create', 'dave'], ['list']]) {
        const refused = await admin({ SWIRL_DATA_DIR: '.swirl/data' }, ...args);
        expect(refused.code, `${args[0]}: ${refused.stdout}`).to.equal(2);
        expect(refused.stdout).to.equal('');
        expect(refused.stderr).to.contain(`no swirl store in ${join(elsewhere, '.swirl', 'data')}: set SWIRL_DATA_DIR to the data directory of the swirl server`);
        expect(refused.stderr).to.not.match(/\n\s+at /);
      }
      expect(readdirSync(elsewhere), 'no store made in the current folder').to.deep.equal([]);
      // unset, it looks in the checkout, never in the current folder
      const unset = await admin({}, 'list');
      if (unset.code !== 0) expect(unset.stderr).to.contain(`no swirl store in ${join(process.cwd(), '.swirl', 'data')}:`);
      expect(readdirSync(elsewhere)).to.deep.equal([]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('two installations on one Docker host: a second one (own port and data dir, same network and invoker id) leaves the first one\'s containers, live or orphaned; a second server on the same data dir is refused, naming the first', async () => {
    // one stem cell: after the first invoke took it, the pool holds the warm container and a new stem cell
    const first = await start({ SWIRL_PREWARM: '[{"kind":"nodejs:20","count":1}]' });
    expect((await call('PUT', `${first.api}/namespaces/_/actions/mine?overwrite=true`, { auth: first.key, body: { exec: { kind: 'nodejs:20', code: 'function main() { return { mine: true } }' } } })).status).to.equal(200);
    const invokeMine = () => call('POST', `${first.api}/namespaces/_/actions/mine?blocking=true&result=true`, { auth: first.key, body: {} });
    expect((await invokeMine()).body).to.deep.equal({ mine: true });
    const docker = new Dockerode();
    const containersOf = async (dir: string) => (await docker.listContainers({ all: true, filters: { label: [`swirl.installation=${installationId({ dataDir: dir })}`] } })).map((c) => c.Id).sort();
    // the stem cell that replaces the one taken is made in the background: wait for it
    let firstOnes = await containersOf(dataDir);
    for (const until = Date.now() + 20_000; firstOnes.length < 2 && Date.now() < until; firstOnes = await containersOf(dataDir)) await sleep(100);
    expect(firstOnes.length, 'the warm container and the new stem cell').to.equal(2);

    // the same data directory: refused before any database is opened
    const same = run('npm', ['start'], { SWIRL_DATA_DIR: dataDir, SWIRL_PORT: String(await freePort()), SWIRL_HOST: '127.0.0.1', SWIRL_INVOKER_ID: invokerId, SWIRL_DOCKER_NETWORK: TEST_NETWORK });
    expect(await same.exited).to.not.equal(0);
    expect(same.stderr()).to.match(new RegExp(`another swirl \\(pid \\d+, API ${first.api.replace(/[.]/g, '\\.')}\\) holds the data directory ${dataDir}: stop it, or give this one a data directory of its own \\(SWIRL_DATA_DIR\\)`));
    expect(same.stderr() + same.stdout()).to.not.match(/\n\s+at |LOCK|try again later/);

    const otherDir = mkdtempSync(join(tmpdir(), 'swirl-e2e-other-'));
    const startOther = async () => {
      const other = run('npm', ['start'], { SWIRL_DATA_DIR: otherDir, SWIRL_PORT: String(await freePort()), SWIRL_HOST: '127.0.0.1', SWIRL_INVOKER_ID: invokerId, SWIRL_DOCKER_NETWORK: TEST_NETWORK });
      await other.waitFor(/api: (\S+)/);
      return other;
    };
    let other = await startOther();
    try {
      // ready does not wait for stem cells (an invoker takes work while they start): wait for its first
      let others = await containersOf(otherDir);
      for (const until = Date.now() + 20_000; others.length === 0 && Date.now() < until; others = await containersOf(otherDir)) await sleep(100);
      expect(others, 'the second one has containers of its own').to.not.deep.equal([]);
      expect(await containersOf(dataDir), 'the first one\'s live containers, untouched').to.deep.equal(firstOnes);
      expect((await invokeMine()).body).to.deep.equal({ mine: true });
      // the first one dies without clean-up: its containers are leftovers, of its installation alone
      server!.killGroup('SIGKILL');
      await server!.exited;
      server = undefined;
      other.kill('SIGTERM');
      await other.exited;
      other = await startOther();
      expect(await containersOf(dataDir), 'a dead installation\'s leftovers are not the other\'s to remove').to.deep.equal(firstOnes);
      // its own next start removes them
      await start();
      const left = await containersOf(dataDir);
      expect(left.filter((id) => firstOnes.includes(id)), 'removed by its own next start').to.deep.equal([]);
    } finally {
      other.kill('SIGTERM');
      await other.exited;
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it('admin command refuses names CouchDB reserves, with a message and a non-zero exit', async () => {
    let failed: { code?: number; stderr?: string } | undefined;
    try {
      await exec('npm', ['run', '-s', 'admin', '--', 'user', 'create', '_design'], { env: { ...process.env, SWIRL_DATA_DIR: dataDir } });
    } catch (e) {
      failed = e as { code?: number; stderr?: string };
    }
    expect(failed?.code).to.equal(2);
    expect(failed?.stderr).to.contain('may not start with _');
  });

  it('another local user gets nothing: not the data directory or its files (an older install\'s repaired at start), not the embedded store (the takeovers that worked before)', async function () {
    await ensureStranger(this);
    const parent = openParent('swirl-e2e-open-');
    const own = join(parent, 'data');
    try {
      // an install before this change: a running server, then its directory as it left it, readable by all
      // (on the embedded CouchDB-API server: what it serves is what a stranger would try)
      const embedded = { SWIRL_STANDALONE_STORE: 'couchdb' };
      const first = await startIn(own, embedded);
      const hello = 'function main() { return { mine: true } }';
      await call('PUT', `${first.api}/namespaces/_/actions/hello`, { auth: first.key, body: { exec: { kind: 'nodejs:20', code: hello }, parameters: [{ key: 'pw', value: 'p4ss' }] } });
      await stop();
      for (const path of [own, ...walk(own)]) chmodSync(path, statSync(path).isDirectory() ? 0o755 : 0o644);

      const { api, key } = await startIn(own, embedded);
      for (const path of [own, ...walk(own)]) expect(statSync(path).mode & 0o777, path).to.equal(statSync(path).isDirectory() ? 0o700 : 0o600);
      expect(walk(own).filter((f) => /\.(ldb|log)$/.test(f)).length, 'LevelDB files checked').to.be.greaterThan(2);
      for (const [cmd, ...args] of [['ls', own], ['cat', guestKeyPath(own)], ['cat', join(own, 'couchdb.json')], ['cat', masterKeyPath(own)], ['cat', join(own, 'couchdb', 'subjects', 'CURRENT')], ['find', own]]) {
        const r = await asStranger(cmd!, args);
        expect(r.code, `${cmd} ${args.join(' ')}: ${r.stdout}`).to.not.equal(0);
        expect(r.stderr).to.match(/Permission denied/);
      }
      // the store's port is no secret (a stranger can scan for it), but it answers nothing without the password
      const couch = new URL(JSON.parse(readFileSync(join(own, 'couchdb.json'), 'utf8')).url).origin;
      const admin = JSON.stringify({ subject: 'mallory', admin: true, namespaces: [{ name: 'mallory', uuid: '00000000-0000-4000-8000-000000000001', keyHash: 'sha256$x$y' }] });
      const takeovers: Array<[string, string, string?]> = [
        ['GET', `${couch}/subjects/_all_docs?include_docs=true`], // read every key
        ['PUT', `${couch}/subjects/mallory`, admin], // create an admin
        ['GET', `${couch}/whisks/guest%2Fhello`], // read, then change, another user's action
        ['PUT', `${couch}/whisks/guest%2Fhello`, JSON.stringify({ exec: { kind: 'nodejs:20', code: 'function main() { return { yours: true } }' } })],
        ['GET', `${couch}/subjects/swirl:secret:jwt`], // take the token secret to forge tokens
      ];
      for (const [method, url, body] of takeovers) expect(await strangerStatus(method, url, body), `${method} ${url}`).to.equal('401');
      expect(await strangerStatus('GET', `${couch}/_all_dbs`, undefined, ['Authorization: Basic c3dpcmw6c3dpcmw='])).to.equal('401');
      const got = await call('GET', `${api}/namespaces/_/actions/hello`, { auth: key });
      expect(got.body.exec.code).to.equal(hello);
      expect((await exec('npm', ['run', '-s', 'admin', '--', 'user', 'list'], { env: { ...process.env, SWIRL_DATA_DIR: own, ...embedded } })).stdout).to.not.contain('mallory');
    } finally {
      await stop();
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('a cluster controller refuses to start without SWIRL_MASTER_KEY (controllers must share one; it cannot make its own)', async () => {
    const controller = run('node', ['--import', 'tsx', 'controller/main.ts'], { SWIRL_DATA_DIR: dataDir, SWIRL_BUS: 'redis', SWIRL_REDIS_URL: 'redis://127.0.0.1:1', SWIRL_MASTER_KEY: '' });
    expect(await controller.exited).to.equal(2);
    expect(controller.stderr()).to.contain('SWIRL_MASTER_KEY: required: parameters and server secrets are encrypted in the store with it');
  });

  it('refuses to start on invalid configuration, naming the key', async () => {
    const bad = run('npm', ['start'], { SWIRL_DATA_DIR: dataDir, SWIRL_PORT: 'not-a-port', SWIRL_LOG_LEVEL: 'loud' });
    const code = await bad.exited;
    expect(code).to.not.equal(0);
    expect(bad.stderr()).to.contain('SWIRL_PORT');
    expect(bad.stderr()).to.contain('SWIRL_LOG_LEVEL');
  });
});
