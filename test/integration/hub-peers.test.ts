import { createServer } from 'node:net';
import { expect } from 'chai';
import { unzipSync } from 'fflate';
import { expectError, expectOk, sleep } from '../support/api.ts';
import { newCredentials } from '../../common/credentials.ts';
import type { NamespaceLimits } from '../../common/identity.ts';
import { type FakePackage, type FakePeer, startFakePeer, startProbe } from '../support/hub-peer.ts';
import { call, startTestServer, type TestServer } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** A URL where nothing listens (a port just freed). */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as { port: number };
  await new Promise<void>((ok) => s.close(() => ok()));
  return `http://127.0.0.1:${port}`;
}

const idOf = (url: string): string => new URL(url).host;

/** Rate limits count in fixed one-minute windows: start a counting test well inside one. */
async function freshMinute(needMs: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await sleep(left + 20);
}

const echo = (v: number) => `function main(p) { return { v: ${v}, got: p }; }`;
const tools = (version = '0.0.1', v = 1): FakePackage => ({
  owner: 'alice',
  name: 'tools',
  version,
  description: 'text tools for a test',
  actions: { echo: echo(v) },
  examples: [{ action: 'echo', params: { x: 1 }, expect: { v } }],
});

describe('hub peers: search across peers, peers of peers, down peers, age limit', function () {
  this.timeout(60_000);
  let a: FakePeer;
  let hang: FakePeer;
  let flood: FakePeer;
  const servers: TestServer[] = [];
  const start = async (env: Record<string, string>) => {
    const s = await startTestServer(env);
    servers.push(s);
    return s;
  };
  const search = (s: TestServer, q: string) => expectOk(call('GET', `${s.url}/hub/v1/search?q=${encodeURIComponent(q)}`));

  before(async function () {
    a = await startFakePeer([tools(), { owner: 'bob', name: 'images', version: '0.0.3', description: 'resize tools', actions: { resize: echo(0) }, invocations30d: 40 }]);
    hang = await startFakePeer([], 'hang');
    flood = await startFakePeer([], 'flood');
  });
  after(async function () {
    for (const s of servers) await s.destroy();
    for (const p of [a, hang, flood]) await p?.close();
  });

  it('finds a package of a peer of a peer (C knows B, B knows A) and learns A, via B', async function () {
    const b = await start({ SWIRL_HUB_PEERS: a.url });
    const c = await start({ SWIRL_HUB_PEERS: b.url });
    const found = await search(c, 'tools');
    expect(found.results.map((r: { ref: string }) => r.ref)).to.include(`${a.id}/alice/tools@0.0.1`);
    expect(found.peers.asked).to.include.members([idOf(b.url), a.id]);
    expect(found.peers.answered).to.have.members([idOf(c.url), idOf(b.url), a.id]);
    expect(found.peers.down).to.deep.equal([]);
    // a name match ranks above a description match
    expect(found.results[0].name).to.equal('tools');
    const peers = await expectOk(call('GET', `${c.url}/hub/v1/peers`));
    expect(peers.self.id).to.equal(idOf(c.url));
    expect(peers.peers).to.deep.include.members([{ id: idOf(b.url), url: b.url, via: 'config', seenAt: peers.peers.find((p: { id: string }) => p.id === idOf(b.url)).seenAt }]);
    const learned = peers.peers.find((p: { id: string }) => p.id === a.id);
    expect(learned, JSON.stringify(peers)).to.include({ url: a.url, via: idOf(b.url) });
    // B, asked by C, does not learn C (nobody told it), and never lists itself
    const bPeers = await expectOk(call('GET', `${b.url}/hub/v1/peers`));
    expect(bPeers.peers.map((p: { id: string }) => p.id)).to.deep.equal([a.id]);
  });

  it('names a peer that is down and one that does not answer in time, and still answers the others', async function () {
    const dead = await deadUrl();
    const d = await start({ SWIRL_HUB_PEERS: [a.url, dead, hang.url].join(','), SWIRL_HUB_TIMEOUT_MS: '500' });
    const t0 = Date.now();
    const found = await search(d, 'tools');
    expect(Date.now() - t0, 'waited at most about one time-out per stage').to.be.below(2_500);
    expect(found.results.map((r: { ref: string }) => r.ref)).to.include(`${a.id}/alice/tools@0.0.1`);
    const down = Object.fromEntries(found.peers.down.map((p: { id: string; error: string }) => [p.id, p.error]));
    expect(down[idOf(dead)]).to.match(/cannot be reached: ECONNREFUSED/);
    expect(down[hang.id]).to.match(/did not answer within 500 ms/);
    expect(down).not.to.have.property(a.id);
  });

  it('refuses an answer larger than its cap: a peer that never stops sending is named down, the search answers', async function () {
    const e = await start({ SWIRL_HUB_PEERS: [flood.url, a.url].join(','), SWIRL_HUB_TIMEOUT_MS: '20000' });
    const rss = process.memoryUsage().rss;
    const found = await search(e, 'tools');
    const down = found.peers.down.find((p: { id: string }) => p.id === flood.id);
    expect(down?.error).to.match(/larger than allowed \(8388608 bytes\)/);
    expect(found.results.map((r: { ref: string }) => r.ref)).to.include(`${a.id}/alice/tools@0.0.1`);
    expect(process.memoryUsage().rss - rss, 'memory held for the flood').to.be.below(200 * 1024 * 1024);
  });

  it('keeps a merged answer briefly: the same search again within 10 s asks no peer', async function () {
    const g = await start({ SWIRL_HUB_PEERS: a.url });
    const first = await search(g, 'images');
    const asked = a.asked.length;
    const again = await search(g, 'images');
    expect(again).to.deep.equal(first);
    expect(a.asked.length).to.equal(asked);
    expect(first.results.map((r: { name: string }) => r.name)).to.deep.equal(['images']);
    await search(g, 'other');
    expect(a.asked.length).to.be.above(asked);
  });

  it('fans out at most 8 searches at once (the route is public); the same search asked meanwhile shares the running one', async function () {
    const h = await start({ SWIRL_HUB_PEERS: hang.url, SWIRL_HUB_TIMEOUT_MS: '1500' });
    const replies = await Promise.all([...Array.from({ length: 10 }, (_, i) => call('GET', `${h.url}/hub/v1/search?q=busy${i}`)), call('GET', `${h.url}/hub/v1/search?q=busy0`)]);
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((x) => x === 200)).to.have.length(9);
    for (const r of replies.filter((x) => x.status !== 200)) expectError(r, 429, /Too many hub searches are in progress \(at most 8 at once\)/);
    expect(replies[10]!.body).to.deep.equal(replies[0]!.body);
  });

  it('SWIRL_HUB=off: the consumer routes are 404s, and a hub action says the hub is off', async function () {
    const off = await start({ SWIRL_HUB: 'off', SWIRL_HUB_PEERS: a.url });
    expect((await call('GET', `${off.url}/hub/v1/search?q=tools`)).status).to.equal(404);
    expect((await call('GET', `${off.url}/hub/v1/peers`)).status).to.equal(404);
    expectError(await call('POST', `${off.api}/namespaces/_/hub/install`, { auth: off.guestKey, body: { ref: `${a.id}/alice/tools` } }), 404, /turned off/);
    expectError(await call('GET', `${off.api}/namespaces/_/hub/show?ref=x`, { auth: off.guestKey }), 404, /turned off/);
    await expectOk(call('PUT', `${off.api}/namespaces/_/actions/remote`, { auth: off.guestKey, body: { exec: { kind: 'hub', ref: `${a.id}/alice/tools/echo` } } }));
    expectError(await call('POST', `${off.api}/namespaces/_/actions/remote?blocking=true`, { auth: off.guestKey }), 403, /The Function Hub is turned off on this instance \(SWIRL_HUB=off\)/);
  });

  it('forgets a peer learned second-hand after the age limit (SWIRL_HUB_PEER_TTL) unless seen again; never itself', async function () {
    const relay = await startFakePeer([]);
    const x = await startFakePeer([]);
    const stale = await startFakePeer([]);
    try {
      const f = await start({ SWIRL_HUB_PEERS: relay.url, SWIRL_HUB_PEER_TTL: '1' });
      relay.peers = [
        { url: x.url, via: 'config', seenAt: Date.now() },
        // vouched for an hour ago by whoever configured it: older than the limit on arrival
        { url: stale.url, via: 'somewhere:1', seenAt: Date.now() - 3_600_000 },
        // f itself, as the relay might know it: never a peer of itself
        { url: f.url, via: 'config', seenAt: Date.now() },
      ];
      await search(f, 'anything');
      const ids = async () => (await expectOk(call('GET', `${f.url}/hub/v1/peers`))).peers.map((p: { id: string }) => p.id);
      expect(await ids()).to.have.members([relay.id, x.id]);
      // still told: still known past the limit (the background refresh sees it again)
      await sleep(1_600);
      expect(await ids()).to.include(x.id);
      // no longer told: gone once the limit passes
      relay.peers = [];
      await sleep(2_200);
      expect(await ids()).to.deep.equal([relay.id]);
    } finally {
      for (const p of [relay, x, stale]) await p.close();
    }
  });

  it('learns at most 16 peers through any one peer: a peer naming 40 does not make every search fan out to them all', async function () {
    const teller = await startFakePeer([]);
    let f: TestServer | undefined;
    try {
      const now = Date.now();
      // addresses where nothing answers (port 9 of loopback addresses): each would be asked by every search
      const named = Array.from({ length: 40 }, (_, i) => `http://127.0.0.${i + 2}:9`);
      teller.peers = named.map((url) => ({ url, via: 'config', seenAt: now }));
      // (its own server, stopped after: each embedded store server adds a listener to a shared emitter)
      f = await startTestServer({ SWIRL_HUB_PEERS: teller.url });
      const found = await search(f, 'anything');
      const learned = (await expectOk(call('GET', `${f.url}/hub/v1/peers`))).peers.filter((p: { via: string }) => p.via === teller.id);
      expect(learned).to.have.length(16);
      expect(learned.map((p: { url: string }) => p.url).every((u: string) => named.includes(u))).to.equal(true);
      expect(found.peers.asked).to.have.length(1 + 1 + 16);
    } finally {
      await f?.destroy();
      await teller.close();
    }
  });

  it('does not learn, nor ask, a peer that a peer names at a link-local, unspecified or multicast address, or not over http(s)', async function () {
    const teller = await startFakePeer([]);
    const fine = await startFakePeer([tools()]);
    const probe = await startProbe();
    try {
      const now = Date.now();
      // (0.0.0.0 and [::] reach this host's own services on Linux: the probe listens there)
      teller.peers = ['http://169.254.169.254', 'http://[fe80::1]:3233', `http://0.0.0.0:${probe.port}`, `http://[::]:${probe.port}`, 'http://224.0.0.1:3233', `ftp://127.0.0.1:${probe.port}`, `http://[::ffff:169.254.169.254]:80`, fine.url].map((url) => ({ url, via: 'config', seenAt: now }));
      const f = await start({ SWIRL_HUB_PEERS: teller.url });
      const found = await search(f, 'tools');
      expect(found.peers.asked).to.have.members([idOf(f.url), teller.id, fine.id]);
      expect(found.results.map((r: { ref: string }) => r.ref)).to.include(`${fine.id}/alice/tools@0.0.1`);
      const peers = await expectOk(call('GET', `${f.url}/hub/v1/peers`));
      expect(peers.peers.map((p: { id: string }) => p.id)).to.have.members([teller.id, fine.id]);
      expect(probe.connections()).to.equal(0);
    } finally {
      for (const p of [teller, fine, probe]) await p.close();
    }
  });
});

