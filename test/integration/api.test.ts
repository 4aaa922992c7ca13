import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { newKey } from '../../common/credentials.ts';
import type { Subject } from '../../common/identity.ts';
import { expectError, GENERATED_TID, sleep } from '../support/api.ts';
import { basic, call, type Reply, startTestServer, suiteServer, type TestServer } from '../support/server.ts';
import { conformanceErrors, expectAllConform, expectConforms } from '../support/openapi.ts';
import { API_VERSION } from '../../controller/app.ts';
import { openApiDocument } from '../../controller/openapi.ts';

/**
 * The controller's REST API over real HTTP: every route and its outcomes, checked against
 * swirl's OpenAPI document (shaped as OpenWhisk's swagger) and the API facts in DESIGN.md.
 */

type Collection = 'actions' | 'triggers' | 'rules' | 'packages';

const MiB = 1024 * 1024;
const nodeAction = (code = 'function main(params) { return { hello: params.name }; }') => ({ exec: { kind: 'nodejs:20', code } });

/** `/api/v1/namespaces/<ns>/<collection>/<name><query>` */
const entityUrl = (s: TestServer, collection: string, name: string, query = '', ns = '_') => `${s.api}/namespaces/${ns}/${collection}/${name}${query}`;
const listUrl = (s: TestServer, collection: string, query = '', ns = '_') => `${s.api}/namespaces/${ns}/${collection}${query}`;

function expectOk(r: Reply, status = 200): void {
  const shown = typeof r.body === 'string' ? r.body.slice(0, 300) : JSON.stringify(r.body).slice(0, 300);
  expect(r.status, `status (body: ${shown})`).to.equal(status);
  expect(r.headers.get('x-request-id') ?? '', 'X-Request-ID').to.not.equal('');
}

/** Names in list order. */
const names = (list: Array<{ name: string }>): string[] => list.map((e) => e.name);

// ---------------------------------------------------------------------------------------------

describe('API: public routes and namespaces', function () {
  let s: TestServer;
  suiteServer(async (server) => {
    s = server;
  });

  it('the OpenAPI check is not vacuous: it rejects malformed entities and errors', async function () {
    const r = await call('PUT', entityUrl(s, 'actions', 'probe'), { auth: s.guestKey, body: nodeAction() });
    expectConforms('Action', r.body);
    const { exec: _exec, ...noExec } = r.body;
    expect(conformanceErrors('Action', noExec).join()).to.match(/exec/);
    expect(conformanceErrors('Action', { ...r.body, limits: { memory: '256' } }).join()).to.match(/memory/);
    expect(conformanceErrors('Rule', { ...r.body, trigger: { name: 't' }, action: { path: 'guest', name: 'a' } }).join()).to.match(/path/);
    expect(conformanceErrors('EntityBrief', { name: 'x', version: '0.0.1', publish: false }).join()).to.match(/namespace/);
    expect(conformanceErrors('ErrorMessage', { code: 'x' }).join()).to.match(/error/);
    // exact: a field the API does not show (a store's revision, a key hash) is a wrong shape
    expect(conformanceErrors('Action', { ...r.body, _rev: '1-abc' }).join()).to.match(/additionalProperty.*_rev/);
    expect(conformanceErrors('Action', { ...r.body, exec: { ...r.body.exec, kind: 'cobol:1' } }).join()).to.match(/kind/);
    expect(conformanceErrors('Action', { ...r.body, version: '1' }).join()).to.match(/version/);
    expect(conformanceErrors('ErrorMessage', { error: 'x', code: 'y', stack: 'at ...' }).join()).to.match(/stack/);
    const record = { activationId: 'a'.repeat(32), namespace: 'guest', name: 'a', subject: 'guest', version: '0.0.1', publish: false, start: 1, end: 2, duration: 1, annotations: [], logs: [] };
    expect(conformanceErrors('Activation', { ...record, response: { status: 'success', statusCode: 0, success: true, result: {} } })).to.deep.equal([]);
    expect(conformanceErrors('Activation', record).join()).to.match(/response/);
    expect(conformanceErrors('Activation', { ...record, activationId: 'x', response: { status: 'ok', statusCode: 0, success: true } }).join()).to.match(/activationId.*pattern|pattern.*activationId|\/activationId/).and.to.match(/status/);
    expectOk(await call('DELETE', entityUrl(s, 'actions', 'probe'), { auth: s.guestKey }));
  });

  it('GET / describes the platform: api paths, runtimes and limit ranges (no auth needed)', async function () {
    const r = await call('GET', `${s.url}/`);
    expectOk(r);
    expect(r.body.api_paths).to.deep.equal(['/api/v1']);
    expect(r.body.runtimes).to.have.property('nodejs');
    expect(r.body.runtimes.nodejs).to.deep.include({ kind: 'nodejs:20', default: true });
    expect(r.body.limits).to.include({ min_action_memory: 128, max_action_memory: 512, min_action_duration: 100, max_action_duration: 300000 });
  });

  it('GET /api/v1 names the API version and where the API docs are', async function () {
    const r = await call('GET', `${s.api}`);
    expectOk(r);
    expect(r.body.api_version_path).to.equal('v1');
    expect(r.body.api_version).to.be.a('string');
    expect(r.body.swagger_paths['api-docs']).to.equal('/api/v1/api-docs');
  });

  it('GET /api/v1/api-docs is an OpenAPI 3 document describing the entity, invoke and activation routes', async function () {
    const r = await call('GET', `${s.api}/api-docs`);
    expectOk(r);
    expect(r.body.openapi).to.match(/^3\./);
    const paths = Object.keys(r.body.paths);
    for (const c of ['actions', 'triggers', 'rules', 'packages']) {
      expect(paths).to.include(`/namespaces/{namespace}/${c}`);
      expect(paths).to.include(`/namespaces/{namespace}/${c}/{name}`);
      expect(Object.keys(r.body.paths[`/namespaces/{namespace}/${c}/{name}`])).to.include.members(['get', 'put', 'delete']);
    }
    expect(paths).to.include('/namespaces/{namespace}/actions/{package}/{name}');
    expect(paths).to.include('/namespaces');
    expect(paths).to.include('/token');
    expect(Object.keys(r.body.paths['/namespaces/{namespace}/actions/{name}'])).to.include('post');
    expect(Object.keys(r.body.paths['/namespaces/{namespace}/actions/{name}'].post.responses)).to.include.members(['200', '202', '429', '502']);
    expect(Object.keys(r.body.paths['/namespaces/{namespace}/triggers/{name}'].post.responses)).to.include.members(['202', '204', '404', '429']);
    expect(r.body.paths['/namespaces/{namespace}/rules/{name}'].post.requestBody.required).to.equal(true);
    expect(paths).to.include.members(['/namespaces/{namespace}/activations', '/namespaces/{namespace}/activations/{activationid}', '/namespaces/{namespace}/activations/{activationid}/logs', '/namespaces/{namespace}/activations/{activationid}/result']);
    // OpenWhisk's swagger names for the response shapes
    expect(r.body.components.schemas).to.include.keys('Action', 'ActionExec', 'ActionLimits', 'Trigger', 'Rule', 'Package', 'PackageBinding', 'EntityBrief', 'ErrorMessage', 'Activation', 'ActivationBrief', 'ActivationId', 'ActivationLogs', 'ActivationResult', 'KeyValue', 'PathName');
    // what the tests validate responses with is what the server serves
    expect(r.body).to.deep.equal(JSON.parse(JSON.stringify(openApiDocument(API_VERSION))));
  });

  it('GET /api/v1/namespaces lists the caller’s namespace', async function () {
    const r = await call('GET', `${s.api}/namespaces`, { auth: s.guestKey });
    expectOk(r);
    expect(r.body).to.deep.equal(['guest']);
  });

  it('GET /api/v1/namespaces/_/limits gives the ranges action limits may take', async function () {
    for (const ns of ['_', 'guest']) {
      const r = await call('GET', `${s.api}/namespaces/${ns}/limits`, { auth: s.guestKey });
      expectOk(r);
      expect(r.body).to.include({ minActionMemory: 128, maxActionMemory: 512, minActionTimeout: 100, maxActionTimeout: 300000, minActionLogs: 0, maxActionLogs: 10 });
    }
  });
});

// ---------------------------------------------------------------------------------------------

interface CrudSpec {
  collection: Collection;
  definition: 'Action' | 'Trigger' | 'Rule' | 'Package';
  /** Entities the created one needs (a rule's trigger and action). */
  setup?: (s: TestServer) => Promise<void>;
  create: () => Record<string, unknown>;
  /** What the created entity shows of the request (`reveal` opens its sealed parameters). */
  checkCreated: (e: any, reveal: (e: any) => unknown) => void;
  /** A partial update (overwrite=true) and how the result merges it with the old entity. */
  update: Record<string, unknown>;
  checkMerged: (before: any, after: any) => void;
  /** What a GET returns for what PUT returned (packages list their contents). */
  asRead?: (e: any) => any;
}

