import { expect } from 'chai';
import type { RuleResult } from '../../controller/triggers.ts';
import { expectError, sleep } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { rawConnection, rawRequest } from '../support/raw-http.ts';
import { storedRecord } from '../support/records.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const factory = factoryNames()[0]!;
const MiB = 1024 * 1024;
const TOO_DEEP = 'The request content was malformed:\nJSON nested more than 100 levels deep.';

/** `{"a":{"a":...1}}`, `levels` objects deep. */
const nested = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

/**
 * The attacks of a security review, each against the whole standalone path (controller,
 * memory bus, invoker, real containers, embedded store): bad input costs one clear 4xx in
 * OpenWhisk's shape, nothing else is lost, and the server keeps serving.
 */
describe(`bad input costs one clear error (${factory} containers)`, function () {
  this.timeout(120_000);
  let s: TestStack;
  let auth: string;
  let other: string;
  const api = (path: string) => `${s.api}/namespaces/_${path}`;
  const web = (action: string) => `${s.url}/api/v1/web/guest/default/${action}.json`;
  const ok = async (method: string, path: string, body?: unknown, key = auth) => {
    const r = await call(method, api(path), { auth: key, body });
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).to.be.oneOf([200, 202]);
    return r.body;
  };
  const record = (id: string, key = auth) => storedRecord(api(`/activations/${id}`), key);
  const stillServing = async () => {
    expect((await call('GET', `${s.api}/namespaces`, { auth })).body).to.deep.equal(['guest']);
    const echoed = await call('POST', api('/actions/echo?blocking=true&result=true'), { auth, body: { still: 'here' } });
    expect(echoed.body).to.deep.equal({ still: 'here' });
  };

  before(async () => {
    s = await startTestStack(factory, {
      SWIRL_INVOKER_MEMORY_MB: '1536',
      SWIRL_LIMIT_INVOKES_PER_MINUTE: '10000',
      SWIRL_LIMIT_FIRES_PER_MINUTE: '10000',
      SWIRL_LIMIT_CONCURRENT_INVOKES: '200',
      SWIRL_WEB_BODY_READS: '2',
    });
    auth = s.guestKey;
    other = await s.createUser('other');
    const node = (code: string, extra: Record<string, unknown> = {}) => ({ exec: { kind: 'nodejs:20', code }, limits: { memory: 128 }, ...extra });
    await ok('PUT', '/actions/echo', node('function main(p) { return p }', { annotations: [{ key: 'web-export', value: true }] }));
    await ok('PUT', '/actions/deep', node('function main() { let v = 1; for (let i = 0; i < 150; i++) v = { v }; return { v } }'));
    await ok('PUT', '/actions/flood', { ...node(`function main() { process.stdout.write('x'.repeat(${40 * MiB})); return { done: true } }`), limits: { memory: 256 } });
    await ok('PUT', '/actions/quick', node('function main() { return { quick: true } }'), other);
    await ok('PUT', '/triggers/t');
    await ok('PUT', '/rules/r', { trigger: 't', action: 'echo' });
    await stillServing(); // the echo container is warm
  });
  after(() => s?.destroy());

  it('JSON nested deeper than 100 levels is one 400 naming the bound on every route that takes JSON; 100 levels pass', async () => {
    const deep = nested(100_000);
    const routes: Array<[string, string, string]> = [
      ['PUT', api('/actions/x'), `{"exec":{"kind":"nodejs:20","code":"x"},"parameters":[{"key":"p","value":${deep}}]}`],
      ['PUT', api('/triggers/x'), `{"parameters":[{"key":"p","value":${deep}}]}`],
      ['PUT', api('/packages/x'), `{"annotations":[{"key":"p","value":${deep}}]}`],
      ['PUT', api('/rules/x'), `{"trigger":"t","action":"echo","annotations":${deep}}`],
      ['POST', api('/actions/echo?blocking=true'), deep],
      ['POST', api('/triggers/t'), deep],
      ['POST', api('/rules/r'), deep],
      ['POST', `${s.api}/token`, deep],
    ];
    for (const [method, url, raw] of routes) expectError(await call(method, url, { auth, raw, headers: { 'content-type': 'application/json' } }), 400, TOO_DEEP);
    expectError(await call('POST', web('echo'), { raw: deep, headers: { 'content-type': 'application/json' } }), 400, TOO_DEEP);
    for (const kind of ['actions', 'triggers', 'packages', 'rules']) expect((await call('GET', api(`/${kind}/x`), { auth })).status, `${kind}/x was not created`).to.equal(404);

    const deepest = JSON.parse(nested(99)) as unknown;
    const r = await call('POST', api('/actions/echo?blocking=true&result=true'), { auth, body: { p: deepest } });
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ p: deepest });
    await stillServing();
  });

  it('a nested trigger payload fired alongside 10 good ones is refused up front, and every good fire and its action are recorded', async () => {
    const fires = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => call('POST', api('/triggers/t'), { auth, body: { i } })),
      call('POST', api('/triggers/t'), { auth, raw: `{"n":${nested(20_000)}}`, headers: { 'content-type': 'application/json' } }),
    ]);
    expectError(fires.pop()!, 400, TOO_DEEP);
    for (const [i, fire] of fires.entries()) {
      expect(fire.status, JSON.stringify(fire.body)).to.equal(202);
      const trigger = await record(fire.body.activationId);
      expect(trigger.response.result).to.deep.equal({ i });
      const line = JSON.parse(trigger.logs[0]) as RuleResult;
      expect(line).to.deep.include({ success: true, rule: 'guest/r' });
      expect((await record(line.activationId!)).response.result).to.deep.equal({ i });
    }
  });

  it('a result nested deeper than the bound is the action developer error, and the records made beside it are all stored', async () => {
    const blocking = await call('POST', api('/actions/deep?blocking=true'), { auth });
    expect(blocking.status).to.equal(502);
    expect(blocking.body.response).to.deep.equal({
      status: 'action developer error',
      statusCode: 2,
      success: false,
      result: { error: 'The action produced a response nested more than 100 levels deep.' },
    });
    const started = await Promise.all([...Array.from({ length: 10 }, (_, i) => call('POST', api('/actions/echo'), { auth, body: { i } })), call('POST', api('/actions/deep'), { auth })]);
    const ids = started.map((r) => r.body.activationId as string);
    const records = await Promise.all(ids.map((id) => record(id)));
    expect(records.slice(0, 10).map((r) => r.response.result)).to.deep.equal(Array.from({ length: 10 }, (_, i) => ({ i })));
    expect(records[10].response.result).to.deep.equal({ error: 'The action produced a response nested more than 100 levels deep.' });
  });

  it('activations with since later than upto: a 400 naming both', async () => {
    expectError(await call('GET', api('/activations?since=2000&upto=1000'), { auth }), 400, "The value of 'since' (2000) is later than the value of 'upto' (1000).");
    expect((await call('GET', api('/activations?since=1000&upto=1000&count=true'), { auth })).body).to.deep.equal({ activations: 0 });
  });

  it('what Node refuses before swirl runs — a bad request line, headers over its limit, no Host, CONNECT — is answered in OpenWhisk’s shape', async () => {
    for (const line of ['GARBAGE\r\n\r\n', 'GET /api/v1 HTTP/9.9\r\n\r\n', 'G\u0000T / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n']) {
      const r = await rawRequest(s.url, line);
      expectError(r, 400, 'The request is not well-formed HTTP.');
      expect(r.headers.get('connection')).to.equal('close');
    }
    const big = await rawRequest(s.url, `GET /api/v1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectError(big, 431, 'The request headers are larger than allowed: 16384 bytes.');
    expectError(await rawRequest(s.url, 'GET /api/v1 HTTP/1.1\r\n\r\n'), 400, 'The request has no Host header.');
    expectError(await rawRequest(s.url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'), 405, 'The method is not allowed for this resource.');
    await stillServing();
  });

  it('invoke and fire bodies over OpenWhisk’s 1 MB are 413; a larger anonymous web body is refused before it is read', async () => {
    const big = JSON.stringify({ s: 'x'.repeat(MiB) });
    expectError(await call('POST', api('/actions/echo'), { auth, raw: big }), 413, `request larger than allowed: ${big.length} > ${MiB} bytes.`);
    expectError(await call('POST', api('/triggers/t'), { auth, raw: big }), 413, `request larger than allowed: ${big.length} > ${MiB} bytes.`);
    // a Content-Length of 45 MB: the answer comes while the client has sent a few bytes
    const c = rawConnection(s.url);
    c.socket.write(`POST /api/v1/web/guest/default/echo.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${45 * MiB}\r\n\r\n{"a":`);
    expectError(await c.reply, 413, `request larger than allowed: ${45 * MiB} > ${MiB} bytes.`);
    c.socket.destroy();
    // no Content-Length: cut at the limit as it streams
    const chunked = rawConnection(s.url);
    chunked.socket.write('POST /api/v1/web/guest/default/echo.json HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
    const piece = 'y'.repeat(64 * 1024);
    for (let i = 0; i < 20 && !chunked.socket.destroyed; i++) chunked.socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
    expectError(await chunked.reply, 413, `request larger than allowed: ${MiB + 1} > ${MiB} bytes.`);
    chunked.socket.destroy();
    await stillServing();
  });

  it('anonymous web bodies read at once are bounded: past the bound a 429 with Retry-After, callers with credentials pass, and freed slots serve again', async () => {
    const slow = [rawConnection(s.url, 60_000), rawConnection(s.url, 60_000)];
    const body = JSON.stringify({ slow: true });
    for (const c of slow) c.socket.write(`POST /api/v1/web/guest/default/echo.json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 3)}`);
    await sleep(300); // both requests are reading their bodies now
    const refused = await call('POST', web('echo'), { body: { n: 1 } });
    expectError(refused, 429, 'Too many request bodies without credentials are being received (count: 2, allowed: 2); try again later.');
    expect(refused.headers.get('retry-after')).to.equal('1');
    const withKey = await call('POST', web('echo'), { auth, body: { n: 2 } });
    expect(withKey.status).to.equal(200);
    expect(withKey.body).to.deep.include({ n: 2 });
    for (const c of slow) c.socket.write(body.slice(3));
    for (const c of slow) {
      const r = await c.reply;
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.include({ slow: true });
      c.socket.destroy();
    }
    const again = await call('POST', web('echo'), { body: { n: 3 } });
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.include({ n: 3 });
  });

  it('an action printing 40 MB without a newline: its record is stored in seconds with the truncation note, and another tenant is served meanwhile', async () => {
    await ok('POST', '/actions/quick?blocking=true', {}, other); // warm
    const started = Date.now();
    const { activationId } = await ok('POST', '/actions/flood');
    let stored: any;
    const latencies: number[] = [];
    while (!stored && Date.now() - started < 30_000) {
      const t0 = Date.now();
      const r = await call('POST', api('/actions/quick?blocking=true&result=true'), { auth: other });
      latencies.push(Date.now() - t0);
      expect(r.body).to.deep.equal({ quick: true });
      const got = await call('GET', api(`/activations/${activationId}`), { auth });
      if (got.status === 200) stored = got.body;
    }
    const took = Date.now() - started;
    expect(stored, 'the flood record within 30 s').to.not.equal(undefined);
    // before: 21.7 s, and 4 s for the other tenant's invokes
    expect(took).to.be.below(10_000);
    expect(stored.response.result).to.deep.equal({ done: true });
    expect(stored.logs.at(-1)).to.match(/ stderr: Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes\.$/);
    expect(Math.max(...latencies)).to.be.below(2_000);
  });
});
