import { expect } from 'chai';
import { expectError, sleep } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { basic, call, type Reply } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { expectConforms } from '../support/openapi.ts';

const factory = factoryNames()[0]!;

// the bytes of a 1x1 PNG: a binary body must come back byte for byte
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const ECHO = 'function main(p) { return p }';
const WAIT_MS = 6_000;

type Annotations = Record<string, unknown>;
const asKeyValues = (o: Record<string, unknown>) => Object.entries(o).map(([key, value]) => ({ key, value }));

/**
 * Web actions on the whole standalone path (controller, memory bus, invoker, real
 * containers): `/api/v1/web/{ns}/{pkg|default}/{action}[.ext][/path]` without
 * credentials, as OpenWhisk's docs/webactions.md describes them.
 */
describe(`web actions (${factory} containers)`, function () {
  this.timeout(90_000);
  let s: TestStack;
  let guest: string;
  let other: string;
  const api = (path: string, ns = '_') => `${s.api}/namespaces/${ns}${path}`;
  const put = async (name: string, code: string, annotations: Annotations = { 'web-export': true }, extra: Record<string, unknown> = {}, key = guest) => {
    const r = await call('PUT', api(`/actions/${name}?overwrite=true`), { auth: key, body: { exec: { kind: 'nodejs:20', code }, annotations: asKeyValues(annotations), ...extra } });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
  };
  /** A web request: redirects are not followed, the body is kept as bytes (and parsed when JSON). */
  const web = async (method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply<any> & { bytes: Buffer }> => {
    const res = await fetch(`${s.api}/web/${path}`, { method, headers: opts.headers, body: opts.body as BodyInit | undefined, redirect: 'manual' });
    const bytes = Buffer.from(await res.arrayBuffer());
    const json = (res.headers.get('content-type') ?? '').includes('json') && bytes.length > 0;
    return { status: res.status, headers: res.headers, body: json ? JSON.parse(bytes.toString('utf8')) : bytes.toString('utf8'), bytes };
  };
  const record = async (id: string) => {
    for (let i = 0; i < 200; i++) {
      const r = await call('GET', api(`/activations/${id}`), { auth: guest });
      if (r.status === 200) return r.body;
      await sleep(25);
    }
    throw new Error(`no record for ${id}`);
  };

  before(async () => {
    s = await startTestStack(factory, { SWIRL_INVOKER_MEMORY_MB: '2048', SWIRL_BLOCKING_TIMEOUT_MS: String(WAIT_MS) });
    guest = s.guestKey;
    other = await s.createUser('other');
    await put('echo', ECHO);
    await put('private', ECHO, {});
    await put('raw', ECHO, { 'web-export': true, 'raw-http': true });
    await put('page', 'function main() { return { html: "<h1>hi</h1>", text: "plain", svg: "<svg/>", nested: { n: 5, list: [1, 2] }, s: "str" } }');
    await put('created', 'function main() { return { statusCode: 201, headers: { "X-Custom": "yes", "Set-Cookie": ["a=1", "b=2"], "Access-Control-Allow-Origin": "https://mine.test", "Content-Type": "application/json" }, body: { id: 7 } } }');
    await put('redirect', 'function main() { return { statusCode: 302, headers: { location: "http://127.0.0.1:9/elsewhere" } } }');
    await put('png', `function main() { return { headers: { "Content-Type": "image/png" }, body: "${PNG.toString('base64')}" } }`);
    await put('nothttp', 'function main(p) { return p.how === "code" ? { statusCode: "teapot" } : p.how === "header" ? { headers: { "X-A": { nested: 1 } } } : { headers: { "Content-Type": "image/png" }, body: "%%% not base64" } }');
    await put('fails', 'function main(p) { if (p.how === "throw") throw new Error("boom"); return { error: { statusCode: 418, headers: { "X-Why": "tea" }, body: "teapot" } } }');
    await put('fixed', ECHO, { 'web-export': true, final: true }, { parameters: asKeyValues({ name: 'fixed', unset: null }) });
    await put('loose', ECHO, { 'web-export': true }, { parameters: asKeyValues({ name: 'default' }) });
    await put('anyuser', ECHO, { 'web-export': true, 'require-whisk-auth': true });
    await put('secret', ECHO, { 'web-export': true, 'require-whisk-auth': 'sesame' });
    await put('number', ECHO, { 'web-export': true, 'require-whisk-auth': 42 });
    await put('options', 'function main(p) { return { statusCode: 200, headers: { "Access-Control-Allow-Origin": "https://app.test", "X-Method": p.__ow_method } } }', {
      'web-export': true,
      'web-custom-options': true,
      'require-whisk-auth': 'sesame',
    });
    await put('slow', `function main() { return new Promise((ok) => setTimeout(() => ok({ done: true }), ${WAIT_MS + 2_000})) }`);
  });
  after(() => s?.destroy());

  it('GET without credentials runs the action as its owner with the HTTP context; the activation id header leads to the stored record', async () => {
    const r = await web('GET', 'guest/default/echo.json?name=Jane&n=1', { headers: { 'X-Custom-Header': 'Yes' } });
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.match(/^application\/json/);
    expect(r.body).to.deep.include({ name: 'Jane', n: '1', __ow_method: 'get', __ow_path: '' });
    expect(r.body.__ow_headers).to.include({ 'x-custom-header': 'Yes' });
    expect(r.body).to.not.have.property('__ow_query');
    expect(r.body).to.not.have.property('__ow_body');
    expect(r.body).to.not.have.property('__ow_user');

    const id = r.headers.get('x-openwhisk-activation-id')!;
    expect(id).to.match(/^[0-9a-f]{32}$/);
    const rec = await record(id);
    expectConforms('Activation', rec);
    expect(rec.namespace).to.equal('guest');
    expect(rec.name).to.equal('echo');
    expect(rec.response.result).to.deep.equal(r.body);
  });

  it('POST a JSON object, PUT a form, DELETE and PATCH: body parameters win over query parameters; __ow_method is lowercase', async () => {
    const post = await web('POST', 'guest/default/echo.json?name=query&q=1', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'body', deep: { a: [1] } }) });
    expect(post.status).to.equal(200);
    expect(post.body).to.deep.include({ name: 'body', q: '1', deep: { a: [1] }, __ow_method: 'post' });
    const form = await web('PUT', 'guest/default/echo.json', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Form+User&x=%26' });
    expect(form.body).to.deep.include({ name: 'Form User', x: '&', __ow_method: 'put' });
    expect(form.body).to.not.have.property('__ow_body');
    expect((await web('DELETE', 'guest/default/echo.json')).body.__ow_method).to.equal('delete');
    expect((await web('PATCH', 'guest/default/echo.json')).body.__ow_method).to.equal('patch');
    // a JSON value that is not an object, text and bytes arrive whole as __ow_body
    const list = await web('POST', 'guest/default/echo.json', { headers: { 'content-type': 'application/json' }, body: '[1,2]' });
    expect(list.body.__ow_body).to.deep.equal([1, 2]);
    const text = await web('POST', 'guest/default/echo.json', { headers: { 'content-type': 'text/plain' }, body: 'Jane' });
    expect(text.body.__ow_body).to.equal('Jane');
    const bytes = await web('POST', 'guest/default/echo.json', { headers: { 'content-type': 'application/octet-stream' }, body: PNG });
    expect(Buffer.from(bytes.body.__ow_body, 'base64').equals(PNG)).to.equal(true);
    expectError(await web('POST', 'guest/default/echo.json', { headers: { 'content-type': 'application/json' }, body: '{oops' }), 400);
  });

  it('.json projects the path after the extension; a missing property is 404, a projection that is not JSON is 400', async () => {
    const all = await web('GET', 'guest/default/page.json');
    expect(all.body).to.deep.include({ html: '<h1>hi</h1>', nested: { n: 5, list: [1, 2] } });
    const nested = await web('GET', 'guest/default/page.json/nested');
    expect(nested.body).to.deep.equal({ n: 5, list: [1, 2] });
    expect((await web('GET', 'guest/default/page.json/nested/list')).body).to.deep.equal([1, 2]);
    expectError(await web('GET', 'guest/default/page.json/nested/nope'), 404, 'Response does not include requested property.');
    expectError(await web('GET', 'guest/default/page.json/%E0%A4%A'), 404, 'Response does not include requested property.');
    expectError(await web('GET', 'guest/default/page.json/s'), 400, "Response is not valid 'application/json'.");
    // the path is __ow_path as well
    const echoed = await web('GET', 'guest/default/echo.text/__ow_path?x=1');
    expect(echoed.body).to.equal('/__ow_path');
  });

  it('.html, .svg and .text answer with their property (or the projected one) and the right content type', async () => {
    const expected = [
      ['page.html', 'text/html; charset=utf-8', '<h1>hi</h1>'],
      ['page.svg', 'image/svg+xml', '<svg/>'],
      ['page.text', 'text/plain; charset=utf-8', 'plain'],
    ];
    for (const [path, type, body] of expected) {
      const r = await web('GET', `guest/default/${path}`);
      expect(r.status, path).to.equal(200);
      expect(r.headers.get('content-type'), path).to.equal(type);
      expect(r.body, path).to.equal(body);
    }
    expect((await web('GET', 'guest/default/page.text/nested/n')).body).to.equal('5');
    expect((await web('GET', 'guest/default/page.html/s')).body).to.equal('str');
    expectError(await web('GET', 'guest/default/page.html/nested'), 400, "Response is not valid 'text/html'.");
    expectError(await web('GET', 'guest/default/echo.html'), 404, 'Response does not include requested property.');
  });

  it('.http (and no extension) answers with the result’s statusCode, headers and body; a redirect is passed on, not followed', async () => {
    for (const path of ['guest/default/created.http', 'guest/default/created']) {
      const r = await web('POST', path);
      expect(r.status).to.equal(201);
      expect(r.headers.get('x-custom')).to.equal('yes');
      expect(r.headers.getSetCookie()).to.deep.equal(['a=1', 'b=2']);
      // the action's header replaces the default CORS one
      expect(r.headers.get('access-control-allow-origin')).to.equal('https://mine.test');
      expect(r.headers.get('content-type')).to.match(/^application\/json/);
      expect(r.body).to.deep.equal({ id: 7 });
      expect(r.headers.get('x-openwhisk-activation-id')).to.match(/^[0-9a-f]{32}$/);
    }
    const redirect = await web('GET', 'guest/default/redirect.http');
    expect(redirect.status).to.equal(302);
    expect(redirect.headers.get('location')).to.equal('http://127.0.0.1:9/elsewhere');
    expect(redirect.bytes.length).to.equal(0);
    // a result without statusCode and body: 204
    const empty = await web('GET', 'guest/default/echo.http');
    expect(empty.status).to.equal(204);
  });

  it('a binary body (base64 in the result, a binary content type) comes back as the exact bytes', async () => {
    const r = await web('GET', 'guest/default/png');
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.equal('image/png');
    expect(r.bytes.equals(PNG)).to.equal(true);
  });

  it('a result that is not a valid HTTP response is 400 in OpenWhisk’s words', async () => {
    expectError(await web('GET', 'guest/default/nothttp.http?how=code'), 400, "Response is not valid 'message/http'.");
    expectError(await web('GET', 'guest/default/nothttp.http?how=header'), 400, "Response is not valid 'message/http'.");
    expectError(await web('GET', 'guest/default/nothttp.http?how=body'), 400, 'Response type in header did not match generated content type.');
    expectError(await web('GET', 'guest/default/nothttp.json/nested'), 404, 'Response does not include requested property.');
  });

  it('an application error answers with its error property, whatever the path; a failed action is 400', async () => {
    const r = await web('GET', 'guest/default/fails.http/ignored');
    expect(r.status).to.equal(418);
    expect(r.headers.get('x-why')).to.equal('tea');
    expect(r.body).to.equal('teapot');
    const thrown = await web('GET', 'guest/default/fails.json?how=throw');
    expectError(thrown, 400, 'There was an error processing your request.');
    expect(thrown.headers.get('x-openwhisk-activation-id')).to.match(/^[0-9a-f]{32}$/);
  });

  it('raw-http: the body unparsed in __ow_body (text as is, JSON and bytes in base64) and the query string in __ow_query', async () => {
    const json = await web('POST', 'guest/default/raw.json?name=Jane&x=a%20b', { headers: { 'content-type': 'application/json' }, body: '{"name":"Jane"}' });
    expect(json.status).to.equal(200);
    expect(json.body).to.deep.include({ __ow_method: 'post', __ow_query: 'name=Jane&x=a%20b', __ow_body: Buffer.from('{"name":"Jane"}').toString('base64'), __ow_path: '' });
    expect(json.body).to.not.have.property('name');
    const text = await web('PUT', 'guest/default/raw.json', { headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.body).to.deep.include({ __ow_body: 'hello', __ow_query: '' });
    const form = await web('POST', 'guest/default/raw.json', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    expect(form.body.__ow_body).to.equal('a=1');
    const none = await web('GET', 'guest/default/raw.json?__ow_method=x');
    expect(none.body).to.deep.include({ __ow_body: '', __ow_query: '__ow_method=x', __ow_method: 'get' });
  });

  it('an action that is not web-exported, missing, or in an unknown namespace is 404', async () => {
    const notExported = await web('GET', 'guest/default/private.json');
    expectError(notExported, 404, 'The requested resource does not exist.');
    expect(notExported.headers.get('x-openwhisk-activation-id')).to.equal(null);
    expectError(await web('GET', 'guest/default/nosuch.json'), 404, 'The requested resource does not exist.');
    expectError(await web('GET', 'guest/nopkg/echo.json'), 404, 'The requested resource does not exist.');
    expectError(await web('GET', 'nobody/default/echo.json'), 404, 'The requested resource does not exist.');
    expectError(await web('GET', 'guest/echo.json'), 404);
    // and the activations API still needs credentials
    expectError(await call('GET', `${s.api}/namespaces/_/actions`), 401);
  });

  it('require-whisk-auth: true needs any valid credentials; a string or number needs X-Require-Whisk-Auth to equal it', async () => {
    expectError(await web('GET', 'guest/default/anyuser.json'), 401);
    expectError(await web('GET', 'guest/default/anyuser.json', { headers: { authorization: basic('nobody:wrong') } }), 401);
    const mine = await web('GET', 'guest/default/anyuser.json', { headers: { authorization: basic(guest) } });
    expect(mine.status).to.equal(200);
    expect(mine.body.__ow_user).to.equal('guest');
    const theirs = await web('GET', 'guest/default/anyuser.json', { headers: { authorization: basic(other) } });
    expect(theirs.status).to.equal(200);
    expect(theirs.body.__ow_user).to.equal('other');

    expectError(await web('GET', 'guest/default/secret.json'), 401);
    expectError(await web('GET', 'guest/default/secret.json', { headers: { 'x-require-whisk-auth': 'wrong' } }), 401);
    expect((await web('GET', 'guest/default/secret.json', { headers: { 'x-require-whisk-auth': 'sesame' } })).status).to.equal(200);
    expectError(await web('GET', 'guest/default/number.json', { headers: { 'x-require-whisk-auth': '41' } }), 401);
    expect((await web('GET', 'guest/default/number.json', { headers: { 'x-require-whisk-auth': '42' } })).status).to.equal(200);
  });

  it('final parameters cannot be overridden by the request, nor can the __ow_ properties; without final the request wins', async () => {
    const fixed = await web('GET', 'guest/default/fixed.json');
    expect(fixed.body.name).to.equal('fixed');
    const msg = 'Request defines parameters that are not allowed (e.g., reserved properties).';
    expectError(await web('GET', 'guest/default/fixed.json?name=evil'), 400, msg);
    expectError(await web('POST', 'guest/default/fixed.json', { headers: { 'content-type': 'application/json' }, body: '{"name":"evil"}' }), 400, msg);
    // a parameter the action leaves unset may be given
    expect((await web('GET', 'guest/default/fixed.json?unset=given')).body.unset).to.equal('given');
    expect((await web('GET', 'guest/default/loose.json?name=mine')).body.name).to.equal('mine');
    expectError(await web('GET', 'guest/default/echo.json?__ow_method=put'), 400, msg);
    expectError(await web('POST', 'guest/default/echo.json', { headers: { 'content-type': 'application/json' }, body: '{"__ow_user":"admin"}' }), 400, msg);
  });

  it('actions in packages, through a binding to another namespace’s published package, with inherited parameters', async () => {
    await call('PUT', api('/packages/demo'), { auth: guest, body: { parameters: asKeyValues({ from: 'demo' }) } });
    await put('demo/hello', ECHO);
    const inPkg = await web('GET', 'guest/demo/hello.json?x=1');
    expect(inPkg.status).to.equal(200);
    expect(inPkg.body).to.deep.include({ from: 'demo', x: '1' });

    await call('PUT', api('/packages/pub', 'other'), { auth: other, body: { publish: true, parameters: asKeyValues({ from: 'pub' }) } });
    await put('pub/show', ECHO, { 'web-export': true }, {}, other);
    const theirs = await web('GET', 'other/pub/show.json');
    expect(theirs.body.from).to.equal('pub');
    const id = theirs.headers.get('x-openwhisk-activation-id')!;
    // the activation is the owner's: the guest cannot see it
    expectError(await call('GET', api(`/activations/${id}`), { auth: guest }), 404);

    await call('PUT', api('/packages/bound'), { auth: guest, body: { binding: { namespace: 'other', name: 'pub' }, parameters: asKeyValues({ from: 'binding' }) } });
    const bound = await web('GET', 'guest/bound/show.json');
    expect(bound.status).to.equal(200);
    expect(bound.body.from).to.equal('binding');
    const rec = await record(bound.headers.get('x-openwhisk-activation-id')!);
    expect(rec.namespace).to.equal('guest');
    // unpublished, the package is no longer the guest's to run
    await call('PUT', api('/packages/pub?overwrite=true', 'other'), { auth: other, body: { publish: false } });
    expectError(await web('GET', 'guest/bound/show.json'), 403);
  });

  it('OPTIONS and CORS: answered for the action unless it is annotated web-custom-options; HEAD runs the action without a body', async () => {
    const options = await web('OPTIONS', 'guest/default/echo.json', { headers: { 'access-control-request-headers': 'X-Mine' } });
    expect(options.status).to.equal(200);
    expect(options.headers.get('access-control-allow-origin')).to.equal('*');
    expect(options.headers.get('access-control-allow-methods')).to.include('POST');
    expect(options.headers.get('access-control-allow-headers')).to.equal('X-Mine');
    expect(options.headers.get('x-openwhisk-activation-id')).to.equal(null);
    expect((await web('GET', 'guest/default/echo.json')).headers.get('access-control-allow-origin')).to.equal('*');

    // the action answers OPTIONS itself, without the secret it needs for anything else
    const custom = await web('OPTIONS', 'guest/default/options');
    expect(custom.status).to.equal(200);
    expect(custom.headers.get('access-control-allow-origin')).to.equal('https://app.test');
    expect(custom.headers.get('x-method')).to.equal('options');
    expectError(await web('GET', 'guest/default/options'), 401);

    const head = await web('HEAD', 'guest/default/echo.json');
    expect(head.status).to.equal(200);
    expect(head.bytes.length).to.equal(0);
    expect(head.headers.get('x-openwhisk-activation-id')).to.match(/^[0-9a-f]{32}$/);
  });

  it('the API document describes the web route, unauthenticated', async () => {
    const doc = await call('GET', `${s.api}/api-docs`);
    const route = doc.body.paths['/web/{namespace}/{package}/{action}'];
    expect(Object.keys(route)).to.include.members(['get', 'post', 'put', 'delete', 'options']);
    expect(route.get.security).to.deep.equal([]);
  });

  it('still running after the blocking wait: 202 with the activation id, whose record comes later', async () => {
    const r = await web('GET', 'guest/default/slow.json');
    expectError(r, 202, 'Response not yet ready.');
    const rec = await (async () => {
      for (let i = 0; i < 100; i++) {
        const got = await call('GET', api(`/activations/${r.headers.get('x-openwhisk-activation-id')}`), { auth: guest });
        if (got.status === 200) return got.body;
        await sleep(100);
      }
      throw new Error('no record');
    })();
    expect(rec.response.result).to.deep.equal({ done: true });
  });
});