const crudSpecs: CrudSpec[] = [
  {
    collection: 'actions',
    definition: 'Action',
    create: () => ({ ...nodeAction(), parameters: [{ key: 'name', value: 'world' }], annotations: [{ key: 'description', value: 'greets' }] }),
    checkCreated: (e, reveal) => {
      expect(e.exec).to.include({ kind: 'nodejs:20', code: nodeAction().exec.code, binary: false });
      expect(reveal(e)).to.deep.equal([{ key: 'name', value: 'world' }]);
      expect(e.annotations).to.deep.include({ key: 'description', value: 'greets' });
      expect(e.limits).to.deep.equal({ timeout: 60000, memory: 256, logs: 10, concurrency: 1 });
    },
    update: { limits: { memory: 512 } },
    checkMerged: (before, after) => {
      expect(after.limits).to.deep.equal({ ...before.limits, memory: 512 });
      expect(after.parameters).to.deep.equal(before.parameters);
      expect(after.exec).to.deep.equal(before.exec);
      expect(after.annotations).to.deep.equal(before.annotations);
    },
  },
  {
    collection: 'triggers',
    definition: 'Trigger',
    create: () => ({ parameters: [{ key: 'color', value: 'blue' }] }),
    checkCreated: (e, reveal) => {
      expect(reveal(e)).to.deep.equal([{ key: 'color', value: 'blue' }]);
    },
    update: { annotations: [{ key: 'feed', value: 'none' }] },
    checkMerged: (before, after) => {
      expect(after.annotations).to.deep.equal([{ key: 'feed', value: 'none' }]);
      expect(after.parameters).to.deep.equal(before.parameters);
    },
  },
  {
    collection: 'rules',
    definition: 'Rule',
    setup: async (s) => {
      expectOk(await call('PUT', entityUrl(s, 'triggers', 'rt'), { auth: s.guestKey, body: {} }));
      expectOk(await call('PUT', entityUrl(s, 'actions', 'ra'), { auth: s.guestKey, body: nodeAction() }));
    },
    create: () => ({ trigger: 'rt', action: 'ra' }),
    checkCreated: (e) => {
      expect(e.trigger).to.deep.equal({ path: 'guest', name: 'rt' });
      expect(e.action).to.deep.equal({ path: 'guest', name: 'ra' });
      expect(e.status).to.equal('active');
    },
    update: { annotations: [{ key: 'note', value: 'updated' }] },
    checkMerged: (before, after) => {
      expect(after.annotations).to.deep.equal([{ key: 'note', value: 'updated' }]);
      expect(after.trigger).to.deep.equal(before.trigger);
      expect(after.action).to.deep.equal(before.action);
      expect(after.status).to.equal(before.status);
    },
  },
  {
    collection: 'packages',
    definition: 'Package',
    create: () => ({ parameters: [{ key: 'region', value: 'eu' }] }),
    checkCreated: (e, reveal) => {
      expect(reveal(e)).to.deep.equal([{ key: 'region', value: 'eu' }]);
      expect(e.binding).to.deep.equal({});
    },
    update: { publish: true },
    // a read also lists what the package holds
    asRead: (e) => ({ ...e, actions: [], feeds: [] }),
    checkMerged: (before, after) => {
      expect(after.publish).to.equal(true);
      expect(after.parameters).to.deep.equal(before.parameters);
      expect(after.binding).to.deep.equal(before.binding);
    },
  },
];

