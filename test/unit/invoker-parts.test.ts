import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOG_SENTINEL } from '../../common/container.ts';
import { LogCollector } from '../../invoker/log-collector.ts';
import { ProxyClient, ProxyRequestError } from '../../invoker/proxy-client.ts';
import { classify } from '../../invoker/response.ts';

const strip = (lines: string[]) => lines.map((l) => l.replace(/^\S+ /, ''));

describe('log collector', () => {
  it('cuts one segment per activation at the sentinel on both streams, in arrival order', async () => {
    const c = new LogCollector();
    c.feed('stdout', 'one\ntw');
    c.feed('stderr', 'warn 1\n');
    c.feed('stdout', `o\n${LOG_SENTINEL}\nnext run\n`);
    c.feed('stderr', `${LOG_SENTINEL}\n`);
    const first = await c.take(1000, 100);
    expect(strip(first.lines)).to.deep.equal(['stdout: one', 'stderr: warn 1', 'stdout: two']);
    expect(first.complete).to.equal(true);
    c.feed('stderr', `${LOG_SENTINEL}\n`);
    c.feed('stdout', `${LOG_SENTINEL}\n`);
    const second = await c.take(1000, 100);
    expect(strip(second.lines)).to.deep.equal(['stdout: next run']);
  });

  it('waits for the sentinel that arrives after the take', async () => {
    const c = new LogCollector();
    const pending = c.take(1000, 2000);
    setTimeout(() => c.feed('stdout', `late\n${LOG_SENTINEL}\n`), 10);
    setTimeout(() => c.feed('stderr', `${LOG_SENTINEL}\n`), 20);
    const seg = await pending;
    expect(strip(seg.lines)).to.deep.equal(['stdout: late']);
    expect(seg.complete).to.equal(true);
  });

  it('gives up after the wait and reports the segment incomplete', async () => {
    const c = new LogCollector();
    c.feed('stdout', 'partial\n');
    const seg = await c.take(1000, 30);
    expect(seg.complete).to.equal(false);
    expect(strip(seg.lines)).to.deep.equal(['stdout: partial']);
  });

  it('keeps no more than the limit and says so', async () => {
    const c = new LogCollector();
    c.feed('stdout', `${'x'.repeat(60)}\n${'y'.repeat(60)}\n${LOG_SENTINEL}\n`);
    c.feed('stderr', `${LOG_SENTINEL}\n`);
    const seg = await c.take(100, 100);
    expect(seg.truncated).to.equal(true);
    expect(seg.lines).to.have.length(1);
  });

  it('returns what is there when the container ends', async () => {
    const c = new LogCollector();
    const pending = c.take(1000, 5000);
    c.feed('stderr', 'Killed');
    c.end();
    const seg = await pending;
    expect(strip(seg.lines)).to.deep.equal(['stderr: Killed']);
    expect(seg.complete).to.equal(false);
  });
});

describe('run response classification', () => {
  const res = (status: number, body: unknown, raw?: string) => ({ status, body: raw ?? JSON.stringify(body), truncated: false, size: 0 });

  it('maps the four outcomes like OpenWhisk', () => {
    expect(classify(res(200, { a: 1 }), 1e6)).to.deep.equal({ status: 'success', statusCode: 0, success: true, result: { a: 1 } });
    expect(classify(res(200, { error: 'no' }), 1e6)).to.deep.equal({ status: 'application error', statusCode: 1, success: false, result: { error: 'no' } });
    expect(classify(res(502, { error: 'An error has occurred: boom' }), 1e6)).to.deep.include({ status: 'action developer error', statusCode: 2 });
    expect(classify(res(200, [1, 2]), 1e6).result).to.deep.equal({ error: 'The action did not return a dictionary.' });
    expect(classify(res(200, null, 'not json'), 1e6).result).to.deep.equal({ error: 'The action did not produce a valid JSON response: not json' });
    expect(classify({ status: 200, body: '{}', truncated: true, size: 2_000_000 }, 1_048_576).result).to.deep.equal({
      error: 'The action produced a response that exceeded the allowed length: 2000000 > 1048576 bytes.',
    });
  });

  it('makes a result nested deeper than the bound a developer error, from a run or a failed one', () => {
    const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    for (const status of [200, 502]) {
      expect(classify({ status, body: deep, truncated: false, size: deep.length }, 1e6)).to.deep.equal({
        status: 'action developer error',
        statusCode: 2,
        success: false,
        result: { error: 'The action produced a response nested more than 100 levels deep.' },
      });
    }
    const ok = '{"a":'.repeat(99) + '1' + '}'.repeat(99);
    expect(classify({ status: 200, body: ok, truncated: false, size: ok.length }, 1e6).statusCode).to.equal(0);
  });
});

describe('proxy client', () => {
  let server: Server;
  let address: string;
  let hold: Promise<void> = Promise.resolve();
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      void hold.then(() => res.end('{"ok":true}'));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((ok) => server.close(() => ok())));

  it('fails a request when the container exits, and keeps nothing per finished request on the exit promise', async () => {
    const client = new ProxyClient();
    let exit!: () => void;
    const exited = new Promise<void>((ok) => (exit = ok));
    for (let i = 0; i < 50; i++) expect((await client.post(address, '/run', {}, 5_000, exited)).body).to.equal('{"ok":true}');
    // what a reaction per request would have left behind: one waiter per finished request
    expect((client as unknown as { watchers: WeakMap<Promise<unknown>, Set<unknown>> }).watchers.get(exited)?.size).to.equal(0);
    let release!: () => void;
    hold = new Promise((ok) => (release = ok));
    const pending = client.post(address, '/run', {}, 5_000, exited).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    exit();
    const error = await pending;
    expect(error).to.be.instanceOf(ProxyRequestError);
    expect((error as Error).message).to.equal('the container exited during /run');
    release();
    client.close();
  });
});