describe('hub consumer: install, update, test, show/get, fetch on demand (process containers)', function () {
  this.timeout(120_000);
  let s: TestStack;
  let a: FakePeer;
  let origin: FakePeer;
  let od: FakePeer;
  let tampered: FakePeer;
  let liar: FakePeer;
  let closed: FakePeer;
  let grabber: FakePeer;
  let flood: FakePeer;
  const hub = (op: string) => `${s.api}/namespaces/_/hub/${op}`;
  const invoke = (name: string, params: unknown = {}) => call('POST', `${s.api}/namespaces/_/actions/${name}?blocking=true&result=true`, { auth: s.guestKey, body: params });
  const cached = async () => s.opened.store.list('package', { namespace: '.hub-cache' }, { limit: 200, skip: 0 });
  /** A user whose namespace has its own throttles (set before its first request: nothing cached of it). */
  const limitedUser = async (name: string, limits: NamespaceLimits): Promise<string> => {
    const { creds, auth } = newCredentials(name);
    await s.opened.store.putSubject({ subject: name, namespaces: [{ ...creds, limits }] });
    return auth;
  };

  before(async function () {
    a = await startFakePeer([tools(), { ...tools(), name: 'locked', downloadable: false }]);
    origin = await startFakePeer([{ ...tools(), name: 'kept' }]);
    od = await startFakePeer([tools('0.0.7', 7)]);
    tampered = await startFakePeer([tools()], 'tamper');
    liar = await startFakePeer([tools()], 'lie-header');
    closed = await startFakePeer([tools()]);
    grabber = await startFakePeer([{ ...tools(), actions: { echo: 'function main() { return { key: process.env.__OW_API_KEY ?? null }; }' } }], 'key-grab');
    flood = await startFakePeer([], 'flood');
    s = await startTestStack('process', { SWIRL_HUB_PEERS: [a, origin, od, tampered, liar, closed, grabber, flood].map((p) => p.url).join(','), SWIRL_HUB_TIMEOUT_MS: '20000' });
  });
  after(async function () {
    await s?.destroy();
    for (const p of [a, origin, od, tampered, liar, closed, grabber, flood]) await p?.close();
  });

  it('installs a package with its origin, version and digest, runs it after the origin is gone, and refuses to install over a name', async function () {
    const pkg = await expectOk(call('POST', hub('install'), { auth: s.guestKey, body: { ref: `${origin.id}/alice/kept` } }));
    expect(pkg).to.include({ name: 'kept', namespace: 'guest' });
    const ann = Object.fromEntries(pkg.annotations.map((x: { key: string; value: unknown }) => [x.key, x.value]));
    expect(ann).to.include({ 'hub-origin': `${origin.id}/alice/kept@0.0.1`, 'hub-version': '0.0.1', 'hub-digest': origin.bundle(origin.packages[0]!).digest, description: 'text tools for a test' });
    await origin.close();
    const r = await invoke('kept/echo', { y: 2 });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body).to.deep.equal({ v: 1, got: { y: 2 } });
    // again from the same origin: update is the way; over a name taken by something else: 409 too
    expectError(await call('POST', hub('install'), { auth: s.guestKey, body: { ref: `${origin.id}/alice/kept@0.0.1` } }), 409, /installed from .* already; use hub update kept/);
    await expectOk(call('PUT', `${s.api}/namespaces/_/actions/taken`, { auth: s.guestKey, body: { exec: { kind: 'nodejs:20', code: echo(0) } } }));
    expectError(await call('POST', hub('install'), { auth: s.guestKey, body: { ref: `${a.id}/alice/tools`, as: 'taken' } }), 409, /'taken' is taken in your namespace by a action that was not installed from the hub/);
    expectError(await call('POST', hub('install'), { auth: s.guestKey, body: { ref: `${a.id}/alice/tools`, as: 'kept' } }), 409, /taken in your namespace by a package installed from/);
  });

  it('updates an installed package when its origin has a newer version, and only then', async function () {
    await expectOk(call('POST', hub('install'), { auth: s.guestKey, body: { ref: `${a.id}/alice/tools`, as: 'mytools' } }));
    expect((await invoke('mytools/echo')).body).to.include({ v: 1 });
    expect(await expectOk(call('POST', hub('update'), { auth: s.guestKey, body: { name: 'mytools' } }))).to.deep.equal({ updated: false, from: '0.0.1', to: '0.0.1' });
    a.packages[0] = { ...tools('0.0.2', 2), actions: { echo: echo(2), shout: 'function main(p) { return { loud: String(p.s).toUpperCase() }; }' } };
    expect(await expectOk(call('POST', hub('update'), { auth: s.guestKey, body: { name: 'mytools' } }))).to.deep.equal({ updated: true, from: '0.0.1', to: '0.0.2' });
    expect((await invoke('mytools/echo')).body).to.include({ v: 2 });
    expect((await invoke('mytools/shout', { s: 'hi' })).body).to.deep.equal({ loud: 'HI' });
    const pkg = await expectOk(call('GET', `${s.api}/namespaces/_/packages/mytools`, { auth: s.guestKey }));
    const ann = Object.fromEntries(pkg.annotations.map((x: { key: string; value: unknown }) => [x.key, x.value]));
    expect(ann).to.include({ 'hub-origin': `${a.id}/alice/tools@0.0.2`, 'hub-version': '0.0.2', 'hub-digest': a.bundle(a.packages[0]).digest });
    expectError(await call('POST', hub('update'), { auth: s.guestKey, body: { name: 'taken' } }), 404, /no package 'taken'/);
    a.packages[0] = tools();
  });

  it('tests a package in a disposable namespace: its examples run, and nothing is left behind', async function () {
    const subjects = (await s.opened.store.listSubjects()).map((x) => x.subject);
    const packages = await s.opened.store.count('package', { namespace: 'guest' });
    const t = await expectOk(call('POST', hub('test'), { auth: s.guestKey, body: { ref: `${a.id}/alice/tools` } }));
    expect(t).to.include({ ref: `${a.id}/alice/tools@0.0.1`, digest: a.bundle(a.packages[0]!).digest, cleanedUp: true });
    expect(t.runs).to.have.length(1);
    expect(t.runs[0]).to.include({ action: 'echo', passed: true });
    expect(t.runs[0].activation.response.result).to.deep.equal({ v: 1, got: { x: 1 } });
    // given parameters instead of the examples
    const p = await expectOk(call('POST', hub('test'), { auth: s.guestKey, body: { ref: `${a.id}/alice/tools`, action: 'echo', params: { z: 3 } } }));
    expect(p.runs[0].activation.response.result).to.deep.equal({ v: 1, got: { z: 3 } });
    expect((await s.opened.store.listSubjects()).map((x) => x.subject)).to.have.members(subjects);
    expect(await s.opened.store.count('package', { namespace: 'guest' })).to.equal(packages);
    // a tampered bundle is not even deployed
    expectError(await call('POST', hub('test'), { auth: s.guestKey, body: { ref: `${tampered.id}/alice/tools` } }), 502, /digest mismatch/);
    expect((await s.opened.store.listSubjects()).map((x) => x.subject)).to.have.members(subjects);
  });

  it('streams a test\'s steps as they happen when asked for NDJSON, the usual answer last, and still cleans up', async function () {
    const napper = { owner: 'alice', name: 'napper', version: '0.0.1', actions: { nap: 'function main() { return new Promise((ok) => setTimeout(() => ok({ done: true }), 1500)); }' } };
    a.packages.push(napper);
    try {
      const subjects = (await s.opened.store.listSubjects()).map((x) => x.subject);
      const body = { ref: `${a.id}/alice/napper`, action: 'nap', params: {} };
      const streamed = async (payload: unknown) => {
        const res = await fetch(hub('test'), { method: 'POST', headers: { authorization: `Basic ${Buffer.from(s.guestKey).toString('base64')}`, 'content-type': 'application/json', accept: 'application/x-ndjson' }, body: JSON.stringify(payload) });
        const lines: Array<{ at: number; value: Record<string, unknown> }> = [];
        let rest = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          const parts = (rest + Buffer.from(chunk).toString('utf8')).split('\n');
          rest = parts.pop()!;
          for (const l of parts) if (l) lines.push({ at: Date.now(), value: JSON.parse(l) });
        }
        expect(rest, 'every line ends with a newline').to.equal('');
        return { res, lines, values: lines.map((l) => l.value) };
      };
      const { res, lines, values } = await streamed(body);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/x-ndjson/);
      expect(values.slice(0, -1).map((v) => v.step)).to.deep.equal(['fetching', 'verified', 'deploying', 'running', 'cleaning']);
      expect(values[0]).to.deep.equal({ step: 'fetching', ref: `${a.id}/alice/napper` });
      expect(values[1]).to.deep.equal({ step: 'verified', ref: `${a.id}/alice/napper@0.0.1`, digest: a.bundle(napper).digest });
      expect(values[2]).to.include({ step: 'deploying', ref: `${a.id}/alice/napper@0.0.1` }).and.to.have.property('namespace').that.matches(/^hubtest-/);
      expect(values[3]).to.deep.equal({ step: 'running', run: 1, of: 1, action: 'nap' });
      // as they happen: the run (1.5 s) was announced well before its answer came
      const running = lines.find((l) => l.value.step === 'running')!;
      expect(lines.at(-1)!.at - running.at).to.be.at.least(1000);
      // the last line: the answer the JSON request gives, in the same shape
      const last = values.at(-1)!;
      expect(Object.keys(last)).to.deep.equal(['result']);
      const plain = await expectOk(call('POST', hub('test'), { auth: s.guestKey, body }));
      const result = last.result as typeof plain;
      expect(Object.keys(result).sort()).to.deep.equal(Object.keys(plain).sort());
      expect(result).to.include({ ref: plain.ref, digest: plain.digest, cleanedUp: true });
      expect(Object.keys(result.runs[0].activation).sort()).to.deep.equal(Object.keys(plain.runs[0].activation).sort());
      expect(result.runs[0].activation.response.result).to.deep.equal({ done: true });
      // nothing left of the disposable namespace
      const namespace = values[2]!.namespace as string;
      expect(await s.opened.store.count('action', { namespace })).to.equal(0);
      expect((await s.opened.store.listSubjects()).map((x) => x.subject)).to.have.members(subjects);

      // failing after the first step: the last line is the error in OpenWhisk's shape
      const bad = await streamed({ ref: `${tampered.id}/alice/tools` });
      expect(bad.res.status).to.equal(200);
      expect(bad.values.map((v) => v.step ?? 'last')).to.deep.equal(['fetching', 'last']);
      expect(bad.values[1]).to.have.keys('error', 'code');
      expect(bad.values[1]!.error).to.match(new RegExp(`^refused ${tampered.id}/alice/tools@0.0.1: digest mismatch: expected`));
      expect(bad.values[1]!.code).to.equal(bad.res.headers.get('x-request-id'));
      // refused before any step (a bad REF): the usual error answer, its status
      const refused = await fetch(hub('test'), { method: 'POST', headers: { authorization: `Basic ${Buffer.from(s.guestKey).toString('base64')}`, 'content-type': 'application/json', accept: 'application/x-ndjson' }, body: JSON.stringify({ ref: 'not a ref' }) });
      expect(refused.status).to.equal(400);
      expect(await refused.json()).to.have.property('error').that.matches(/invalid hub REF/);
      expect((await s.opened.store.listSubjects()).map((x) => x.subject)).to.have.members(subjects);
    } finally {
      a.packages.pop();
    }
  });

  it('shows and gets a REF of another instance through this one, verified', async function () {
    const detail = await expectOk(call('GET', `${hub('show')}?ref=${encodeURIComponent(`${a.id}/alice/tools`)}`, { auth: s.guestKey }));
    expect(detail).to.include({ ref: `${a.id}/alice/tools@0.0.1`, version: '0.0.1', digest: a.bundle(a.packages[0]!).digest });
    const res = await fetch(`${hub('get')}?ref=${encodeURIComponent(`${a.id}/alice/tools@0.0.1`)}`, { headers: { authorization: `Basic ${Buffer.from(s.guestKey).toString('base64')}` } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/zip');
    expect(res.headers.get('x-swirl-digest')).to.equal(detail.digest);
    expect(Object.keys(unzipSync(new Uint8Array(await res.arrayBuffer())))).to.have.members(['manifest.json', 'actions/echo']);
  });

  it('says clearly what is wrong: a bad REF, an unknown version, an unreachable instance, no downloads, a digest mismatch', async function () {
    const get = (op: string, ref: string) => call('GET', `${hub(op)}?ref=${encodeURIComponent(ref)}`, { auth: s.guestKey });
    expectError(await get('show', 'not a ref'), 400, /invalid hub REF 'not a ref'/);
    expectError(await call('GET', hub('show'), { auth: s.guestKey }), 400, /ref is required/);
    expectError(await get('show', `${a.id}/alice/tools@9.9.9`), 404, /its current version is 0.0.1/);
    expectError(await get('show', `${a.id}/alice/nothing`), 404, /is not in the hub catalog of/);
    // a known peer that is down
    await closed.close();
    expectError(await get('show', `${closed.id}/alice/tools`), 502, /cannot be reached: ECONNREFUSED/);
    expectError(await get('get', `${a.id}/alice/locked`), 403, new RegExp(`the publisher does not allow downloads of ${a.id}/alice/locked@0.0.1`));
    // the ref named once, then what is wrong
    expectError(await get('get', `${tampered.id}/alice/tools`), 502, new RegExp(`^refused ${tampered.id}/alice/tools@0.0.1: digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}$`));
    expectError(await get('get', `${liar.id}/alice/tools`), 502, new RegExp(`^refused ${liar.id}/alice/tools@0.0.1: digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:0{64}$`));
    expectError(await get('show', `${flood.id}/alice/tools`), 502, /larger than allowed \(8388608 bytes\)/);
    expectError(await call('POST', hub('install'), { auth: s.guestKey, body: { ref: 'x' } }), 400, /invalid hub REF/);
    expectError(await call('POST', hub('install'), { auth: s.guestKey, body: { ref: `${tampered.id}/alice/tools`, as: 'tampered' } }), 502, /digest mismatch/);
    expect(await s.opened.store.find('guest', 'tampered')).to.equal(undefined);
    // another namespace than the caller's
    expectError(await call('POST', `${s.api}/namespaces/someone/hub/install`, { auth: s.guestKey, body: { ref: `${a.id}/alice/tools` } }), 403);
  });

  it('fetches a hub function on first invoke, runs it in the caller\'s namespace, and runs the cached copy once the origin is gone', async function () {
    const ref = `${od.id}/alice/tools/echo@0.0.7`;
    await expectOk(call('PUT', `${s.api}/namespaces/_/actions/remote`, { auth: s.guestKey, body: { exec: { kind: 'hub', ref } } }));
    const shown = await expectOk(call('GET', `${s.api}/namespaces/_/actions/remote`, { auth: s.guestKey }));
    expect(shown.exec).to.deep.include({ kind: 'hub', ref });
    const first = await call('POST', `${s.api}/namespaces/_/actions/remote?blocking=true`, { auth: s.guestKey, body: { n: 1 } });
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body.response.result).to.deep.equal({ v: 7, got: { n: 1 } });
    expect(first.body.namespace).to.equal('guest');
    // the record is the caller's (written in a batch: it shows within moments)
    let record = await call('GET', `${s.api}/namespaces/_/activations/${first.body.activationId}`, { auth: s.guestKey });
    for (let i = 0; i < 50 && record.status === 404; i++) {
      await sleep(100);
      record = await call('GET', `${s.api}/namespaces/_/activations/${first.body.activationId}`, { auth: s.guestKey });
    }
    expect(record.status).to.equal(200);
    expect(record.body.namespace).to.equal('guest');
    // filed under the caller's action, naming the function it ran (not the cache's path)
    const ann = Object.fromEntries(record.body.annotations.map((x: { key: string; value: unknown }) => [x.key, x.value]));
    expect(ann).to.include({ path: 'guest/remote', hub: ref, kind: 'nodejs:20' });
    const listed = await expectOk(call('GET', `${s.api}/namespaces/_/activations?name=remote`, { auth: s.guestKey }));
    expect(listed.map((r: { activationId: string }) => r.activationId)).to.include(first.body.activationId);
    const entries = await cached();
    expect(entries).to.have.length(1);
    // a sequence component names the same function: the cache serves it
    await expectOk(call('PUT', `${s.api}/namespaces/_/actions/seq`, { auth: s.guestKey, body: { exec: { kind: 'sequence', components: [`hub:${ref}`, '/_/taken'] } } }));
    await od.close();
    const again = await invoke('remote', { n: 2 });
    expect(again.status, JSON.stringify(again.body)).to.equal(200);
    expect(again.body).to.deep.equal({ v: 7, got: { n: 2 } });
    const seq = await invoke('seq', { n: 3 });
    expect(seq.status, JSON.stringify(seq.body)).to.equal(200);
    expect(seq.body).to.deep.equal({ v: 0, got: { v: 7, got: { n: 3 } } });
    expect(await cached()).to.have.length(1);
    // no tenant reaches the cache by name
    expectError(await call('GET', `${s.api}/namespaces/.hub-cache/actions`, { auth: s.guestKey }), 400);
    expectError(await call('POST', `${s.api}/namespaces/_/actions/${encodeURIComponent('/.hub-cache/' + entries[0]!.name + '/echo')}?blocking=true`, { auth: s.guestKey }), 400);
  });

  it('refuses a tampered download on invoke with a clear error, and caches nothing', async function () {
    const before = (await cached()).length;
    await expectOk(call('PUT', `${s.api}/namespaces/_/actions/bad`, { auth: s.guestKey, body: { exec: { kind: 'hub', ref: `${tampered.id}/alice/tools/echo` } } }));
    expectError(await invoke('bad'), 502, new RegExp(`^refused ${tampered.id}/alice/tools@0.0.1: digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}$`));
    expect(await cached()).to.have.length(before);
    expect(await s.opened.store.list('action', { namespace: '.hub-cache' }, { limit: 200, skip: 0 })).to.have.length(before);
    // as a sequence component: the sequence fails with the same words
    await expectOk(call('PUT', `${s.api}/namespaces/_/actions/badseq`, { auth: s.guestKey, body: { exec: { kind: 'sequence', components: [`hub:${tampered.id}/alice/tools/echo`] } } }));
    const seq = await invoke('badseq');
    expect(seq.status).to.equal(502);
    expect(seq.body.error).to.match(/digest mismatch/);
    expect(await cached()).to.have.length(before);
  });

  it('keeps only the hub-safe annotations of a peer\'s manifest: a function that asks for the caller\'s key does not get it', async function () {
    const pkg = await expectOk(call('POST', hub('install'), { auth: s.guestKey, body: { ref: `${grabber.id}/alice/tools`, as: 'grab' } }));
    expect(pkg.name).to.equal('grab');
    const action = await expectOk(call('GET', `${s.api}/namespaces/_/actions/grab/echo`, { auth: s.guestKey }));
    expect(action.annotations.map((x: { key: string }) => x.key)).not.to.include('provide-api-key');
    expect((await invoke('grab/echo')).body).to.deep.equal({ key: null });
    await expectOk(call('PUT', `${s.api}/namespaces/_/actions/grabbed`, { auth: s.guestKey, body: { exec: { kind: 'hub', ref: `${grabber.id}/alice/tools/echo` } } }));
    expect((await invoke('grabbed')).body).to.deep.equal({ key: null });
    const t = await expectOk(call('POST', hub('test'), { auth: s.guestKey, body: { ref: `${grabber.id}/alice/tools/echo`, params: {} } }));
    expect(t.runs[0].activation.response.result).to.deep.equal({ key: null });
  });

  it('reaches only this instance and its known peers: a REF of any other host:port is a 403 that says how to add a peer, and nothing connects', async function () {
    const probe = await startProbe();
    try {
      const get = (op: string, ref: string) => call('GET', `${hub(op)}?ref=${encodeURIComponent(ref)}`, { auth: s.guestKey });
      const refs = [`127.0.0.1:${probe.port}/alice/tools`, `http://127.0.0.1:${probe.port}/alice/tools`, '169.254.169.254:80/latest/meta-data', 'localhost:6379/alice/tools'];
      for (const ref of refs) {
        const instance = /^(?:https?:\/\/)?([^/]+)\//.exec(ref)![1]!;
        const refusal = new RegExp(`^the hub instance ${instance.replace(/[.[\]]/g, '\\$&')} is not a peer of this instance: only this instance and its known peers are reached\\. Its operator can add it to SWIRL_HUB_PEERS`);
        expectError(await get('show', ref), 403, refusal);
        expectError(await get('get', ref), 403, refusal);
        expectError(await call('POST', hub('install'), { auth: s.guestKey, body: { ref, as: 'probed' } }), 403, refusal);
        expectError(await call('POST', hub('test'), { auth: s.guestKey, body: { ref } }), 403, refusal);
        await expectOk(call('PUT', `${s.api}/namespaces/_/actions/probing?overwrite=true`, { auth: s.guestKey, body: { exec: { kind: 'hub', ref: `${ref}/echo` } } }));
        expectError(await invoke('probing'), 403, refusal);
        await expectOk(call('PUT', `${s.api}/namespaces/_/actions/probingseq?overwrite=true`, { auth: s.guestKey, body: { exec: { kind: 'sequence', components: [`hub:${ref}/echo`] } } }));
        // (a sequence whose component fails is the sequence's application error: OpenWhisk's 502, the component's words)
        const seq = await invoke('probingseq');
        expect(seq.status).to.equal(502);
        expect(seq.body.error).to.match(refusal);
      }
      expect(probe.connections(), 'connections made to the probed port').to.equal(0);
      expect(await s.opened.store.find('guest', 'probed')).to.equal(undefined);
    } finally {
      await probe.close();
    }
  });

  it("counts hub test runs and fetch-on-demand invokes against the caller's invoke throttles (429 in OpenWhisk's words)", async function () {
    await freshMinute(20_000);
    const auth = await limitedUser('thrifty', { invocationsPerMinute: 3 });
    await expectOk(call('POST', hub('test'), { auth, body: { ref: `${a.id}/alice/tools` } }));
    await expectOk(call('PUT', `${s.api}/namespaces/_/actions/remote`, { auth, body: { exec: { kind: 'hub', ref: `${a.id}/alice/tools/echo` } } }));
    const run = () => call('POST', `${s.api}/namespaces/_/actions/remote?blocking=true&result=true`, { auth, body: {} });
    expect((await run()).status).to.equal(200);
    expect((await run()).status).to.equal(200);
    expectError(await run(), 429, 'Too many requests in the last minute (count: 4, allowed: 3).');
    expectError(await call('POST', hub('test'), { auth, body: { ref: `${a.id}/alice/tools` } }), 429, 'Too many requests in the last minute (count: 5, allowed: 3).');
    // nothing of the refused trial is left
    expect((await s.opened.store.listSubjects()).map((x) => x.subject).filter((x) => x.startsWith('hubtest-'))).to.deep.equal([]);
  });

  it('runs at most 2 hub tests at once in a namespace: a third is a 429 that says so', async function () {
    a.packages.push({ owner: 'alice', name: 'slow', version: '0.0.1', actions: { nap: 'function main() { return new Promise((ok) => setTimeout(() => ok({ done: true }), 2000)); }' } });
    try {
      const auth = await limitedUser('tester', {});
      const trial = () => call('POST', hub('test'), { auth, body: { ref: `${a.id}/alice/slow`, action: 'nap', params: {} } });
      const replies = await Promise.all([trial(), trial(), trial()]);
      expect(replies.map((r) => r.status).sort()).to.deep.equal([200, 200, 429]);
      expectError(replies.find((r) => r.status === 429)!, 429, 'Too many hub tests in progress in namespace tester (at most 2 at once); try again when one has finished.');
      for (const r of replies.filter((x) => x.status === 200)) expect(r.body.runs[0].activation.response.result).to.deep.equal({ done: true });
      // the slots are given back
      expect((await expectOk(trial())).runs[0].activation.response.result).to.deep.equal({ done: true });
    } finally {
      a.packages.pop();
    }
  });

  it('validates a hub action and a hub component at PUT', async function () {
    const put = (name: string, exec: unknown) => call('PUT', `${s.api}/namespaces/_/actions/${name}`, { auth: s.guestKey, body: { exec } });
    expectError(await put('h1', { kind: 'hub' }), 400, /exec.ref: required for kind hub/);
    expectError(await put('h2', { kind: 'hub', ref: `${a.id}/alice/tools` }), 400, /names a package; a function REF/);
    expectError(await put('h3', { kind: 'sequence', components: ['hub:nonsense'] }), 400, /invalid hub REF/);
  });
});