for (const spec of crudSpecs) {
  const { collection, definition } = spec;
  const asRead = spec.asRead ?? ((e: any) => e);
  describe(`API: ${collection} CRUD`, function () {
    let s: TestServer;
    let key: string;
    const url = (name: string, query = '') => entityUrl(s, collection, name, query);
    const create = async (name: string): Promise<any> => {
      const r = await call('PUT', url(name), { auth: key, body: spec.create() });
      expectOk(r);
      return r.body;
    };

    suiteServer(async (server) => {
      s = server;
      key = s.guestKey;
      await spec.setup?.(s);
    });

    it('PUT creates it: 200 with the entity at version 0.0.1, as the OpenAPI document describes it', async function () {
      const before = Date.now();
      const r = await call('PUT', url('created'), { auth: key, body: spec.create() });
      expectOk(r);
      expectConforms(definition, r.body);
      expect(r.body).to.include({ namespace: 'guest', name: 'created', version: '0.0.1', publish: false });
      expect(r.body.updated).to.be.a('number').within(before - 1000, Date.now() + 1000);
      expect(r.body).to.not.have.any.keys('_rev', '_id', 'entityType');
      spec.checkCreated(r.body, (e) => s.reveal(e));
    });

    it('GET returns what PUT stored; GET of a missing name is 404', async function () {
      const created = await create('fetched');
      const r = await call('GET', url('fetched'), { auth: key });
      expectOk(r);
      expectConforms(definition, r.body);
      expect(r.body).to.deep.equal(asRead(created));
      expectError(await call('GET', url('never-made'), { auth: key }), 404);
    });

    it('PUT on an existing name without overwrite is 409 and leaves the entity unchanged', async function () {
      const created = await create('taken');
      const again = await call('PUT', url('taken'), { auth: key, body: { ...spec.create(), ...spec.update } });
      expectError(again, 409);
      const r = await call('GET', url('taken'), { auth: key });
      expect(r.body).to.deep.equal(asRead(created));
    });

    it('PUT ?overwrite=true updates it: version 0.0.2, fields not sent keep their old values', async function () {
      const before = await create('updated');
      await sleep(2);
      const r = await call('PUT', url('updated', '?overwrite=true'), { auth: key, body: spec.update });
      expectOk(r);
      expectConforms(definition, r.body);
      expect(r.body).to.include({ namespace: 'guest', name: 'updated', version: '0.0.2' });
      expect(r.body.updated).to.be.above(before.updated);
      spec.checkMerged(before, r.body);
      const got = await call('GET', url('updated'), { auth: key });
      expect(got.body).to.deep.equal(asRead(r.body));
      // another update bumps the patch version again
      const third = await call('PUT', url('updated', '?overwrite=true'), { auth: key, body: spec.update });
      expectOk(third);
      expect(third.body.version).to.equal('0.0.3');
    });

    it('PUT ?overwrite=true on a new name creates it at version 0.0.1', async function () {
      const r = await call('PUT', url('fresh', '?overwrite=true'), { auth: key, body: spec.create() });
      expectOk(r);
      expect(r.body.version).to.equal('0.0.1');
      spec.checkCreated(r.body, (e) => s.reveal(e));
    });

    it('lists newest first as EntityBriefs, with limit, skip and count=true', async function () {
      for (const n of ['l1', 'l2', 'l3']) {
        await create(n);
        await sleep(3);
      }
      const all = await call('GET', listUrl(s, collection, '?limit=200'), { auth: key });
      expectOk(all);
      expectAllConform('EntityBrief', all.body);
      expect(names(all.body).slice(0, 3)).to.deep.equal(['l3', 'l2', 'l1']);
      for (const e of all.body) expect(e.namespace).to.equal('guest');
      if (collection === 'actions') for (const e of all.body) expect(e.exec, 'listings carry no code').to.not.have.property('code');

      // the default listing and the trailing-slash form agree
      const dflt = await call('GET', listUrl(s, collection), { auth: key });
      expect(names(dflt.body)).to.deep.equal(names(all.body).slice(0, 30));
      const slash = await call('GET', listUrl(s, collection, '/'), { auth: key });
      expect(names(slash.body)).to.deep.equal(names(dflt.body));

      const limited = await call('GET', listUrl(s, collection, '?limit=2'), { auth: key });
      expect(names(limited.body)).to.deep.equal(['l3', 'l2']);
      const skipped = await call('GET', listUrl(s, collection, '?limit=2&skip=1'), { auth: key });
      expect(names(skipped.body)).to.deep.equal(['l2', 'l1']);
      const beyond = await call('GET', listUrl(s, collection, `?skip=${all.body.length}`), { auth: key });
      expect(beyond.body).to.deep.equal([]);

      const count = await call('GET', listUrl(s, collection, '?count=true'), { auth: key });
      expectOk(count);
      expect(count.body).to.deep.equal({ [collection]: all.body.length });

      // an update makes the entity the newest
      await sleep(3);
      expectOk(await call('PUT', url('l1', '?overwrite=true'), { auth: key, body: spec.update }));
      const after = await call('GET', listUrl(s, collection, '?limit=3'), { auth: key });
      expect(names(after.body)).to.deep.equal(['l1', 'l3', 'l2']);
    });

    it('DELETE answers 200 with the deleted entity; then GET and DELETE are 404 and the list no longer has it', async function () {
      const created = await create('doomed');
      const r = await call('DELETE', url('doomed'), { auth: key });
      expectOk(r);
      expectConforms(definition, r.body);
      expect(r.body).to.include({ namespace: 'guest', name: 'doomed', version: created.version });
      expectError(await call('GET', url('doomed'), { auth: key }), 404);
      expectError(await call('DELETE', url('doomed'), { auth: key }), 404);
      const list = await call('GET', listUrl(s, collection, '?limit=200'), { auth: key });
      expect(names(list.body)).to.not.include('doomed');
      // the name is free again
      expect((await call('PUT', url('doomed'), { auth: key, body: spec.create() })).body.version).to.equal('0.0.1');
    });

    it('a name taken by another kind of entity is a 409 for PUT, PUT ?overwrite=true and GET', async function () {
      const other = collection === 'triggers' ? 'packages' : 'triggers';
      expectOk(await call('PUT', entityUrl(s, other, 'shared-name'), { auth: key, body: {} }));
      expectError(await call('PUT', url('shared-name'), { auth: key, body: spec.create() }), 409);
      expectError(await call('PUT', url('shared-name', '?overwrite=true'), { auth: key, body: spec.create() }), 409);
      expectError(await call('GET', url('shared-name'), { auth: key }), 409);
      expectError(await call('DELETE', url('shared-name'), { auth: key }), 409);
      // the other entity is untouched
      expectOk(await call('GET', entityUrl(s, other, 'shared-name'), { auth: key }));
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('API: actions in packages and package bindings', function () {
  let s: TestServer;
  let key: string;
  suiteServer(async (server) => {
    s = server;
    key = s.guestKey;
  });

  it('PUT /actions/pkg/a is 404 while the package is missing, 200 once it exists', async function () {
    expectError(await call('PUT', entityUrl(s, 'actions', 'pkg/a'), { auth: key, body: nodeAction() }), 404, /pkg/);
    expectError(await call('GET', entityUrl(s, 'actions', 'pkg/a'), { auth: key }), 404);
    expectOk(await call('PUT', entityUrl(s, 'packages', 'pkg'), { auth: key, body: {} }));
    const r = await call('PUT', entityUrl(s, 'actions', 'pkg/a'), { auth: key, body: nodeAction() });
    expectOk(r);
    expectConforms('Action', r.body);
    expect(r.body).to.include({ namespace: 'guest/pkg', name: 'a', version: '0.0.1' });
    const got = await call('GET', entityUrl(s, 'actions', 'pkg/a'), { auth: key });
    expectOk(got);
    expect(got.body).to.deep.equal(r.body);
    // an action of the same name outside the package is a different action
    expectError(await call('GET', entityUrl(s, 'actions', 'a'), { auth: key }), 404);
  });

  it('GET /actions/pkg/ lists the package’s actions, newest first; the namespace listing includes them', async function () {
    expectOk(await call('PUT', entityUrl(s, 'packages', 'lib'), { auth: key, body: {} }));
    for (const n of ['x', 'y']) {
      expectOk(await call('PUT', entityUrl(s, 'actions', `lib/${n}`), { auth: key, body: nodeAction() }));
      await sleep(3);
    }
    expectOk(await call('PUT', entityUrl(s, 'actions', 'outside'), { auth: key, body: nodeAction() }));
    const r = await call('GET', `${s.api}/namespaces/_/actions/lib/`, { auth: key });
    expectOk(r);
    expectAllConform('EntityBrief', r.body);
    expect(r.body.map((e: { namespace: string; name: string }) => `${e.namespace}/${e.name}`)).to.deep.equal(['guest/lib/y', 'guest/lib/x']);
    const count = await call('GET', `${s.api}/namespaces/_/actions/lib/?count=true`, { auth: key });
    expect(count.body).to.deep.equal({ actions: 2 });
    const all = await call('GET', listUrl(s, 'actions', '?limit=200'), { auth: key });
    const qualified = all.body.map((e: { namespace: string; name: string }) => `${e.namespace}/${e.name}`);
    expect(qualified).to.include.members(['guest/lib/x', 'guest/lib/y', 'guest/outside']);
  });

  it('DELETE of a package with actions is 409; with ?force=true it is 200 and the actions are gone', async function () {
    expectOk(await call('PUT', entityUrl(s, 'packages', 'full'), { auth: key, body: {} }));
    expectOk(await call('PUT', entityUrl(s, 'actions', 'full/one'), { auth: key, body: nodeAction() }));
    expectOk(await call('PUT', entityUrl(s, 'actions', 'full/two'), { auth: key, body: nodeAction() }));
    expectError(await call('DELETE', entityUrl(s, 'packages', 'full'), { auth: key }), 409, /2 entities/);
    expectOk(await call('GET', entityUrl(s, 'packages', 'full'), { auth: key }));
    expectOk(await call('GET', entityUrl(s, 'actions', 'full/one'), { auth: key }));

    const r = await call('DELETE', entityUrl(s, 'packages', 'full', '?force=true'), { auth: key });
    expectOk(r);
    expectConforms('Package', r.body);
    expect(r.body.name).to.equal('full');
    expectError(await call('GET', entityUrl(s, 'packages', 'full'), { auth: key }), 404);
    expectError(await call('GET', entityUrl(s, 'actions', 'full/one'), { auth: key }), 404);
    expectError(await call('GET', entityUrl(s, 'actions', 'full/two'), { auth: key }), 404);
    const listed = await call('GET', `${s.api}/namespaces/_/actions/full/`, { auth: key });
    expect(listed.body).to.deep.equal([]);
  });

  it('an empty package deletes without force', async function () {
    expectOk(await call('PUT', entityUrl(s, 'packages', 'empty'), { auth: key, body: {} }));
    expectOk(await call('DELETE', entityUrl(s, 'packages', 'empty'), { auth: key }));
  });

  it('a binding to an existing package is 200 and shows the binding', async function () {
    expectOk(await call('PUT', entityUrl(s, 'packages', 'base'), { auth: key, body: { parameters: [{ key: 'k', value: 1 }] } }));
    const r = await call('PUT', entityUrl(s, 'packages', 'bound'), { auth: key, body: { binding: { namespace: '_', name: 'base' } } });
    expectOk(r);
    expectConforms('Package', r.body);
    expect(r.body.binding).to.deep.equal({ namespace: 'guest', name: 'base' });
    const got = await call('GET', entityUrl(s, 'packages', 'bound'), { auth: key });
    expect(got.body.binding).to.deep.equal({ namespace: 'guest', name: 'base' });
    // a binding holds no actions of its own
    expectError(await call('PUT', entityUrl(s, 'actions', 'bound/a'), { auth: key, body: nodeAction() }), 400);
  });

  it('an existing package cannot be turned into a binding (400), and stays as it was', async function () {
    const pkg = await call('PUT', entityUrl(s, 'packages', 'solid'), { auth: key, body: { parameters: [{ key: 'a', value: 1 }] } });
    expectOk(pkg);
    expectOk(await call('PUT', entityUrl(s, 'packages', 'target'), { auth: key, body: {} }));
    expectError(await call('PUT', entityUrl(s, 'packages', 'solid', '?overwrite=true'), { auth: key, body: { binding: { name: 'target' } } }), 400);
    expect((await call('GET', entityUrl(s, 'packages', 'solid'), { auth: key })).body).to.deep.equal({ ...pkg.body, actions: [], feeds: [] });
  });

  it('a binding to a missing package, or to another binding, is 400', async function () {
    expectError(await call('PUT', entityUrl(s, 'packages', 'dangling'), { auth: key, body: { binding: { namespace: 'guest', name: 'no-such-package' } } }), 400);
    expectError(await call('GET', entityUrl(s, 'packages', 'dangling'), { auth: key }), 404);
    expectOk(await call('PUT', entityUrl(s, 'packages', 'base2'), { auth: key, body: {} }));
    expectOk(await call('PUT', entityUrl(s, 'packages', 'bind1'), { auth: key, body: { binding: { name: 'base2' } } }));
    expectError(await call('PUT', entityUrl(s, 'packages', 'bind2'), { auth: key, body: { binding: { name: 'bind1' } } }), 400);
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: rules', function () {
  let s: TestServer;
  let key: string;
  suiteServer(async (server) => {
    s = server;
    key = s.guestKey;
    expectOk(await call('PUT', entityUrl(s, 'triggers', 't'), { auth: key, body: {} }));
    expectOk(await call('PUT', entityUrl(s, 'actions', 'a'), { auth: key, body: nodeAction() }));
  });

  it('a rule whose trigger does not exist is 404, and is not created', async function () {
    expectError(await call('PUT', entityUrl(s, 'rules', 'r1'), { auth: key, body: { trigger: 'nope', action: 'a' } }), 404, /trigger/);
    expectError(await call('GET', entityUrl(s, 'rules', 'r1'), { auth: key }), 404);
  });

  it('a rule whose action does not exist is 404, and is not created', async function () {
    expectError(await call('PUT', entityUrl(s, 'rules', 'r2'), { auth: key, body: { trigger: 't', action: 'nope' } }), 404, /action/);
    expectError(await call('GET', entityUrl(s, 'rules', 'r2'), { auth: key }), 404);
  });

  it('a rule without trigger or action is 400', async function () {
    expectError(await call('PUT', entityUrl(s, 'rules', 'r3'), { auth: key, body: { action: 'a' } }), 400);
    expectError(await call('PUT', entityUrl(s, 'rules', 'r3'), { auth: key, body: { trigger: 't' } }), 400);
    expectError(await call('PUT', entityUrl(s, 'rules', 'r3'), { auth: key }), 400);
  });

  it('a rule with both present is created active', async function () {
    const r = await call('PUT', entityUrl(s, 'rules', 'r4'), { auth: key, body: { trigger: 't', action: 'a' } });
    expectOk(r);
    expectConforms('Rule', r.body);
    expect(r.body.status).to.equal('active');
    expect(r.body.trigger).to.deep.equal({ path: 'guest', name: 't' });
    expect(r.body.action).to.deep.equal({ path: 'guest', name: 'a' });
  });

  it('a rule may name its trigger and action as /_/t, /guest/a or pkg/a', async function () {
    const r = await call('PUT', entityUrl(s, 'rules', 'r5'), { auth: key, body: { trigger: '/_/t', action: '/_/a' } });
    expectOk(r);
    expect(r.body.trigger).to.deep.equal({ path: 'guest', name: 't' });
    expect(r.body.action).to.deep.equal({ path: 'guest', name: 'a' });
    const r2 = await call('PUT', entityUrl(s, 'rules', 'r6'), { auth: key, body: { trigger: '/guest/t', action: '/guest/a' } });
    expectOk(r2);
    expect(r2.body.action).to.deep.equal({ path: 'guest', name: 'a' });

    expectOk(await call('PUT', entityUrl(s, 'packages', 'rp'), { auth: key, body: {} }));
    expectOk(await call('PUT', entityUrl(s, 'actions', 'rp/pa'), { auth: key, body: nodeAction() }));
    const r3 = await call('PUT', entityUrl(s, 'rules', 'r7'), { auth: key, body: { trigger: 't', action: 'rp/pa' } });
    expectOk(r3);
    expect(r3.body.action).to.deep.equal({ path: 'guest/rp', name: 'pa' });
  });

  it('a rule can be created inactive and switched with overwrite, keeping trigger and action', async function () {
    const r = await call('PUT', entityUrl(s, 'rules', 'r8'), { auth: key, body: { trigger: 't', action: 'a', status: 'inactive' } });
    expectOk(r);
    expect(r.body.status).to.equal('inactive');
    const u = await call('PUT', entityUrl(s, 'rules', 'r8', '?overwrite=true'), { auth: key, body: { status: 'active' } });
    expectOk(u);
    expect(u.body).to.include({ status: 'active', version: '0.0.2' });
    expect(u.body.trigger).to.deep.equal(r.body.trigger);
    expect(u.body.action).to.deep.equal(r.body.action);
  });

  it('updating a rule to a missing action is 404 and leaves it unchanged', async function () {
    const r = await call('PUT', entityUrl(s, 'rules', 'r9'), { auth: key, body: { trigger: 't', action: 'a' } });
    expectOk(r);
    expectError(await call('PUT', entityUrl(s, 'rules', 'r9', '?overwrite=true'), { auth: key, body: { action: 'gone' } }), 404);
    expect((await call('GET', entityUrl(s, 'rules', 'r9'), { auth: key })).body).to.deep.equal(r.body);
  });

  it('a rule lives on its trigger: overwrite moves it with its status, delete removes it; with the trigger gone it reads inactive', async function () {
    const rulesOf = async (t: string) => (await call('GET', entityUrl(s, 'triggers', t), { auth: key })).body.rules;
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'from'), { auth: key, body: {} }));
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'to'), { auth: key, body: {} }));
    expectOk(await call('PUT', entityUrl(s, 'rules', 'mover'), { auth: key, body: { trigger: 'from', action: 'a', status: 'inactive' } }));
    expect(await rulesOf('from')).to.deep.equal({ 'guest/mover': { action: { path: 'guest', name: 'a' }, status: 'inactive' } });

    const moved = await call('PUT', entityUrl(s, 'rules', 'mover', '?overwrite=true'), { auth: key, body: { trigger: '/_/to' } });
    expectOk(moved);
    expect(moved.body).to.deep.include({ status: 'inactive', trigger: { path: 'guest', name: 'to' } });
    expect(await rulesOf('from')).to.deep.equal({});
    expect(await rulesOf('to')).to.deep.equal({ 'guest/mover': { action: { path: 'guest', name: 'a' }, status: 'inactive' } });
    // a trigger update keeps its rules
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'to', '?overwrite=true'), { auth: key, body: { parameters: [{ key: 'p', value: 1 }] } }));
    expect(Object.keys(await rulesOf('to'))).to.deep.equal(['guest/mover']);

    const del = await call('DELETE', entityUrl(s, 'rules', 'mover'), { auth: key });
    expectOk(del);
    expectConforms('Rule', del.body);
    expect(await rulesOf('to')).to.deep.equal({});

    expectOk(await call('PUT', entityUrl(s, 'rules', 'orphan'), { auth: key, body: { trigger: 'to', action: 'a' } }));
    expectOk(await call('DELETE', entityUrl(s, 'triggers', 'to'), { auth: key }));
    const orphan = await call('GET', entityUrl(s, 'rules', 'orphan'), { auth: key });
    expectOk(orphan);
    expect(orphan.body).to.deep.include({ status: 'inactive', trigger: { path: 'guest', name: 'to' } });
    // the listing says what a GET says: a rule whose trigger is gone is not active there either
    const listedStatus = async () => (await call('GET', listUrl(s, 'rules'), { auth: key })).body.find((r: { name: string }) => r.name === 'orphan')?.status;
    expect(await listedStatus()).to.equal('inactive');
    // a trigger made again under the name does not know the rule until it is enabled again
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'to'), { auth: key, body: {} }));
    expect((await call('GET', entityUrl(s, 'rules', 'orphan'), { auth: key })).body.status).to.equal('inactive');
    expect(await listedStatus()).to.equal('inactive');
    expectOk(await call('POST', entityUrl(s, 'rules', 'orphan'), { auth: key, body: { status: 'active' } }));
    expect(await rulesOf('to')).to.deep.equal({ 'guest/orphan': { action: { path: 'guest', name: 'a' }, status: 'active' } });
    expect(await listedStatus()).to.equal('active');
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: action code', function () {
  let s: TestServer;
  let key: string;
  suiteServer(async (server) => {
    s = server;
    key = s.guestKey;
  });

  /** Source text of about `bytes` bytes with multi-byte characters, so any corruption shows. */
  const bigSource = (bytes: number): string => {
    const lines = ['function main() { return { ok: true }; }\n'];
    let size = Buffer.byteLength(lines[0]!);
    for (let i = 0; size < bytes; i++) {
      const line = `// ${i} ${randomBytes(36).toString('base64')} é€😀\n`;
      lines.push(line);
      size += Buffer.byteLength(line);
    }
    return lines.join('');
  };

  it('code over 1 MiB round-trips exactly through PUT and GET', async function () {
    const code = bigSource(MiB + 1000);
    expect(Buffer.byteLength(code)).to.be.above(MiB);
    const r = await call('PUT', entityUrl(s, 'actions', 'big'), { auth: key, body: nodeAction(code) });
    expectOk(r);
    expect(r.body.exec.code === code, 'PUT answers with the code').to.equal(true);
    const got = await call('GET', entityUrl(s, 'actions', 'big'), { auth: key });
    expectOk(got);
    expectConforms('Action', got.body);
    expect(got.body.exec.code === code, 'GET returns the same code').to.equal(true);
    expect(got.body.exec.binary).to.equal(false);

    // an update that does not touch exec keeps the big code
    const u = await call('PUT', entityUrl(s, 'actions', 'big', '?overwrite=true'), { auth: key, body: { parameters: [{ key: 'p', value: 1 }] } });
    expectOk(u);
    const again = await call('GET', entityUrl(s, 'actions', 'big'), { auth: key });
    expect(again.body.exec.code === code, 'code kept by an update without exec').to.equal(true);
    expect(s.reveal(again.body)).to.deep.equal([{ key: 'p', value: 1 }]);

    // and replacing it with small code works too
    const small = await call('PUT', entityUrl(s, 'actions', 'big', '?overwrite=true'), { auth: key, body: nodeAction('function main() {}') });
    expectOk(small);
    const replaced = (await call('GET', entityUrl(s, 'actions', 'big'), { auth: key })).body.exec.code;
    expect(replaced === 'function main() {}', 'small code replaced the big code').to.equal(true);
  });

  it('GET ?code=false omits the code, for big and small actions alike', async function () {
    expectOk(await call('PUT', entityUrl(s, 'actions', 'nocode-big'), { auth: key, body: nodeAction(bigSource(MiB + 10)) }));
    expectOk(await call('PUT', entityUrl(s, 'actions', 'nocode-small'), { auth: key, body: nodeAction('function main() { return {}; }') }));
    for (const name of ['nocode-big', 'nocode-small']) {
      const r = await call('GET', entityUrl(s, 'actions', name, '?code=false'), { auth: key });
      expectOk(r);
      expectConforms('Action', r.body);
      expect(r.body.exec.kind, name).to.equal('nodejs:20');
      expect(r.body.exec, `${name}: ?code=false`).to.not.have.property('code');
    }
  });

  it('a base64 zip as code is stored as binary and round-trips', async function () {
    const zip = Buffer.concat([Buffer.from('PK\x03\x04'), randomBytes(300)]).toString('base64');
    expect(zip.startsWith('UEsDB')).to.equal(true);
    const r = await call('PUT', entityUrl(s, 'actions', 'zipped'), { auth: key, body: { exec: { kind: 'nodejs:20', code: zip, main: 'handler' } } });
    expectOk(r);
    expectConforms('Action', r.body);
    expect(r.body.exec).to.include({ binary: true, main: 'handler', code: zip });
    const got = await call('GET', entityUrl(s, 'actions', 'zipped'), { auth: key });
    expect(got.body.exec).to.include({ binary: true, code: zip });
    const listed = await call('GET', listUrl(s, 'actions', '?limit=200'), { auth: key });
    expect(listed.body.find((e: { name: string }) => e.name === 'zipped').exec.binary).to.equal(true);
    // replaced by source text, it is no longer binary
    const u = await call('PUT', entityUrl(s, 'actions', 'zipped', '?overwrite=true'), { auth: key, body: nodeAction() });
    expect(u.body.exec.binary).to.equal(false);
  });

  it('a request body over 50 MiB is 413, nothing is stored, and the server keeps serving', async function () {
    this.timeout(60_000);
    const code = 'x'.repeat(50 * MiB + 16);
    const raw = Buffer.from(JSON.stringify(nodeAction(code)));
    expect(raw.length).to.be.above(50 * MiB);
    const r = await call('PUT', entityUrl(s, 'actions', 'too-big-body'), { auth: key, raw, headers: { 'content-type': 'application/json' } });
    expectError(r, 413, /request/);
    expectOk(await call('GET', `${s.api}/namespaces`, { auth: key }));
    expectError(await call('GET', entityUrl(s, 'actions', 'too-big-body'), { auth: key }), 404);
  });

  it('exec.code over 48 MiB (in a body under 50 MiB) is 413 naming exec.code', async function () {
    this.timeout(60_000);
    const code = 'y'.repeat(48 * MiB + 1);
    const raw = JSON.stringify(nodeAction(code));
    expect(raw.length).to.be.below(50 * MiB);
    expectError(await call('PUT', entityUrl(s, 'actions', 'too-big-code'), { auth: key, raw }), 413, /exec\.code/);
    expectError(await call('GET', entityUrl(s, 'actions', 'too-big-code'), { auth: key }), 404);
    expectOk(await call('GET', `${s.api}/namespaces`, { auth: key }));
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: an oversized streamed body', function () {
  let s: TestServer;
  before(async function () {
    s = await startTestServer();
  });
  after(async function () {
    // a connection the server never hangs up on would keep stop() waiting for ever (the
    // test below reports that as a failure); don't let it hide the other results
    await Promise.race([s?.destroy(), sleep(5_000)]);
  });

  /**
   * PUT a chunked body (no content-length) of `mib` MiB, stop sending when the reply comes,
   * and wait up to 3 s for the server to hang up.
   */
  const streamPut = (url: string, auth: string, mib: number) =>
    new Promise<{ status: number; connection: string | undefined; hungUp: boolean }>((ok, fail) => {
      const u = new URL(url);
      const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', agent: false, headers: { authorization: basic(auth), 'transfer-encoding': 'chunked', connection: 'keep-alive' } });
      let answered = false;
      req.on('error', (e) => (answered ? undefined : fail(e)));
      req.on('response', (res) => {
        answered = true;
        res.resume();
        const socket = req.socket!;
        const timer = setTimeout(() => done(false), 3_000);
        const done = (hungUp: boolean) => {
          clearTimeout(timer);
          req.destroy();
          ok({ status: res.statusCode ?? 0, connection: res.headers.connection, hungUp });
        };
        if (socket.destroyed) done(true);
        else socket.once('close', () => done(true));
      });
      const chunk = Buffer.alloc(MiB, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < mib && !answered) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });

  it('is 413, the server hangs up on a sender that stopped mid-body instead of leaving the connection open, and keeps serving', async function () {
    this.timeout(60_000);
    const r = await streamPut(entityUrl(s, 'actions', 'too-big-chunked'), s.guestKey, 52);
    expect(r.status).to.equal(413);
    expectOk(await call('GET', `${s.api}/namespaces`, { auth: s.guestKey }));
    expectError(await call('GET', entityUrl(s, 'actions', 'too-big-chunked'), { auth: s.guestKey }), 404);
    // a sender still sending would have its body read and dropped (uploads.test.ts); this one
    // stopped when the 413 came, mid-body: the server closes the half-read connection soon
    // (DISCARD.idleMs) rather than keep it open for ever
    expect(r.hungUp, 'the server closed the connection after the 413').to.equal(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: concurrent writes, sizes and body encodings', function () {
  let s: TestServer;
  let key: string;
  suiteServer(async (server) => {
    s = server;
    key = s.guestKey;
  });

  it('concurrent creates of one name: exactly one 200, the others 409', async function () {
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => call('PUT', entityUrl(s, 'triggers', 'race'), { auth: key, body: { parameters: [{ key: 'i', value: i }] } })));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((c) => c === 200), statuses.join(',')).to.have.length(1);
    for (const r of replies.filter((r) => r.status !== 200)) expectError(r, 409);
    const winner = replies.find((r) => r.status === 200)!;
    expect((await call('GET', entityUrl(s, 'triggers', 'race'), { auth: key })).body).to.deep.equal(winner.body);
  });

  it('concurrent updates: each one either applies (200) or is a 409; none is lost silently', async function () {
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'counter'), { auth: key, body: {} }));
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => call('PUT', entityUrl(s, 'triggers', 'counter', '?overwrite=true'), { auth: key, body: { parameters: [{ key: 'i', value: i }] } })),
    );
    const ok = replies.filter((r) => r.status === 200);
    expect(ok.length).to.be.at.least(1);
    for (const r of replies.filter((r) => r.status !== 200)) expectError(r, 409);
    const final = await call('GET', entityUrl(s, 'triggers', 'counter'), { auth: key });
    expect(final.body.version, 'one version bump per successful update').to.equal(`0.0.${1 + ok.length}`);
    expect(ok.map((r) => JSON.stringify(r.body.parameters))).to.include(JSON.stringify(final.body.parameters));
  });

  it('concurrent deletes: one 200, the others 404 or 409, and the entity is gone', async function () {
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'gone'), { auth: key, body: {} }));
    const replies = await Promise.all(Array.from({ length: 5 }, () => call('DELETE', entityUrl(s, 'triggers', 'gone'), { auth: key })));
    expect(replies.filter((r) => r.status === 200)).to.have.length(1);
    for (const r of replies.filter((r) => r.status !== 200)) expectError(r, r.status === 404 ? 404 : 409);
    expectError(await call('GET', entityUrl(s, 'triggers', 'gone'), { auth: key }), 404);
  });

  it('parameters over 1 MiB are 413 naming parameters', async function () {
    const big = [{ key: 'p', value: 'x'.repeat(MiB + 10) }];
    expectError(await call('PUT', entityUrl(s, 'triggers', 'heavy'), { auth: key, body: { parameters: big } }), 413, /parameters/);
    expectError(await call('PUT', entityUrl(s, 'actions', 'heavy'), { auth: key, body: { ...nodeAction(), parameters: big } }), 413, /parameters/);
    expectError(await call('PUT', entityUrl(s, 'packages', 'heavy'), { auth: key, body: { parameters: big } }), 413, /parameters/);
    expectError(await call('GET', entityUrl(s, 'triggers', 'heavy'), { auth: key }), 404);
  });

  it('a JSON body is accepted whatever its content type (curl -d sends form encoding)', async function () {
    const raw = JSON.stringify({ parameters: [{ key: 'a', value: 1 }] });
    for (const [name, type] of [['form', 'application/x-www-form-urlencoded'], ['text', 'text/plain'], ['none', undefined]] as const) {
      const r = await call('PUT', entityUrl(s, 'triggers', name), { auth: key, raw, headers: type ? { 'content-type': type } : {} });
      expectOk(r);
      expect(s.reveal(r.body), name).to.deep.equal([{ key: 'a', value: 1 }]);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: bad requests (400)', function () {
  let s: TestServer;
  let key: string;
  suiteServer(async (server) => {
    s = server;
    key = s.guestKey;
    expectOk(await call('PUT', entityUrl(s, 'actions', 'existing'), { auth: key, body: nodeAction() }));
  });

  const illegalNames = ['bad%20name%20', 'a*b', 'a'.repeat(257), '%20lead', 'semi%3Bcolon', 'a%2Fb%2Fc', '-dash-first'];

  it('illegal entity names are 400 for PUT, GET and DELETE in every collection', async function () {
    for (const collection of ['actions', 'triggers', 'rules', 'packages']) {
      for (const name of illegalNames) {
        const body = collection === 'actions' ? nodeAction() : collection === 'rules' ? { trigger: 't', action: 'a' } : {};
        expectError(await call('PUT', entityUrl(s, collection, name), { auth: key, body }), 400, /illegal/);
        expectError(await call('GET', entityUrl(s, collection, name), { auth: key }), 400, /illegal/);
        expectError(await call('DELETE', entityUrl(s, collection, name), { auth: key }), 400, /illegal/);
      }
    }
  });

  it('a name of 256 characters is fine, 257 is not; names may hold @ . & - and inner spaces', async function () {
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'n'.repeat(256)), { auth: key, body: {} }));
    expectError(await call('PUT', entityUrl(s, 'triggers', 'n'.repeat(257)), { auth: key, body: {} }), 400);
    const name = 'my trigger@host.example&co-1';
    const r = await call('PUT', entityUrl(s, 'triggers', encodeURIComponent(name)), { auth: key, body: {} });
    expectOk(r);
    expect(r.body.name).to.equal(name);
    expect((await call('GET', entityUrl(s, 'triggers', encodeURIComponent(name)), { auth: key })).body.name).to.equal(name);
  });

  it('an illegal package or namespace in the path is 400', async function () {
    expectError(await call('PUT', entityUrl(s, 'actions', 'b*d/a'), { auth: key, body: nodeAction() }), 400, /illegal/);
    expectError(await call('GET', `${s.api}/namespaces/b*d/actions`, { auth: key }), 400, /illegal/);
  });

  it('a body that is not JSON is 400 and says the content was malformed', async function () {
    for (const raw of ['{"exec":', 'not json', '{"exec": {"kind": "nodejs:20", "code": "x"}}}']) {
      expectError(await call('PUT', entityUrl(s, 'actions', 'badjson'), { auth: key, raw, headers: { 'content-type': 'application/json' } }), 400, /malformed/);
    }
    expectError(await call('GET', entityUrl(s, 'actions', 'badjson'), { auth: key }), 404);
  });

  it('a body that is a JSON array, string or number is 400', async function () {
    for (const collection of ['actions', 'triggers', 'rules', 'packages']) {
      for (const body of [[], [nodeAction()], 'text', 42]) {
        expectError(await call('PUT', entityUrl(s, collection, 'notobject'), { auth: key, body }), 400, /object/);
      }
    }
  });

  it('fields of the wrong type are 400 naming the field', async function () {
    expectError(await call('PUT', entityUrl(s, 'actions', 'wrongtype'), { auth: key, body: { exec: { kind: 'nodejs:20', code: 42 } } }), 400, /exec\.code/);
    expectError(await call('PUT', entityUrl(s, 'triggers', 'wrongtype'), { auth: key, body: { parameters: { key: 'a' } } }), 400, /parameters/);
    expectError(await call('PUT', entityUrl(s, 'packages', 'wrongtype'), { auth: key, body: { publish: 'yes' } }), 400, /publish/);
  });

  it('an unknown kind is 400 naming the kind', async function () {
    expectError(await call('PUT', entityUrl(s, 'actions', 'cobol'), { auth: key, body: { exec: { kind: 'cobol:85', code: 'x' } } }), 400, /cobol:85/);
  });

  it('creating an action without exec, or without code, is 400', async function () {
    expectError(await call('PUT', entityUrl(s, 'actions', 'noexec'), { auth: key, body: { parameters: [] } }), 400, /exec/);
    expectError(await call('PUT', entityUrl(s, 'actions', 'noexec'), { auth: key }), 400, /exec/);
    expectError(await call('PUT', entityUrl(s, 'actions', 'nocode'), { auth: key, body: { exec: { kind: 'nodejs:20' } } }), 400, /code/);
    expectError(await call('GET', entityUrl(s, 'actions', 'noexec'), { auth: key }), 404);
  });

  it('limits out of range are 400 with a message naming the limit; the action is not changed', async function () {
    const cases: Array<[Record<string, number>, RegExp]> = [
      [{ memory: 64 }, /memory.*128/],
      [{ memory: 1024 }, /memory.*512/],
      [{ timeout: 400000 }, /timeout.*300000/],
      [{ timeout: 10 }, /timeout.*100/],
      [{ logs: 11 }, /logs.*10/],
      [{ memory: 200.5 }, /memory/],
    ];
    for (const [limits, message] of cases) {
      expectError(await call('PUT', entityUrl(s, 'actions', 'limited'), { auth: key, body: { ...nodeAction(), limits } }), 400, message);
      expectError(await call('PUT', entityUrl(s, 'actions', 'existing', '?overwrite=true'), { auth: key, body: { limits } }), 400, message);
    }
    expectError(await call('GET', entityUrl(s, 'actions', 'limited'), { auth: key }), 404);
    const r = await call('GET', entityUrl(s, 'actions', 'existing'), { auth: key });
    expect(r.body).to.include({ version: '0.0.1' });
    expect(r.body.limits).to.deep.equal({ timeout: 60000, memory: 256, logs: 10, concurrency: 1 });
    // the bounds themselves are allowed
    const ok = await call('PUT', entityUrl(s, 'actions', 'bounds'), { auth: key, body: { ...nodeAction(), limits: { memory: 128, timeout: 300000, logs: 0 } } });
    expectOk(ok);
    expect(ok.body.limits).to.include({ memory: 128, timeout: 300000, logs: 0 });
  });

  it('bad limit and skip values are 400; limit=200 and limit=0 are fine', async function () {
    for (const q of ['limit=abc', 'limit=201', 'limit=-1', 'skip=-1', 'skip=abc', 'limit=1.5']) {
      for (const collection of ['actions', 'triggers', 'rules', 'packages']) {
        expectError(await call('GET', listUrl(s, collection, `?${q}`), { auth: key }), 400, /value/);
      }
    }
    expectError(await call('GET', listUrl(s, 'actions', '?limit=201'), { auth: key }), 400, /200/);
    expectOk(await call('GET', listUrl(s, 'actions', '?limit=200'), { auth: key }));
    const zero = await call('GET', listUrl(s, 'actions', '?limit=0'), { auth: key });
    expectOk(zero);
    expect(names(zero.body)).to.include('existing');
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: authentication (401)', function () {
  let s: TestServer;
  suiteServer(async (server) => {
    s = server;
  });

  const uuidOf = (k: string) => k.slice(0, k.indexOf(':'));

  it('no Authorization header is 401 with {error, code} and X-Request-ID equal to code', async function () {
    const r = await call('GET', listUrl(s, 'actions'));
    expectError(r, 401);
    expect(r.headers.get('www-authenticate') ?? '').to.match(/^Basic/i);
    expectError(await call('GET', `${s.api}/namespaces`), 401);
  });

  it('a wrong key, an unknown uuid and malformed headers are 401', async function () {
    const headers = [
      basic(`${uuidOf(s.guestKey)}:${'x'.repeat(64)}`),
      basic(`${uuidOf(s.guestKey)}:${s.guestKey.slice(uuidOf(s.guestKey).length + 1, -1)}`),
      basic(`00000000-0000-0000-0000-000000000000:${s.guestKey.slice(uuidOf(s.guestKey).length + 1)}`),
      basic(s.guestKey.replace(':', '')),
      basic(`:${s.guestKey}`),
      'Basic',
      'Basic ',
      'Basic !!!not base64!!!',
      `Token ${Buffer.from(s.guestKey).toString('base64')}`,
      Buffer.from(s.guestKey).toString('base64'),
      'Bearer',
      'Bearer not.a.jwt',
    ];
    for (const authorization of headers) {
      const r = await call('GET', listUrl(s, 'actions'), { headers: { authorization } });
      expectError(r, 401);
    }
  });

  it('the right key (scheme in any case) is accepted', async function () {
    const b64 = Buffer.from(s.guestKey).toString('base64');
    for (const scheme of ['Basic', 'basic', 'BASIC']) {
      expectOk(await call('GET', listUrl(s, 'actions'), { headers: { authorization: `${scheme} ${b64}` } }));
    }
  });

  it('a rejected PUT or DELETE changes nothing', async function () {
    expectError(await call('PUT', entityUrl(s, 'triggers', 'sneaky'), { body: {} }), 401);
    expectError(await call('GET', entityUrl(s, 'triggers', 'sneaky'), { auth: s.guestKey }), 404);
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'kept'), { auth: s.guestKey, body: {} }));
    expectError(await call('DELETE', entityUrl(s, 'triggers', 'kept'), { auth: basic(`${uuidOf(s.guestKey)}:wrong`) }), 401);
    expectOk(await call('GET', entityUrl(s, 'triggers', 'kept'), { auth: s.guestKey }));
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: namespaces are private (403)', function () {
  let s: TestServer;
  let guest: string;
  let alice: string;
  suiteServer(async (server) => {
    s = server;
    guest = s.guestKey;
    alice = await s.createUser('alice');
    expectOk(await call('PUT', entityUrl(s, 'actions', 'alices'), { auth: alice, body: nodeAction() }));
    expectOk(await call('PUT', entityUrl(s, 'packages', 'private'), { auth: alice, body: {} }));
    expectOk(await call('PUT', entityUrl(s, 'packages', 'shared'), { auth: alice, body: { publish: true } }));
    expectOk(await call('PUT', entityUrl(s, 'actions', 'guests'), { auth: guest, body: nodeAction() }));
  });

  it('alice sees her own namespace', async function () {
    const r = await call('GET', `${s.api}/namespaces`, { auth: alice });
    expect(r.body).to.deep.equal(['alice']);
    const list = await call('GET', listUrl(s, 'actions', '', 'alice'), { auth: alice });
    expectOk(list);
    expect(names(list.body)).to.deep.equal(['alices']);
    expect(list.body[0].namespace).to.equal('alice');
  });

  it('guest may not list, get, create or delete in alice’s namespace', async function () {
    for (const collection of ['actions', 'triggers', 'rules']) {
      expectError(await call('GET', listUrl(s, collection, '', 'alice'), { auth: guest }), 403);
      expectError(await call('GET', listUrl(s, collection, '?count=true', 'alice'), { auth: guest }), 403);
    }
    // of alice's packages, guest sees only the published one
    const pkgs = await call('GET', listUrl(s, 'packages', '', 'alice'), { auth: guest });
    expectOk(pkgs);
    expect(names(pkgs.body)).to.deep.equal(['shared']);
    expect((await call('GET', listUrl(s, 'packages', '?count=true', 'alice'), { auth: guest })).body).to.deep.equal({ packages: 1 });
    expectError(await call('GET', entityUrl(s, 'actions', 'alices', '', 'alice'), { auth: guest }), 403);
    expectError(await call('PUT', entityUrl(s, 'actions', 'planted', '', 'alice'), { auth: guest, body: nodeAction() }), 403);
    expectError(await call('PUT', entityUrl(s, 'actions', 'alices', '?overwrite=true', 'alice'), { auth: guest, body: nodeAction('evil') }), 403);
    expectError(await call('DELETE', entityUrl(s, 'actions', 'alices', '', 'alice'), { auth: guest }), 403);
    expectError(await call('GET', `${s.api}/namespaces/alice/actions/private/`, { auth: guest }), 403);
    expectError(await call('GET', `${s.api}/namespaces/alice/limits`, { auth: guest }), 403);

    // nothing changed for alice
    const list = await call('GET', listUrl(s, 'actions'), { auth: alice });
    expect(names(list.body)).to.deep.equal(['alices']);
    const a = await call('GET', entityUrl(s, 'actions', 'alices'), { auth: alice });
    expect(a.body).to.include({ version: '0.0.1' });
    expect(a.body.exec.code).to.equal(nodeAction().exec.code);
  });

  it('alice may not reach guest’s namespace either', async function () {
    expectError(await call('GET', listUrl(s, 'actions', '', 'guest'), { auth: alice }), 403);
    expectError(await call('GET', entityUrl(s, 'actions', 'guests', '', 'guest'), { auth: alice }), 403);
    expectError(await call('DELETE', entityUrl(s, 'actions', 'guests', '', 'guest'), { auth: alice }), 403);
    expectOk(await call('GET', entityUrl(s, 'actions', 'guests'), { auth: guest }));
  });

  it('`_` is always the caller’s own namespace', async function () {
    expectError(await call('GET', entityUrl(s, 'actions', 'alices'), { auth: guest }), 404);
    expectError(await call('GET', entityUrl(s, 'actions', 'guests'), { auth: alice }), 404);
    const g = await call('GET', listUrl(s, 'actions'), { auth: guest });
    expect(names(g.body)).to.deep.equal(['guests']);
  });

  it('a rule may not use another namespace’s trigger or action', async function () {
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'gt'), { auth: guest, body: {} }));
    expectError(await call('PUT', entityUrl(s, 'rules', 'cross'), { auth: guest, body: { trigger: 'gt', action: '/alice/alices' } }), 403);
    expectError(await call('GET', entityUrl(s, 'rules', 'cross'), { auth: guest }), 404);
  });

  it('a binding may use another namespace’s published package but not a private one', async function () {
    const r = await call('PUT', entityUrl(s, 'packages', 'mine'), { auth: guest, body: { binding: { namespace: 'alice', name: 'shared' } } });
    expectOk(r);
    expect(r.body.binding).to.deep.equal({ namespace: 'alice', name: 'shared' });
    expectError(await call('PUT', entityUrl(s, 'packages', 'peek'), { auth: guest, body: { binding: { namespace: 'alice', name: 'private' } } }), 400);
  });
});

