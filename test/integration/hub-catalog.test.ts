import { expect } from 'chai';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { HubBundleError, readBundle } from '../../common/hub/manifest.ts';
import type { Detail, Summary } from '../../controller/hub/catalog.ts';
import { TRIAL_PREFIX } from '../../controller/hub/trial.ts';
import { expectError, expectOk, sleep } from '../support/api.ts';
import { expectConforms } from '../support/openapi.ts';
import { call, startTestServer } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/**
 * The publisher side of the Function Hub on a real controller and invoker (action
 * processes): a package is published with annotations, listed, detailed and downloaded
 * through the public /hub/v1 API; its figures move with real invocations; its examples run in
 * a disposable namespace; parameter values and unpublished packages never show.
 */
describe('hub catalog: the public /hub/v1 API of an instance', function () {
  this.timeout(60_000);
  let s: TestStack;
  let guest: string;
  let alice: string;
  let hub: string;
  let instance: string;
  const SECRET = 'never-published-6f1c0e';
  const ACTION_SECRET = 'action-secret-9a7b';
  const api = (ns: string, path: string) => `${s.api}/namespaces/${ns}${path}`;
  const put = (auth: string, path: string, body: unknown) => expectOk(call('PUT', api('_', `${path}?overwrite=true`), { auth, body }));
  const catalog = async (q = ''): Promise<Summary[]> => {
    const r = await call('GET', `${hub}/catalog${q ? `?q=${encodeURIComponent(q)}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expectConforms('HubCatalog', r.body);
    return (r.body as { packages: Summary[] }).packages;
  };
  const detail = async (owner: string, name: string): Promise<Detail> => {
    const r = await call('GET', `${hub}/packages/${owner}/${name}`);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expectConforms('HubDetail', r.body);
    return r.body as Detail;
  };
  const download = (owner: string, name: string) => fetch(`${hub}/packages/${owner}/${name}/download`);
  const invoke = (auth: string, path: string, params: unknown = {}) => call('POST', api('_', `/actions/${path}?blocking=true`), { auth, body: params });
  /** The package's annotations as a publisher sets them (`swirl package update tools -a ...`). */
  const published = (extra: Array<{ key: string; value: unknown }> = []) => [
    { key: 'hub-publish', value: true },
    { key: 'description', value: 'Text tools for greetings' },
    { key: 'hub-license', value: 'MIT' },
    { key: 'parameters', value: [{ name: 'apiKey', description: 'the key of the greeting service', required: true }] },
    { key: 'internal-note', value: SECRET },
    ...extra,
  ];

  before(async () => {
    s = await startTestStack('process', { SWIRL_INVOKER_MEMORY_MB: '1024', SWIRL_HUB_CACHE_MS: '0' });
    guest = s.guestKey;
    alice = await s.createUser('alice');
    hub = `${s.url}/hub/v1`;
    instance = new URL(s.url).host;
    // a package, not published yet: with a secret bound parameter, and actions with their own secret
    await put(guest, '/packages/greet', { publish: true, parameters: [{ key: 'apiKey', value: SECRET }], annotations: [{ key: 'description', value: 'Text tools for greetings' }] });
    await put(guest, '/actions/greet/hello', {
      exec: { kind: 'nodejs:20', code: 'function main(p) { return { greeting: "hello " + (p.name || "nobody"), keyed: !!p.apiKey } }' },
      parameters: [{ key: 'token', value: ACTION_SECRET }],
      annotations: [{ key: 'description', value: 'says hello' }, { key: 'web-export', value: true }, { key: 'parameters', value: [{ name: 'name', description: 'who to greet' }] }, { key: 'private', value: ACTION_SECRET }],
    });
    await put(guest, '/actions/greet/shout', { exec: { kind: 'nodejs:20', code: 'function main(p) { if (!p.text) throw new Error("no text"); return { text: p.text.toUpperCase() } }' } });
    const zip = Buffer.from(zipSync({ 'index.js': strToU8('exports.main = () => ({ zipped: true })') })).toString('base64');
    await put(guest, '/actions/greet/zipped', { exec: { kind: 'nodejs:20', code: zip } });
  });
  after(() => s?.destroy());

  it('shows nothing of an unpublished package: not listed, detail and download 404', async () => {
    expect(await catalog()).to.deep.equal([]);
    expectError(await call('GET', `${hub}/packages/guest/greet`), 404, 'no published package guest/greet on this instance');
    expectError(await call('GET', `${hub}/packages/guest/greet/download`), 404);
    // nor a package that does not exist (the same answer: existence is not revealed)
    expectError(await call('GET', `${hub}/packages/guest/nothing`), 404, 'no published package guest/nothing on this instance');
  });

  it('lists a package once published, with its REF, version, kinds, parameters (names only) and settings', async () => {
    const pkg = await put(guest, '/packages/greet', { annotations: published() });
    const [entry, ...rest] = await catalog();
    expect(rest).to.deep.equal([]);
    expect(entry).to.deep.include({
      ref: `${instance}/guest/greet@${pkg.version}`,
      instance,
      owner: 'guest',
      name: 'greet',
      version: pkg.version,
      description: 'Text tools for greetings',
      kinds: ['nodejs:20'],
      license: 'MIT',
      actions: ['hello', 'shout', 'zipped'],
      parameters: [{ name: 'apiKey', description: 'the key of the greeting service', required: true, bound: true }],
      codeVisible: false,
      downloadable: false,
    });
    expect(entry!.digest).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(entry!.figures).to.deep.equal({ invocations30d: 0, namespaces30d: 0, successRate: null, p50Ms: null, examples: null });
    const r = await call('GET', `${hub}/catalog`);
    expect(r.headers.get('cache-control')).to.equal('public, max-age=10');
    expect((r.body as { instance: unknown }).instance).to.deep.equal({ id: instance, url: s.url });
  });

  it('searches with ?q= (every word, in name, description, owner or action names) and bounds ?limit', async () => {
    expect((await catalog('greet')).map((p) => p.name)).to.deep.equal(['greet']);
    expect((await catalog('GREETINGS text')).map((p) => p.name)).to.deep.equal(['greet']);
    expect((await catalog('shout')).map((p) => p.name)).to.deep.equal(['greet']);
    expect(await catalog('greet nonsense')).to.deep.equal([]);
    expectError(await call('GET', `${hub}/catalog?limit=0`), 400, /'limit'/);
    expectError(await call('GET', `${hub}/catalog?limit=abc`), 400, /'limit'/);
    expectError(await call('GET', `${hub}/catalog?q=${'x'.repeat(300)}`), 400, /'q': at most 200 characters/);
  });

  it('details the actions (kind, parameters, hub-safe annotations, limits) and shows code only when the publisher says so', async () => {
    let d = await detail('guest', 'greet');
    const hello = d.actions.find((a) => a.name === 'hello')!;
    expect(hello).to.deep.equal({
      name: 'hello',
      kind: 'nodejs:20',
      parameters: [{ name: 'name', description: 'who to greet' }, { name: 'token', description: '' }],
      annotations: [
        { key: 'description', value: 'says hello' },
        { key: 'web-export', value: true },
        { key: 'parameters', value: [{ name: 'name', description: 'who to greet' }] },
      ],
      limits: { timeout: 60000, memory: 256, logs: 10, concurrency: 1 },
    });
    expect(d.actions.every((a) => a.code === undefined)).to.equal(true);

    await put(guest, '/packages/greet', { annotations: published([{ key: 'hub-code', value: 'visible' }]) });
    d = await detail('guest', 'greet');
    expect(d.codeVisible).to.equal(true);
    expect(d.actions.find((a) => a.name === 'hello')!.code).to.match(/^function main\(p\) \{ return \{ greeting/);
    expect(d.actions.find((a) => a.name === 'zipped')!.code).to.match(/^<binary \d+ bytes>$/);
    // ?version= must be the current one
    expect((await call('GET', `${hub}/packages/guest/greet?version=${d.version}`)).status).to.equal(200);
    expectError(await call('GET', `${hub}/packages/guest/greet?version=0.0.1`), 404, `${instance}/guest/greet@0.0.1 is not kept: only the current version, ${d.version}, is.`);
    expectError(await call('GET', `${hub}/packages/guest/greet?version=latest`), 400, /'version'/);
  });

  it('refuses downloads the publisher does not allow (403), and serves a zip whose digest verifies when it does', async () => {
    const refused = await call('GET', `${hub}/packages/guest/greet/download`);
    expectError(refused, 403, new RegExp(`^the publisher does not allow downloads of ${instance}/guest/greet@`));

    await put(guest, '/packages/greet', { annotations: published([{ key: 'hub-download', value: true }]) });
    const [entry] = await catalog();
    expect(entry!.downloadable).to.equal(true);
    const r = await download('guest', 'greet');
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.equal('application/zip');
    expect(r.headers.get('content-disposition')).to.equal(`attachment; filename="guest-greet-${entry!.version}.zip"`);
    const digest = r.headers.get('x-swirl-digest')!;
    expect(digest).to.equal(entry!.digest);
    const zip = new Uint8Array(await r.arrayBuffer());
    const bundle = readBundle(zip, digest);
    expect(bundle.manifest.ref).to.equal(entry!.ref);
    expect(Object.keys(unzipSync(zip)).sort()).to.deep.equal(['actions/hello', 'actions/shout', 'actions/zipped', 'manifest.json']);
    expect(strFromU8(bundle.files['actions/hello']!)).to.include('greeting');

    // tampered in transit: a changed action, or a changed manifest, is detected
    const files = unzipSync(zip);
    const evil = zipSync({ ...files, 'actions/hello': strToU8('function main() { return { stolen: process.env } }') });
    expect(() => readBundle(evil, digest)).to.throw(HubBundleError, /digest mismatch for actions\/hello/);
    const m = JSON.parse(strFromU8(files['manifest.json']!));
    m.actions[0].sha256 = m.actions[1].sha256;
    expect(() => readBundle(zipSync({ ...files, 'manifest.json': strToU8(JSON.stringify(m)) }), digest)).to.throw(HubBundleError, /digest mismatch/);
  });

  it('never publishes parameter values or unsafe annotations: not in the catalog, the detail or the download', async () => {
    await put(guest, '/packages/greet', { annotations: published([{ key: 'hub-download', value: true }, { key: 'hub-code', value: 'visible' }]) });
    const texts = [JSON.stringify(await call('GET', `${hub}/catalog`)), JSON.stringify(await call('GET', `${hub}/packages/guest/greet`))];
    const zip = new Uint8Array(await (await download('guest', 'greet')).arrayBuffer());
    texts.push(...Object.values(unzipSync(zip)).map((f) => strFromU8(f)));
    for (const t of texts) {
      expect(t).not.to.include(SECRET);
      expect(t).not.to.include(ACTION_SECRET);
    }
    // the values are there, for the package's own users
    expect(JSON.stringify((await expectOk(invoke(guest, 'greet/hello', { name: 'x' }))).response.result)).to.include('"keyed":true');
  });

  it('lists no binding, even one annotated hub-publish, and serves none', async () => {
    await expectOk(call('PUT', api('_', '/packages/alias'), { auth: alice, body: { binding: { namespace: 'guest', name: 'greet' }, annotations: [{ key: 'hub-publish', value: true }] } }));
    expect((await catalog()).map((p) => `${p.owner}/${p.name}`)).to.deep.equal(['guest/greet']);
    expectError(await call('GET', `${hub}/packages/alice/alias`), 404);
    expectError(await call('GET', `${hub}/packages/alice/alias/download`), 404);
  });

  it('figures move with real invocations: count, distinct namespaces, success rate, p50 duration', async () => {
    const before = (await catalog())[0]!.figures;
    expect(before.invocations30d).to.equal(1); // the invoke of the test above
    expect((await invoke(guest, 'greet/shout', { text: 'hi' })).status).to.equal(200);
    expect((await invoke(guest, 'greet/shout', {})).status).to.equal(502);
    // another tenant, through its binding
    expect((await invoke(alice, 'alias/hello', { name: 'alice' })).status).to.equal(200);
    let figures = before;
    for (let i = 0; i < 100 && figures.invocations30d < 4; i++) {
      await sleep(100);
      figures = (await catalog())[0]!.figures;
    }
    expect(figures).to.include({ invocations30d: 4, namespaces30d: 2, successRate: 0.75 });
    expect(figures.p50Ms).to.be.a('number').and.at.least(0);
    // an unpublished package's records are no one's figures; the detail carries the same figures
    expect((await detail('guest', 'greet')).figures).to.deep.include({ invocations30d: 4, namespaces30d: 2 });
  });

  it("runs the package's examples once in a disposable namespace and shows how they fared, leaving nothing behind", async () => {
    await put(guest, '/packages/greet', {
      annotations: published([
        {
          key: 'hub-examples',
          value: [
            { action: 'hello', params: { name: 'ann' }, expect: { greeting: 'hello ann' } },
            { action: 'shout', params: { text: 'a' }, expect: { text: 'B' } },
            { action: 'shout', params: { text: 'ok' } },
          ],
        },
      ]),
    });
    const invocations = (await catalog())[0]!.figures.invocations30d; // asks: the examples are queued
    let examples = null;
    for (let i = 0; i < 150 && !examples; i++) {
      await sleep(100);
      examples = (await catalog())[0]!.figures.examples;
    }
    expect(examples).to.deep.include({ total: 3, passed: 2, failed: 1 });
    expect(examples!.ranAt).to.be.closeTo(Date.now(), 30_000);
    expect((await detail('guest', 'greet')).examples).to.have.length(3);
    // the runs count in no figure, and their namespace is gone
    await sleep(300);
    expect((await catalog())[0]!.figures.invocations30d).to.equal(invocations);
    const subjects = await s.opened.store.listSubjects();
    expect(subjects.map((x) => x.subject).filter((x) => x.startsWith(TRIAL_PREFIX))).to.deep.equal([]);
  });

  it('is described in the OpenAPI document: public routes at the server root', async () => {
    const doc = (await call('GET', `${s.api}/api-docs`)).body as { paths: Record<string, { servers?: unknown; get: { security: unknown } }> };
    for (const path of ['/hub/v1/catalog', '/hub/v1/packages/{owner}/{package}', '/hub/v1/packages/{owner}/{package}/download']) {
      expect(doc.paths[path]!.servers, path).to.deep.equal([{ url: '/' }]);
      expect(doc.paths[path]!.get.security, path).to.deep.equal([]);
    }
  });

  it('is off with SWIRL_HUB=off: the routes are 404', async () => {
    const off = await startTestServer({ SWIRL_HUB: 'off' });
    try {
      expect((await call('GET', `${off.url}/hub/v1/catalog`)).status).to.equal(404);
      expect((await call('GET', `${off.url}/hub/v1/packages/guest/greet`)).status).to.equal(404);
    } finally {
      await off.destroy();
    }
  });

  it('names itself by SWIRL_HUB_URL when set', async () => {
    const named = await startTestServer({ SWIRL_HUB_URL: 'https://hub.example.org:8443/' });
    try {
      expect((await call('GET', `${named.url}/hub/v1/catalog`)).body.instance).to.deep.equal({ id: 'hub.example.org:8443', url: 'https://hub.example.org:8443' });
    } finally {
      await named.destroy();
    }
  });
});
