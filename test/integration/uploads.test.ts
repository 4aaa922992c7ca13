import { expect } from 'chai';
import { request } from 'node:http';
import { connect } from 'node:net';
import openwhisk from 'openwhisk';
import { SIZES } from '../../common/limits.ts';
import { DISCARD } from '../../controller/middleware.ts';
import { expectError } from '../support/api.ts';
import { basic, call, type Reply, suiteServer, type TestServer } from '../support/server.ts';

const MiB = 1024 * 1024;
/** What a deploy tool sent: an action of ~62 MB, over the 50 MB an entity PUT may hold. */
const bigAction = () => JSON.stringify({ exec: { kind: 'nodejs:20', code: `// ${'x'.repeat(62 * MiB)}\nfunction main() { return {} }` } });
const HEAD = '{"exec":{"kind":"nodejs:20","code":"';
const TOO_BIG = /^request larger than allowed: \d+ > 52428800 bytes\.$/;

/**
 * `PUT` of `total` bytes streamed in 64 KiB chunks without a Content-Length (chunked), as
 * a tool that streams its upload sends it, with node's http client: the reply (the client
 * stops sending once it has it) or the error the client saw, and how much it had sent.
 */
function streamPut(url: string, auth: string, total: number): Promise<{ reply?: Reply; error?: string; sent: number }> {
  return new Promise((done) => {
    let sent = 0;
    const req = request(url, { method: 'PUT', headers: { authorization: basic(auth), 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        done({ reply: { status: res.statusCode!, headers: new Headers(res.headers as Record<string, string>), body: JSON.parse(text) }, sent });
        req.destroy();
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message, sent }));
    req.write(HEAD);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end('"}}');
    };
    pump();
  });
}

/**
 * A sender that does not stop: a chunked PUT on a bare socket that goes on writing whatever
 * comes back, until the connection ends or `total` bytes are sent. What it received, how
 * much it sent, and the error that ended it.
 */
function relentlessPut(url: string, auth: string, total: number): Promise<{ received: string; sent: number; error?: string }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((done) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    let sent = 0;
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.on('error', (e: NodeJS.ErrnoException) => done({ received, sent, error: e.code }));
    socket.on('close', () => done({ received, sent }));
    socket.write(`PUT ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: ${basic(auth)}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.concat([Buffer.from('100000\r\n'), Buffer.alloc(MiB, 'x'), Buffer.from('\r\n')]);
    const pump = () => {
      while (sent < total && !socket.destroyed) {
        sent += MiB;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  });
}

/**
 * Uploads over the entity size limit (SIZES.requestBody, 50 MB): the client gets a
 * readable 413 in OpenWhisk's shape — not `write EPIPE` — whether it declares the length or
 * streams, while the server drops what it does not read, within DISCARD.
 */
describe('uploads over the size limit get a readable 413', function () {
  this.timeout(60_000);
  let s: TestServer;
  suiteServer((server) => {
    s = server;
  });
  const url = (name: string) => `${s.api}/namespaces/_/actions/${name}`;
  const stillServing = async () => expect((await call('GET', `${s.api}/namespaces/_/actions`, { auth: s.guestKey })).status).to.equal(200);

  it("the openwhisk client's actions.create of a ~62 MB action is refused with 413 in OpenWhisk's shape", async () => {
    expect(SIZES.requestBody).to.equal(50 * MiB);
    const ow = openwhisk({ apihost: s.url, api_key: s.guestKey });
    const error = (await ow.actions.create({ name: 'big', action: `// ${'x'.repeat(62 * MiB)}\nfunction main() { return {} }`, kind: 'nodejs:20' }).then(
      () => expect.fail('created'),
      (e: unknown) => e,
    )) as { statusCode: number; error: { error: string; code: string } };
    expect(error.statusCode).to.equal(413);
    expect(error.error.error).to.match(TOO_BIG);
    expect(error.error.code).to.match(/^[0-9a-f]{32}$/);
    await stillServing();
  });

  it('a plain fetch PUT of ~62 MB (Content-Length) gets the 413', async () => {
    const body = bigAction();
    const r = await call('PUT', url('big'), { auth: s.guestKey, raw: body, headers: { 'content-type': 'application/json' } });
    expectError(r, 413, `request larger than allowed: ${Buffer.byteLength(body)} > ${SIZES.requestBody} bytes.`);
    await stillServing();
  });

  it('a node http PUT streaming ~62 MB chunked (no Content-Length) gets the 413, not EPIPE', async () => {
    const streamed = await streamPut(url('big'), s.guestKey, 62 * MiB);
    expect(streamed.error, 'no EPIPE or reset').to.equal(undefined);
    expectError(streamed.reply!, 413, TOO_BIG);
    expect(streamed.sent, 'the answer came once the limit was passed').to.be.greaterThan(SIZES.requestBody);
    await stillServing();
  });

  it('the server drops at most DISCARD.bytes past the limit: a sender going on beyond that gets the 413, then is cut off', async () => {
    const sending = SIZES.requestBody + DISCARD.bytes + 64 * MiB;
    const r = await relentlessPut(url('big'), s.guestKey, sending);
    expect(r.received).to.match(/^HTTP\/1\.1 413 /);
    expect(r.received).to.match(/"error":"request larger than allowed: \d+ > 52428800 bytes\."/);
    // cut within the bound (plus what the sockets' buffers hold)
    expect(r.sent).to.be.below(SIZES.requestBody + DISCARD.bytes + 16 * MiB);
    await stillServing();
  });
});