// ---------------------------------------------------------------------------------------------

interface Issued {
  token: string;
  expires_in: number;
  namespace: string;
}

describe('API: bearer tokens', function () {
  let s: TestServer;
  let key: string;
  const issue = async (auth: string, body?: unknown): Promise<Reply<Issued>> => call<Issued>('POST', `${s.api}/token`, { auth, ...(body === undefined ? {} : { body }) });
  const bearer = (token: string) => `Bearer ${token}`;

  suiteServer(async (server) => {
    s = server;
    key = s.guestKey;
    expectOk(await call('PUT', entityUrl(s, 'actions', 'hello'), { auth: key, body: nodeAction() }));
  });

  it('POST /token with Basic issues {token, expires_in, namespace}', async function () {
    const r = await issue(key);
    expectOk(r);
    expect(r.body).to.have.all.keys('token', 'expires_in', 'namespace');
    expect(r.body.namespace).to.equal('guest');
    expect(r.body.expires_in).to.equal(3600);
    expect(r.body.token.split('.')).to.have.length(3);
    const claims = jwt.decode(r.body.token) as jwt.JwtPayload;
    expect(claims.exp! - claims.iat!).to.equal(3600);
  });

  it('expiresIn shortens the token’s life; more than the maximum is capped; under 60 s is 400', async function () {
    const short = await issue(key, { expiresIn: 120 });
    expectOk(short);
    expect(short.body.expires_in).to.equal(120);
    const long = await issue(key, { expiresIn: 10 * 24 * 3600 });
    expectOk(long);
    expect(long.body.expires_in).to.equal(3600);
    expectError(await issue(key, { expiresIn: 1 }), 400, /expiresIn/);
    expectError(await issue(key, { expiresIn: 'soon' }), 400, /expiresIn/);
    expectError(await issue(key, [1]), 400);
  });

  it('the token authenticates calls to the namespace, whatever the case of the scheme', async function () {
    const { token } = (await issue(key)).body;
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const r = await call('GET', listUrl(s, 'actions'), { headers: { authorization: `${scheme} ${token}` } });
      expectOk(r);
      expect(names(r.body)).to.deep.equal(['hello']);
    }
    expect((await call('GET', `${s.api}/namespaces`, { auth: bearer(token) })).body).to.deep.equal(['guest']);
    expectOk(await call('PUT', entityUrl(s, 'triggers', 'via-token'), { auth: bearer(token), body: {} }));
    expectOk(await call('GET', entityUrl(s, 'triggers', 'via-token'), { auth: key }));
  });

  it('the scheme of Basic is case-insensitive for POST /token too', async function () {
    const r = await issue(`basic ${Buffer.from(key).toString('base64')}`);
    expectOk(r);
    expect(r.body.namespace).to.equal('guest');
  });

  it('a token cannot be used to get another token (403)', async function () {
    const { token } = (await issue(key)).body;
    expectError(await issue(bearer(token)), 403);
    expectError(await issue(`BEARER ${token}`), 403);
  });

  it('a tampered, foreign or expired token is 401', async function () {
    const { token } = (await issue(key)).body;
    const [header, payload, signature] = token.split('.') as [string, string, string];
    // claims changed under the old signature
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, exp: (claims.exp as number) + 3600 })).toString('base64url');
    // signature changed
    const flipped = signature.slice(0, 5) + (signature[5] === 'A' ? 'B' : 'A') + signature.slice(6);
    const secret = await s.opened.store.secret('jwt', () => 'unused');
    const tokens = [
      `${header}.${forged}.${signature}`,
      `${header}.${payload}.${flipped}`,
      `${header}.${payload}.`,
      jwt.sign({ ns: 'guest' }, randomBytes(48).toString('base64url'), { subject: 'guest', issuer: 'swirl', expiresIn: 60 }),
      jwt.sign({ ns: 'guest' }, secret, { subject: 'guest', issuer: 'swirl', expiresIn: -10 }),
      jwt.sign({ ns: 'guest' }, secret, { subject: 'guest', issuer: 'someone-else', expiresIn: 60 }),
      jwt.sign({ ns: 'guest' }, '', { subject: 'guest', issuer: 'swirl', algorithm: 'none' }),
    ];
    for (const t of tokens) expectError(await call('GET', listUrl(s, 'actions'), { auth: bearer(t) }), 401);
    // the untouched token still works
    expectOk(await call('GET', listUrl(s, 'actions'), { auth: bearer(token) }));
  });

  it('a token is scoped to its namespace, and dies with its user', async function () {
    const alice = await s.createUser('alice');
    const { token, namespace } = (await issue(alice)).body;
    expect(namespace).to.equal('alice');
    expectError(await call('GET', listUrl(s, 'actions', '', 'guest'), { auth: bearer(token) }), 403);
    expect((await call('GET', listUrl(s, 'actions'), { auth: bearer(token) })).body).to.deep.equal([]);
    await s.opened.store.deleteSubject('alice');
    expectError(await call('GET', listUrl(s, 'actions'), { auth: bearer(token) }), 401);
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: routing and request ids', function () {
  let s: TestServer;
  suiteServer(async (server) => {
    s = server;
  });

  it('an unknown route is a JSON 404 {error, code}, with or without credentials', async function () {
    for (const path of ['/nope', '/api/v2', '/api/v1/nope', '/api/v1/namespaces/_/widgets', '/api/v1/namespaces/_/widgets/w']) {
      expectError(await call('GET', `${s.url}${path}`, { auth: s.guestKey }), 404);
      const anonymous = await call('GET', `${s.url}${path}`);
      expect(anonymous.status, path).to.be.oneOf([401, 404]);
      expectError(anonymous, anonymous.status);
    }
    expectError(await call('PUT', entityUrl(s, 'widgets', 'w'), { auth: s.guestKey, body: {} }), 404);
  });

  it('a method the route does not support is 405 {error, code}, not 404', async function () {
    const cases: Array<[string, string]> = [
      ['PATCH', '/namespaces/_/actions/a'],
      ['POST', '/namespaces'],
      ['PUT', '/namespaces/_/actions'],
      ['DELETE', '/namespaces/_/limits'],
      ['GET', '/token'],
    ];
    for (const [method, path] of cases) {
      const r = await call(method, `${s.api}${path}`, { auth: s.guestKey });
      expect(r.status, `${method} ${path}`).to.equal(405);
      expectError(r, 405);
      expect(r.headers.get('allow'), `${method} ${path}`).to.be.a('string').and.not.equal('');
    }
    const allow = (await call('PATCH', `${s.api}/namespaces/_/actions/a`, { auth: s.guestKey })).headers.get('allow')!;
    expect(allow.split(/,\s*/).sort()).to.include.members(['DELETE', 'GET', 'PUT']);
  });

  it('count=true still validates limit and skip', async function () {
    expectError(await call('GET', `${s.api}/namespaces/_/actions?count=true&limit=abc`, { auth: s.guestKey }), 400, /not an integer/);
  });

  it('a parameter without a value is kept with value null', async function () {
    const r = await call('PUT', entityUrl(s, 'triggers', 'novalue'), { auth: s.guestKey, body: { parameters: [{ key: 'k' }] } });
    expectOk(r);
    expect(s.reveal(r.body)).to.deep.equal([{ key: 'k', value: null }]);
  });

  it('only actions live in packages: /triggers/pkg/name is 404', async function () {
    expectOk(await call('PUT', entityUrl(s, 'packages', 'p'), { auth: s.guestKey, body: {} }));
    expectError(await call('PUT', entityUrl(s, 'triggers', 'p/t'), { auth: s.guestKey, body: {} }), 404);
    expectError(await call('GET', `${s.api}/namespaces/_/rules/p/`, { auth: s.guestKey }), 404);
  });

  it('every response carries an X-Request-ID; errors repeat it as code', async function () {
    const replies = [
      await call('GET', `${s.url}/`),
      await call('GET', `${s.api}/namespaces`, { auth: s.guestKey }),
      await call('GET', `${s.api}/api-docs`),
      await call('PUT', entityUrl(s, 'triggers', 'tid'), { auth: s.guestKey, body: {} }),
      await call('GET', entityUrl(s, 'triggers', 'tid'), { auth: s.guestKey }),
      await call('DELETE', entityUrl(s, 'triggers', 'tid'), { auth: s.guestKey }),
    ];
    for (const r of replies) {
      expectOk(r);
      expect(r.headers.get('x-request-id')).to.match(GENERATED_TID);
    }
    const ids = new Set(replies.map((r) => r.headers.get('x-request-id')));
    expect(ids.size, 'a new id per request').to.equal(replies.length);
    expectError(await call('GET', `${s.api}/namespaces`), 401);
    expectError(await call('GET', entityUrl(s, 'triggers', 'missing'), { auth: s.guestKey }), 404);
    expectError(await call('GET', entityUrl(s, 'triggers', 'a*b'), { auth: s.guestKey }), 400);
  });

  it('a caller’s X-Request-ID is echoed, on success and in error bodies', async function () {
    const headers = { 'X-Request-ID': 'my-request-0001' };
    const ok = await call('GET', `${s.api}/namespaces`, { auth: s.guestKey, headers });
    expectOk(ok);
    expect(ok.headers.get('x-request-id')).to.equal('my-request-0001');
    const err = await call('GET', entityUrl(s, 'actions', 'missing'), { auth: s.guestKey, headers });
    expectError(err, 404);
    expect(err.body.code).to.equal('my-request-0001');
    const unauth = await call('GET', `${s.api}/namespaces`, { headers });
    expectError(unauth, 401);
    expect(unauth.body.code).to.equal('my-request-0001');
  });

  it('an unusable caller X-Request-ID (too short, odd characters) is replaced by a generated one', async function () {
    for (const id of ['short', 'has spaces in it', 'x'.repeat(65), 'semi;colon;inside']) {
      const r = await call('GET', `${s.api}/namespaces`, { auth: s.guestKey, headers: { 'X-Request-ID': id } });
      expectOk(r);
      expect(r.headers.get('x-request-id')).to.match(GENERATED_TID);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('API: persistence across a restart', function () {
  let first: TestServer | undefined;
  let second: TestServer | undefined;
  after(async function () {
    // both servers share the data directory: stop the second, then let the first remove it
    await second?.stop();
    await first?.destroy();
  });

  it('entities, the guest key and keys stored in plain text by older versions survive a restart on the same data directory', async function () {
    first = await startTestServer();
    const code = 'function main() { return { kept: true }; }';
    const created = await call('PUT', entityUrl(first, 'actions', 'survivor'), { auth: first.guestKey, body: { ...nodeAction(code), parameters: [{ key: 'p', value: 'v' }] } });
    expectOk(created);
    expectOk(await call('PUT', entityUrl(first, 'packages', 'box'), { auth: first.guestKey, body: {} }));
    expectOk(await call('PUT', entityUrl(first, 'actions', 'box/inner'), { auth: first.guestKey, body: nodeAction() }));
    const { token } = (await call('POST', `${first.api}/token`, { auth: first.guestKey })).body;
    // a user as versions before hashed keys stored it: the key in plain text
    const legacy = { uuid: randomUUID(), key: newKey() };
    await first.opened.store.putSubject({ subject: 'oldtimer', namespaces: [{ name: 'oldtimer', ...legacy }] } as unknown as Subject);
    await first.stop();

    second = await startTestServer({}, first.dataDir);
    // its key was hashed at start, and still works
    expect(JSON.stringify(await second.opened.store.getSubject('oldtimer'))).to.not.contain(legacy.key);
    expect((await call('GET', `${second.api}/namespaces`, { auth: `${legacy.uuid}:${legacy.key}` })).body).to.deep.equal(['oldtimer']);
    expect(second.guestKey).to.equal(first.guestKey);
    const got = await call('GET', entityUrl(second, 'actions', 'survivor'), { auth: second.guestKey });
    expectOk(got);
    expect(got.body).to.deep.equal(created.body);
    expect(got.body.exec.code).to.equal(code);
    expectOk(await call('GET', entityUrl(second, 'actions', 'box/inner'), { auth: first.guestKey }));
    const list = await call('GET', listUrl(second, 'actions'), { auth: first.guestKey });
    expect(names(list.body)).to.have.members(['survivor', 'inner']);
    // tokens issued before the restart still work: the signing secret is kept in the store
    expectOk(await call('GET', listUrl(second, 'actions'), { auth: `Bearer ${token}` }));
  });
});
