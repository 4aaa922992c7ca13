import { expect } from 'chai';
import Koa from 'koa';
import type { Server } from 'node:http';
import { listen, requestContext } from '../../common/http.ts';
import { silentLogger } from '../../common/logger.ts';
import { BodyGate } from '../../controller/body-gate.ts';
import type { Ctx } from '../../controller/context.ts';
import { readBody } from '../../controller/middleware.ts';
import { expectError } from '../support/api.ts';
import { rawConnection } from '../support/raw-http.ts';

/**
 * Reading a request body within its bounds, over real HTTP: the size a Content-Length
 * declares, a gate's slots, and a deadline — each refusal one answer in OpenWhisk's shape
 * that reaches a client still sending.
 */
describe('reading request bodies within bounds', () => {
  let server: Server;
  let url: string;
  const gate = new BodyGate(1);
  const post = (length: number, body: string) => `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n${body}`;

  before(async () => {
    const app = new Koa();
    app.use(requestContext(silentLogger));
    app.use(async (ctx) => {
      const body = await readBody(ctx as unknown as Ctx, 1000, { gate, deadlineMs: 300 });
      ctx.body = { read: body.length };
    });
    ({ server, url } = await listen(app, 0, '127.0.0.1', silentLogger));
  });
  after(() => new Promise<void>((ok) => server.close(() => ok())));

  it('reads a body within the bounds', async () => {
    const c = rawConnection(url);
    c.socket.write(post(5, 'hello'));
    expect((await c.reply).body).to.deep.equal({ read: 5 });
    c.socket.destroy();
  });

  it('refuses a declared size over the limit before the body is sent, and the answer reaches the client', async () => {
    const c = rawConnection(url);
    c.socket.write(post(50_000, 'x'));
    expectError(await c.reply, 413, 'request larger than allowed: 50000 > 1000 bytes.');
    c.socket.destroy();
  });

  it('answers a body that does not arrive within the deadline with a 408, and frees its slot', async () => {
    const c = rawConnection(url);
    c.socket.write(post(10, 'abc'));
    const started = Date.now();
    expectError(await c.reply, 408, 'The request was not received in time.');
    expect(Date.now() - started).to.be.within(250, 2_000);
    c.socket.destroy();
    const next = rawConnection(url);
    next.socket.write(post(2, 'ok'));
    expect((await next.reply).body).to.deep.equal({ read: 2 });
    next.socket.destroy();
  });

  it('refuses a body while the gate is full (429, Retry-After), unread, and the client still sending gets the answer', async () => {
    const holder = rawConnection(url);
    holder.socket.write(post(10, 'abc'));
    await new Promise((ok) => setTimeout(ok, 50));
    const refused = rawConnection(url);
    refused.socket.write(post(900, 'y'.repeat(900)));
    const r = await refused.reply;
    expectError(r, 429, 'Too many request bodies without credentials are being received (count: 1, allowed: 1); try again later.');
    expect(r.headers.get('retry-after')).to.equal('1');
    holder.socket.write('defghij');
    expect((await holder.reply).body).to.deep.equal({ read: 10 });
    for (const c of [holder, refused]) c.socket.destroy();
  });
});
