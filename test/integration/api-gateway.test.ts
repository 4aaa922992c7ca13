import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import openwhisk from 'openwhisk';
import { swirlInProcess } from '../support/cli.ts';
import { expectConforms } from '../support/openapi.ts';
import { basic, call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** The client's `routes.get` (its typings omit it). */
const routes = (c: ReturnType<typeof openwhisk>) => c.routes as unknown as { get(o: { basepath?: string; name?: string }): Promise<unknown> };

/** The error a client call failed with (the test fails when it succeeds). */
async function refusal(p: Promise<unknown>): Promise<{ statusCode?: number; message?: string }> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e as { statusCode?: number; message?: string },
  );
  if (!outcome) expect.fail('expected the call to be refused');
  return outcome;
}

/** An action that answers with what it was given, shaped for each response type. */
const ECHO = `function main(p) {
  const seen = { id: p.id, path: p.__ow_path, method: p.__ow_method, q: p.q };
  return { body: seen, statusCode: 200, headers: { 'content-type': 'application/json' }, text: 'id=' + p.id, html: '<b>' + p.id + '</b>', svg: '<svg id="' + p.id + '"/>', id: p.id, path: p.__ow_path };
}`;

/** OpenWhisk's API gateway as its clients drive it: the openwhisk npm client's routes, and the routes served. */
describe('API gateway (openwhisk npm client routes, served routes; process containers)', function () {
  this.timeout(60_000);
  let s: TestStack;
  let ow: ReturnType<typeof openwhisk>;

  before(async function () {
    s = await startTestStack('process');
    ow = openwhisk({ apihost: s.url, api_key: s.guestKey, namespace: '_' });
    await ow.actions.create({ name: 'echo', action: ECHO, annotations: { 'web-export': true } } as never);
    await ow.packages.create({ name: 'shop' });
    await ow.actions.create({ name: 'shop/item', action: ECHO, annotations: { 'web-export': true } } as never);
    await ow.actions.create({ name: 'private', action: ECHO });
  });
  after(async function () {
    await s?.destroy();
  });

  it('creates, lists, gets and deletes routes through the openwhisk client', async function () {
    const created = (await ow.routes.create({ relpath: '/items', operation: 'GET', action: 'echo', basepath: '/store', name: 'Store' } as never)) as unknown as Record<string, any>;
    expectConforms('GatewayApi', created);
    expect(created.gwApiUrl).to.equal(`${s.url}/api/guest/store`);
    expect(created.gwApiActivated).to.equal(true);
    expect(created.apidoc.basePath).to.equal('/store');
    expect(created.apidoc.info.title).to.equal('Store');
    expect(created.apidoc.paths['/items'].get['x-openwhisk']).to.deep.equal({ namespace: 'guest', package: '', action: 'echo', url: `${s.url}/api/v1/web/guest/default/echo.json` });
    // the key the client sends along is not kept
    expect(JSON.stringify(created)).not.to.contain(s.guestKey.split(':')[1]);
    await ow.routes.create({ relpath: '/items', operation: 'POST', action: 'echo', basepath: '/store' } as never);

    const listed = (await ow.routes.list()) as unknown as { apis: Array<{ id: string; value: Record<string, any> }> };
    expectConforms('GatewayApiList', listed);
    expect(listed.apis.map((a) => a.value.apidoc.basePath)).to.deep.equal(['/store']);
    expect(Object.keys(listed.apis[0]!.value.apidoc.paths['/items'])).to.deep.equal(['get', 'post']);
    const byName = (await routes(ow).get({ name: 'Store' } as never)) as unknown as { apis: unknown[] };
    expect(byName.apis).to.have.length(1);
    expect(((await routes(ow).get({ basepath: '/nothing' })) as unknown as { apis: unknown[] }).apis).to.deep.equal([]);

    await ow.routes.delete({ basepath: '/store', relpath: '/items', operation: 'POST' } as never);
    const after = (await routes(ow).get({ basepath: '/store' })) as unknown as { apis: Array<{ value: Record<string, any> }> };
    expect(Object.keys(after.apis[0]!.value.apidoc.paths['/items'])).to.deep.equal(['get']);
    await ow.routes.delete({ basepath: '/store' });
    expect(((await ow.routes.list()) as unknown as { apis: unknown[] }).apis).to.deep.equal([]);
    const gone = await call('GET', `${s.url}/api/guest/store/items`);
    expect(gone.status).to.equal(404);
    expect((await refusal(ow.routes.delete({ basepath: '/store' }))).statusCode).to.equal(404);
  });

  it('serves a route with a path parameter by its web action; other verbs are 405, other paths 404', async function () {
    await ow.routes.create({ relpath: '/items/{id}', operation: 'GET', action: 'shop/item', basepath: '/shop' } as never);
    const got = await call('GET', `${s.url}/api/guest/shop/items/42?q=x`);
    expect(got.status).to.equal(200);
    expect(got.body).to.deep.include({ id: '42', path: '/items/42' });
    for (const verb of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const refused = await call(verb, `${s.url}/api/guest/shop/items/42`);
      expect(refused.status, verb).to.equal(405);
      expect(refused.headers.get('allow')).to.equal('GET');
      expect(refused.body.code).to.be.a('string');
    }
    expect((await call('GET', `${s.url}/api/guest/shop/nothing/42`)).status).to.equal(404);
    const preflight = await call('OPTIONS', `${s.url}/api/guest/shop/items/42`, { headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    expect(preflight.status).to.equal(200);
    expect(preflight.headers.get('access-control-allow-origin')).to.equal('*');
    const head = await fetch(`${s.url}/api/guest/shop/items/42`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect((await call('GET', `${s.url}/api/guest/shop/items/a%2Fb`)).body).to.deep.include({ id: 'a/b', path: '/items/a%2Fb' });
    expect((await call('GET', `${s.url}/api/guest/shop/items/%zz`)).status).to.equal(404);
    expect((await call('GET', `${s.url}/api/guest/other/items/42`)).status).to.equal(404);
    expect((await call('GET', `${s.url}/api/nobody/shop/items/42`)).status).to.equal(404);
  });

  it('answers each response type as the web action extension does', async function () {
    const expected: Record<string, { type: string; body: string | RegExp }> = {
      json: { type: 'application/json', body: /"id":\s*"7"/ },
      http: { type: 'application/json', body: /"method":\s*"get"/ },
      text: { type: 'text/plain', body: 'id=7' },
      html: { type: 'text/html', body: '<b>7</b>' },
      svg: { type: 'image/svg+xml', body: '<svg id="7"/>' },
    };
    for (const [type, want] of Object.entries(expected)) {
      await ow.routes.create({ relpath: `/${type}/{id}`, operation: 'GET', action: 'echo', basepath: '/types', responsetype: type } as never);
      const res = await fetch(`${s.url}/api/guest/types/${type}/7`);
      const text = await res.text();
      expect(res.status, type).to.equal(200);
      expect(res.headers.get('content-type'), type).to.contain(want.type);
      if (typeof want.body === 'string') expect(text, type).to.equal(want.body);
      else expect(text, type).to.match(want.body);
    }
  });

  it('refuses a route to an action that is not a web action, with OpenWhisk\'s message', async function () {
    const err = await refusal(ow.routes.create({ relpath: '/p', operation: 'GET', action: 'private', basepath: '/private' } as never));
    expect(err.statusCode).to.equal(400);
    expect(err.message).to.contain(`Action '/guest/private' is not a web action. Issue 'wsk action update "/guest/private" --web true' to convert the action to a web action.`);
    expect(((await routes(ow).get({ basepath: '/private' })) as unknown as { apis: unknown[] }).apis).to.deep.equal([]);
  });

  it('round-trips a swagger document: exported by getApi, imported by createApi', async function () {
    await ow.routes.create({ relpath: '/a/{x}', operation: 'GET', action: 'echo', basepath: '/round', name: 'Round', responsetype: 'http' } as never);
    const exported = ((await routes(ow).get({ basepath: '/round' })) as unknown as { apis: Array<{ value: { apidoc: Record<string, any> } }> }).apis[0]!.value.apidoc;
    expect(exported.paths['/a/{x}'].get.parameters).to.deep.equal([{ name: 'x', in: 'path', description: "Default description for 'x'", required: true, type: 'string' }]);
    await ow.routes.delete({ basepath: '/round' });
    expect((await call('GET', `${s.url}/api/guest/round/a/1`)).status).to.equal(404);

    const imported = (await ow.routes.create({ swagger: JSON.stringify(exported) } as never)) as unknown as { apidoc: unknown };
    expect(imported.apidoc).to.deep.equal(exported);
    const served = await call('GET', `${s.url}/api/guest/round/a/1`);
    expect(served.status).to.equal(200);
    expect(served.body).to.deep.include({ method: 'get', path: '/a/1' });

    const bad = await call('POST', `${s.api}/web/whisk.system/apimgmt/createApi.http`, { auth: basic(s.guestKey), body: { apidoc: { namespace: '_', swagger: { basePath: '/x', info: { title: 'x' } } } } });
    expect(bad.status).to.equal(400);
    expectConforms('ErrorMessage', bad.body);
    expect(bad.body.error).to.equal('swagger is missing the paths field.');
  });

  it("keeps tenants apart: another namespace neither sees nor deletes one's APIs; no key, no management", async function () {
    await ow.routes.create({ relpath: '/mine', operation: 'GET', action: 'echo', basepath: '/tenant' } as never);
    const otherKey = await s.createUser('stranger');
    const other = openwhisk({ apihost: s.url, api_key: otherKey, namespace: '_' });
    expect(((await other.routes.list()) as unknown as { apis: unknown[] }).apis).to.deep.equal([]);
    expect((await refusal(other.routes.delete({ basepath: '/tenant' }))).statusCode).to.equal(404);
    expect((await call('GET', `${s.url}/api/guest/tenant/mine`)).status).to.equal(200);
    expect((await call('GET', `${s.url}/api/stranger/tenant/mine`)).status).to.equal(404);
    expect((await call('GET', `${s.api}/web/whisk.system/apimgmt/getApi.http`)).status).to.equal(401);
  });

  it('the OpenAPI document describes the route management operations', async function () {
    const doc = (await call('GET', `${s.api}/api-docs`)).body as { paths: Record<string, Record<string, unknown>> };
    for (const ext of ['', '.http', '.json']) {
      expect(Object.keys(doc.paths[`/web/whisk.system/apimgmt/createApi${ext}`]!)).to.deep.equal(['post']);
      expect(Object.keys(doc.paths[`/web/whisk.system/apimgmt/getApi${ext}`]!)).to.deep.equal(['get']);
      expect(Object.keys(doc.paths[`/web/whisk.system/apimgmt/deleteApi${ext}`]!)).to.deep.equal(['delete']);
    }
  });

  describe('swirl api', function () {
    const env = () => ({ __OW_API_HOST: s.url, __OW_API_KEY: s.guestKey });

    it('creates routes with wsk\'s output, lists them as wsk\'s table, gets the swagger (json, yaml) and deletes', async function () {
      const created = await swirlInProcess(['api', 'create', '/cli', '/items/{id}', 'get', 'echo', '--response-type', 'http', '--apiname', 'Cli'], env());
      expect(created.stderr).to.equal('');
      expect(created.stdout).to.equal(`ok: created API /cli/items/{id} GET for action /_/echo\n${s.url}/api/guest/cli/items/{id}\n`);
      expect((await call('GET', `${s.url}/api/guest/cli/items/5`)).body).to.deep.include({ id: '5', method: 'get' });
      await swirlInProcess(['api', 'create', '/cli', '/items', 'post', 'shop/item'], env());

      const listed = await swirlInProcess(['api', 'list', 'Cli'], env());
      const lines = listed.stdout.trimEnd().split('\n');
      expect(lines[0]).to.equal('ok: APIs');
      expect(lines[1]).to.match(/^Action\s+Verb\s+API Name\s+URL$/);
      expect(lines.slice(2).map((l) => l.split(/\s+/))).to.deep.equal([
        ['/guest/echo', 'get', 'Cli', `${s.url}/api/guest/cli/items/{id}`],
        ['/guest/shop/item', 'post', 'Cli', `${s.url}/api/guest/cli/items`],
      ]);
      const filtered = await swirlInProcess(['api', 'list', '/cli', '/items', 'post'], env());
      expect(filtered.stdout.trimEnd().split('\n')).to.have.length(3);

      const json = await swirlInProcess(['api', 'get', 'Cli'], env());
      const swagger = JSON.parse(json.stdout) as { basePath: string; paths: Record<string, unknown> };
      expect(swagger.basePath).to.equal('/cli');
      expect(Object.keys(swagger.paths).sort()).to.deep.equal(['/items', '/items/{id}']);
      const yaml = await swirlInProcess(['api', 'get', '/cli', '--format', 'yaml'], env());
      expect(yaml.stdout).to.contain('"basePath": "/cli"');
      expect(yaml.stdout).to.match(/"\/items\/\{id\}":\n\s+"get":\n/);

      const one = await swirlInProcess(['api', 'delete', '/cli', '/items', 'post'], env());
      expect(one.stdout).to.equal('ok: deleted /items POST from /cli\n');
      const all = await swirlInProcess(['api', 'delete', '/cli'], env());
      expect(all.stdout).to.equal('ok: deleted API /cli\n');
      const missing = await swirlInProcess(['api', 'get', '/cli'], env());
      expect(missing.code).to.not.equal(0);
      expect(missing.stderr).to.contain("API '/cli'");
    });

    it('creates the routes of a swagger file (--config-file) and refuses a non-web action with its message', async function () {
      await ow.routes.create({ relpath: '/f', operation: 'PUT', action: 'echo', basepath: '/file', name: 'File' } as never);
      const exported = ((await routes(ow).get({ basepath: '/file' })) as { apis: Array<{ value: { apidoc: unknown } }> }).apis[0]!.value.apidoc;
      await ow.routes.delete({ basepath: '/file' });
      const dir = mkdtempSync(join(tmpdir(), 'swirl-swagger-'));
      writeFileSync(join(dir, 'api.json'), JSON.stringify(exported));
      try {
        const created = await swirlInProcess(['api', 'create', '--config-file', 'api.json'], env(), dir);
        expect(created.stdout).to.equal(`ok: created API /file/f PUT for action /guest/echo\n${s.url}/api/guest/file/f\n`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect((await call('PUT', `${s.url}/api/guest/file/f`)).status).to.equal(200);
      const refused = await swirlInProcess(['api', 'create', '/nope', '/p', 'get', 'private'], env());
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.contain("Action '/guest/private' is not a web action.");
    });
  });
});