describe('hub with real instances: A publishes, C finds it through B, installs, tests, fetches on demand, updates; A stops, the copy runs', function () {
  this.timeout(120_000);
  let a: TestServer;
  let b: TestServer;
  let c: TestStack;
  const ref = () => `${idOf(a.url)}/guest/tools`;
  const hub = (op: string) => `${c.api}/namespaces/_/hub/${op}`;
  const invoke = (name: string, params: unknown = {}) => call('POST', `${c.api}/namespaces/_/actions/${name}?blocking=true&result=true`, { auth: c.guestKey, body: params });
  const publish = async (v: number) => {
    const annotations = [
      { key: 'hub-publish', value: true },
      { key: 'hub-download', value: true },
      { key: 'description', value: 'echo tools, really published' },
    ];
    await expectOk(call('PUT', `${a.api}/namespaces/_/packages/tools?overwrite=true`, { auth: a.guestKey, body: { annotations, parameters: [{ key: 'secret', value: 'never-published' }] } }));
    await expectOk(call('PUT', `${a.api}/namespaces/_/actions/tools/echo?overwrite=true`, { auth: a.guestKey, body: { exec: { kind: 'nodejs:20', code: echo(v) } } }));
  };

  before(async function () {
    a = await startTestServer({ SWIRL_HUB_CACHE_MS: '0' });
    b = await startTestServer({ SWIRL_HUB_PEERS: a.url });
    c = await startTestStack('process', { SWIRL_HUB_PEERS: b.url });
    await publish(1);
  });
  after(async function () {
    for (const s of [c, b, a]) await s?.destroy();
  });

  it('finds A\'s package from C through B, installs it, tests it, and runs it on demand', async function () {
    const found = await expectOk(call('GET', `${c.url}/hub/v1/search?q=echo`));
    const hit = found.results.find((r: { ref: string }) => r.ref.startsWith(ref()));
    expect(hit, JSON.stringify(found)).to.include({ ref: `${ref()}@0.0.1`, owner: 'guest', name: 'tools', downloadable: true });
    expect(JSON.stringify(found)).not.to.contain('never-published');
    const pkg = await expectOk(call('POST', hub('install'), { auth: c.guestKey, body: { ref: hit.ref } }));
    expect(pkg.annotations).to.deep.include({ key: 'hub-digest', value: hit.digest });
    expect(JSON.stringify(pkg)).not.to.contain('never-published');
    expect((await invoke('tools/echo', { k: 1 })).body).to.deep.equal({ v: 1, got: { k: 1 } });
    const t = await expectOk(call('POST', hub('test'), { auth: c.guestKey, body: { ref: `${ref()}/echo`, params: { t: 1 } } }));
    expect(t).to.include({ digest: hit.digest, cleanedUp: true });
    expect(t.runs[0].activation.response.result).to.deep.equal({ v: 1, got: { t: 1 } });
    await expectOk(call('PUT', `${c.api}/namespaces/_/actions/ondemand`, { auth: c.guestKey, body: { exec: { kind: 'hub', ref: `${ref()}/echo` } } }));
    expect((await invoke('ondemand', { d: 1 })).body).to.deep.equal({ v: 1, got: { d: 1 } });
  });

  it('updates the installed copy when A publishes a newer version; with A stopped, the copy and the cached function still run', async function () {
    await publish(2);
    expect(await expectOk(call('POST', hub('update'), { auth: c.guestKey, body: { name: 'tools' } }))).to.deep.equal({ updated: true, from: '0.0.1', to: '0.0.2' });
    expect((await invoke('tools/echo')).body).to.include({ v: 2 });
    await a.stop();
    expect((await invoke('tools/echo', { after: 'stop' })).body).to.deep.equal({ v: 2, got: { after: 'stop' } });
    // the function fetched on demand was cached at 0.0.1 for its unversioned REF: it runs without A
    expect((await invoke('ondemand', { after: 'stop' })).body).to.deep.equal({ v: 1, got: { after: 'stop' } });
    // and a search names A down
    const found = await expectOk(call('GET', `${c.url}/hub/v1/search?q=nothing-${Date.now()}`));
    expect(found.peers.down.map((d: { id: string }) => d.id)).to.include(idOf(a.url));
    expectError(await call('POST', hub('update'), { auth: c.guestKey, body: { name: 'tools' } }), 502, /cannot be reached/);
  });
});
