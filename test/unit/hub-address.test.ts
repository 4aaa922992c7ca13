import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { addressRefusal, classifyAddress, ipLiteral, learnedUrlRefusal, reachOf } from '../../common/hub/address.ts';
import { clampLimits } from '../../controller/hub/copy.ts';
import { getBounded, HubPeerError } from '../../controller/hub/remote.ts';

describe('hub: where the hub may connect (SSRF bounds)', function () {
  it('classifies addresses: link-local, unspecified and multicast are forbidden; loopback and private ranges are private', function () {
    for (const a of ['169.254.169.254', '169.254.0.1', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '255.255.255.255', '::', 'fe80::1', 'febf::1', 'ff02::1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe']) expect(classifyAddress(a), a).to.equal('forbidden');
    for (const a of ['127.0.0.1', '127.9.9.9', '10.0.0.5', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '::1', 'fc00::1', 'fd12:3456::1', '::ffff:127.0.0.1', '::ffff:10.1.2.3']) expect(classifyAddress(a), a).to.equal('private');
    for (const a of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '100.128.0.1', '2001:db8::1', '2606:4700::1111', '::ffff:8.8.8.8']) expect(classifyAddress(a), a).to.equal('public');
    expect(classifyAddress('not an address')).to.equal('forbidden');
  });

  it('allows private addresses only with reach private, forbidden ones never', function () {
    expect(addressRefusal('10.0.0.5', 'private')).to.equal(undefined);
    expect(addressRefusal('10.0.0.5', 'public')).to.match(/loopback or private address/);
    expect(addressRefusal('169.254.169.254', 'private')).to.match(/link-local/);
    expect(addressRefusal('8.8.8.8', 'public')).to.equal(undefined);
    expect(ipLiteral('[::1]')).to.equal('::1');
    expect(ipLiteral('hub.example.com')).to.equal(undefined);
  });

  it('learns a peer URL only over http(s), never at a forbidden address, and at a private one only from a private teller', function () {
    for (const url of ['http://169.254.169.254/', 'http://[fe80::1]:3233', 'http://0.0.0.0:3233', 'http://224.0.0.1:80', 'http://[::]:80']) {
      expect(learnedUrlRefusal(url, 'private'), url).to.be.a('string');
      expect(learnedUrlRefusal(url, 'public'), url).to.be.a('string');
    }
    for (const url of ['ftp://10.0.0.1/', 'file:///etc/passwd', 'gopher://x:70', 'nonsense']) expect(learnedUrlRefusal(url, 'private'), url).to.be.a('string');
    for (const url of ['http://127.0.0.1:3233', 'http://10.0.0.7:3233', 'http://[::1]:3233', 'http://localhost:3233', 'http://a.localhost:1']) {
      expect(learnedUrlRefusal(url, 'private'), url).to.equal(undefined);
      expect(learnedUrlRefusal(url, 'public'), url).to.be.a('string');
    }
    // a host name is checked when it is resolved for a connection
    expect(learnedUrlRefusal('https://hub.example.com', 'public')).to.equal(undefined);
    expect(learnedUrlRefusal('http://8.8.8.8:3233', 'public')).to.equal(undefined);
    expect(reachOf('127.0.0.1')).to.equal('private');
    expect(reachOf('::ffff:192.168.0.2')).to.equal('private');
    expect(reachOf('8.8.8.8')).to.equal('public');
    expect(reachOf(undefined)).to.equal('public');
  });

  describe('outbound requests', function () {
    let server: Server;
    let connections = 0;
    let port = 0;
    before(async function () {
      server = createServer((_req, res) => res.end('{"ok":true}'));
      server.on('connection', () => connections++);
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((ok) => server.close(() => ok())));

    it('checks a host name\'s addresses when connecting: a name that resolves to loopback is not connected to with reach public', async function () {
      const before = connections;
      const err = await getBounded(`http://localhost:${port}/hub/v1/peers`, { timeoutMs: 2000, maxBytes: 1000, reach: 'public' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HubPeerError);
      expect((err as Error).message).to.match(new RegExp(`localhost:${port}/hub/v1/peers cannot be reached: localhost is not connected to: it resolves to (127\\.0\\.0\\.1|::1) is a loopback or private address`));
      expect(connections).to.equal(before);
      // with reach private it is reached, and the answer says from where
      const literal = await getBounded(`http://127.0.0.1:${port}/x`, { timeoutMs: 2000, maxBytes: 1000, reach: 'private' });
      expect(literal).to.include({ status: 200, remoteAddress: '127.0.0.1' });
    });

    it('refuses an address literal before connecting: link-local never, loopback with reach public', async function () {
      const before = connections;
      const meta = await getBounded('http://169.254.169.254/latest/meta-data/', { timeoutMs: 2000, maxBytes: 1000, reach: 'private' }).catch((e: unknown) => e);
      expect((meta as Error).message).to.match(/169\.254\.169\.254 is a link-local, unspecified or multicast address/);
      const loop = await getBounded(`http://127.0.0.1:${port}/x`, { timeoutMs: 2000, maxBytes: 1000, reach: 'public' }).catch((e: unknown) => e);
      expect((loop as Error).message).to.match(/127\.0\.0\.1 is a loopback or private address/);
      expect(connections).to.equal(before);
    });
  });

  it("clamps a manifest's action limits to this instance's ranges", function () {
    expect(clampLimits({ memory: 1_000_000, timeout: 10, logs: 3.6, concurrency: -4, other: 9 })).to.deep.equal({ memory: 512, timeout: 100, logs: 4, concurrency: 1 });
    expect(clampLimits({ memory: 'lots', timeout: Number.NaN })).to.deep.equal({});
    expect(clampLimits(null)).to.deep.equal({});
  });
});
