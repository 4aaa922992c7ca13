import { expect } from 'chai';
import { ApiStub } from '../support/cli-stub.ts';
import { swirlInProcess } from '../support/cli.ts';
import { selfSignedCert, type TestCert } from '../support/tls.ts';

/**
 * wsk's flags and behaviours the CLI follows (issue 15, item 11), checked against a stub of
 * OpenWhisk's REST API: the requests the CLI sends and what it prints.
 */
const KEY = '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP';
const SECRET_PART = KEY.split(':')[1]!;
const A = '/api/v1/namespaces/_';
const FORBIDDEN = { status: 403, body: { error: 'The supplied authentication is not authorized to access this resource.', code: 'f'.repeat(32) } };

const action = (over: Record<string, unknown> = {}) => ({
  namespace: 'guest',
  name: 'hello',
  version: '0.0.1',
  publish: false,
  exec: { kind: 'nodejs:20', code: 'function main() {}', binary: false },
  parameters: [],
  annotations: [{ key: 'exec', value: 'nodejs:20' }],
  limits: { timeout: 60000, memory: 256, logs: 10, concurrency: 1 },
  ...over,
});

describe('swirl CLI: wsk parity (flags and behaviours wsk has)', function () {
  const stub = new ApiStub();
  let env: Record<string, string>;
  const run = (...args: string[]) => swirlInProcess(args, env);
  const put = () => stub.seen.find((s) => s.method === 'PUT')!;

  before(async () => {
    await stub.start();
    env = { __OW_API_HOST: stub.url, __OW_API_KEY: KEY };
  });
  afterEach(() => stub.reset());
  after(() => stub.stop());

  describe('get --summary of triggers and rules', () => {
    it("trigger: its name, description and parameters (bound ones starred); rule: its name and status, as wsk's", async () => {
      stub.on(`GET ${A}/triggers/t`, { status: 200, body: { namespace: 'guest', name: 't', version: '0.0.1', annotations: [{ key: 'description', value: 'ticks' }], parameters: [{ key: 'cron', value: '* * * * *' }] } });
      stub.on(`GET ${A}/rules/r`, { status: 200, body: { namespace: 'guest', name: 'r', version: '0.0.1', annotations: [], status: 'inactive', trigger: { path: 'guest', name: 't' }, action: { path: 'guest', name: 'a' } } });
      const [t, r] = [await run('trigger', 'get', 't', '--summary'), await run('rule', 'get', 'r', '-s')];
      expect(t).to.deep.include({ code: 0, stdout: 'trigger /guest/t: ticks\n   (parameters: *cron)\n' });
      expect(r).to.deep.include({ code: 0, stdout: 'rule /guest/r\n   (status: inactive)\n' });
    });
  });

  describe('action create --copy', () => {
    it("copies the source's exec, limits, parameters and annotations (from a package), the command line's on top", async () => {
      const source = action({
        namespace: 'guest/tools',
        name: 'src',
        exec: { kind: 'python:3', code: 'UEsDBA==', binary: true, main: 'run' },
        parameters: [
          { key: 'plain', value: 1 },
          { key: 'hidden', value: 'c2VhbGVk', encryption: 'aes-256' },
        ],
        annotations: [
          { key: 'exec', value: 'python:3' },
          { key: 'description', value: 'copied' },
        ],
        limits: { timeout: 5000, memory: 128, logs: 1, concurrency: 1 },
      });
      stub.on('GET /api/v1/namespaces/guest/actions/tools/src', { status: 200, body: source });
      stub.on(`PUT ${A}/actions/twin`, { status: 200, body: {} });
      const r = await run('action', 'create', 'twin', '/guest/tools/src', '--copy', '-p', 'extra', 'x', '-m', '256');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('ok: created action twin\n');
      expect(stub.seen[0]!.query).to.deep.equal({}); // with its code
      expect(put().body).to.deep.equal({
        exec: { kind: 'python:3', code: 'UEsDBA==', main: 'run', binary: true },
        parameters: [
          { key: 'plain', value: 1 },
          { key: 'extra', value: 'x' },
        ],
        annotations: [{ key: 'description', value: 'copied' }],
        limits: { timeout: 5000, memory: 256, logs: 1, concurrency: 1 },
      });
      // a value the server shows sealed opens for the source alone: said, not sent
      expect(r.stderr).to.equal("warning: the parameters 'hidden' of '/guest/tools/src' are encrypted for that action alone and are not copied; give them with -p.\n");
    });

    it('needs the source, and no other code flags; a missing source is the API error', async () => {
      expect(await run('action', 'create', 'twin', '--copy')).to.deep.include({ code: 2, stderr: 'error: --copy needs the action to copy: action create NAME SOURCE --copy.\n' });
      expect((await run('action', 'create', 'twin', 'src', '--copy', '--kind', 'nodejs:20')).code).to.equal(2);
      const missing = await run('action', 'create', 'twin', 'gone', '--copy');
      expect(missing.code).to.equal(148);
      expect(missing.stderr).to.match(/^error: Unable to get action 'gone': The requested resource does not exist\./);
      expect(stub.seen.filter((s) => s.method === 'PUT')).to.deep.equal([]);
    });
  });

  describe('--web-secure and --del-annotation', () => {
    it('create: true sets a generated number, anything else is the secret; it needs --web', async () => {
      stub.on(`PUT ${A}/actions/w`, { status: 200, body: {} });
      await run('action', 'create', 'w', '--docker', 'img', '--web', 'true', '--web-secure', 'true');
      const generated = put().body.annotations.find((a: { key: string }) => a.key === 'require-whisk-auth').value;
      expect(generated).to.be.a('number').and.to.satisfy(Number.isSafeInteger);
      stub.seen.length = 0;
      await run('action', 'create', 'w', '--docker', 'img', '--web', 'raw', '--web-secure', 's3cret');
      expect(put().body.annotations).to.deep.include({ key: 'require-whisk-auth', value: 's3cret' });
      const notWeb = await run('action', 'create', 'w', '--docker', 'img', '--web-secure', 'true');
      expect(notWeb).to.deep.include({ code: 2, stderr: 'error: The --web-secure option is only valid when the --web option is enabled.\n' });
    });

    it("update: keeps the action's other annotations; false deletes the secret, true keeps an existing number", async () => {
      const existing = action({ annotations: [{ key: 'exec', value: 'nodejs:20' }, { key: 'web-export', value: true }, { key: 'final', value: true }, { key: 'require-whisk-auth', value: 4242 }, { key: 'owner', value: 'ann' }] });
      stub.on(`GET ${A}/actions/hello`, { status: 200, body: existing });
      stub.on(`PUT ${A}/actions/hello`, { status: 200, body: {} });
      expect((await run('action', 'update', 'hello', '--web-secure', 'false')).code).to.equal(0);
      expect(stub.seen[0]!.query).to.deep.equal({ code: 'false' });
      expect(put().body).to.deep.equal({
        annotations: [
          { key: 'web-export', value: true },
          { key: 'final', value: true },
          { key: 'owner', value: 'ann' },
        ],
        delAnnotations: ['require-whisk-auth'],
      });
      stub.seen.length = 0;
      await run('action', 'update', 'hello', '--web-secure', 'true');
      expect(put().body.annotations).to.deep.include({ key: 'require-whisk-auth', value: 4242 });
      // an action not web-exported, made web by the same command, may be secured
      stub.on(`GET ${A}/actions/hello`, { status: 200, body: action() });
      expect((await run('action', 'update', 'hello', '--web-secure', 'true')).code).to.equal(2);
      expect((await run('action', 'update', 'hello', '--web', 'true', '--web-secure', 'k')).code).to.equal(0);
    });

    it('update --del-annotation KEY (repeatable) asks the server to delete those annotations', async () => {
      stub.on(`PUT ${A}/actions/hello`, { status: 200, body: {} });
      const r = await run('action', 'update', 'hello', '--del-annotation', 'owner', '--del-annotation', 'description', '-a', 'kept', 'yes');
      expect(r).to.deep.include({ code: 0, stdout: 'ok: updated action hello\n' });
      expect(put().body).to.deep.equal({ annotations: [{ key: 'kept', value: 'yes' }], delAnnotations: ['owner', 'description'] });
      expect(put().query).to.deep.equal({ overwrite: 'true' });
    });
  });

  describe('global flags: -d, --apiversion', () => {
    it('-d prints the settings and every request and response on stderr, never the key', async () => {
      stub.on(`GET ${A}/rules`, { status: 200, body: [] });
      const r = await run('rule', 'list', '-d');
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal('rules\n');
      expect(r.stderr).to.contain(`[debug] settings: apihost ${stub.url} (from env), auth from env, namespace _, API version v1`);
      expect(r.stderr).to.contain(`REQUEST:\n[GET]\t${stub.url}${A}/rules`).and.contain('"authorization": "Basic ********"').and.contain('RESPONSE:Got response with code 200');
      expect(r.stderr).to.not.contain(SECRET_PART).and.not.contain(Buffer.from(KEY).toString('base64'));
    });

    it('--apiversion names the version in the path, as wsk does (swirl serves v1)', async () => {
      stub.on(`GET ${A}/rules`, { status: 200, body: [] });
      expect((await run('rule', 'list', '--apiversion', 'v1')).code).to.equal(0);
      const other = await run('--apiversion', 'v2', 'rule', 'list');
      expect(other.code).to.equal(148);
      expect(stub.seen.map((s) => s.path)).to.deep.equal([`${A}/rules`, '/api/v2/namespaces/_/rules']);
    });
  });

  describe('list NAMESPACE', () => {
    it("another namespace: lists what the caller may see (its shared packages) and leaves out what answers 403", async () => {
      const N = '/api/v1/namespaces/whisk.system';
      stub.on(`GET ${N}/packages`, { status: 200, body: [{ namespace: 'whisk.system', name: 'utils', version: '0.0.1', publish: true, annotations: [] }] });
      for (const c of ['actions', 'triggers', 'rules']) stub.on(`GET ${N}/${c}`, FORBIDDEN);
      const r = await run('list', '/whisk.system');
      expect(r).to.deep.include({ code: 0, stderr: '' });
      expect(r.stdout).to.match(/^Entities in namespace: whisk\.system\npackages\n\/whisk\.system\/utils +shared\s*0\.0\.1\n$/);
      expect(JSON.parse((await run('list', '/whisk.system', '--json')).stdout)).to.have.all.keys('packages');
      // another error still fails the listing
      stub.on(`GET ${N}/rules`, { status: 500, body: { error: 'boom', code: 'e'.repeat(32) } });
      expect((await run('list', '/whisk.system')).code).to.equal(500 % 256);
    });
  });

  describe('an https API host: --cert/--key and the URLs printed', () => {
    let tls: ApiStub;
    let cert: TestCert;
    let tlsEnv: Record<string, string>;
    before(async () => {
      cert = selfSignedCert('swirl-client');
      // the stub asks for a client certificate and takes only this one
      tls = await new ApiStub().start({ cert: cert.cert, key: cert.key, ca: [cert.cert], requestCert: true, rejectUnauthorized: true });
      tlsEnv = { __OW_API_HOST: tls.url, __OW_API_KEY: KEY };
      tls.on(`GET ${A}/actions/hello`, { status: 200, body: action({ annotations: [{ key: 'web-export', value: true }] }) });
    });
    after(() => tls.stop());
    const runTls = (...args: string[]) => swirlInProcess(args, tlsEnv);

    it('presents the client certificate; without it the server refuses the connection', async () => {
      const r = await runTls('action', 'get', 'hello', '-i', '--cert', cert.certFile, '--key', cert.keyFile);
      expect(r.code, r.stderr).to.equal(0);
      expect(tls.seen.at(-1)!.clientCert).to.equal('swirl-client');
      expect((await runTls('action', 'get', 'hello', '-i')).code).to.equal(3);
      expect(await runTls('action', 'get', 'hello', '-i', '--cert', cert.certFile)).to.deep.include({ code: 2, stderr: 'error: The Key file is not configured. Please configure the missing Key file.\n' });
    });

    it('action get --url prints the URL in the API host\'s scheme', async () => {
      const r = await runTls('action', 'get', 'hello', '--url', '-i', '--cert', cert.certFile, '--key', cert.keyFile);
      expect(r.stdout).to.equal(`ok: got action hello\n${tls.url}/api/v1/web/guest/default/hello\n`);
      expect(tls.url).to.match(/^https:/);
    });
  });
});
