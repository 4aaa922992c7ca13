import { createServer, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { newAction, newPackage } from '../../common/entities.ts';
import { type Bundle, buildBundle, bundleZip, manifestDigest, sha256Hex } from '../../common/hub/manifest.ts';

/**
 * A hub peer that is a plain HTTP server in the test, not swirl: it serves the public hub API
 * (`/hub/v1/peers`, `/catalog`, `/packages/{owner}/{name}`, `/download`) for packages made
 * here, and misbehaves on request — a tampered download, an answer without end, a peer that
 * never answers — which a real instance never would.
 */

export interface FakePackage {
  owner: string;
  name: string;
  version: string;
  description?: string;
  /** Action name → Node.js source. */
  actions: Record<string, string>;
  downloadable?: boolean;
  examples?: Array<{ action: string; params?: Record<string, unknown>; expect?: Record<string, unknown> }>;
  invocations30d?: number;
}

export interface FakePeerPeer {
  url: string;
  via: string;
  seenAt: number;
}

/**
 * tamper: code changed after publishing (its manifest made to match: another digest than announced);
 * hang: never answers; flood: answers without end; lie-header: a wrong X-Swirl-Digest;
 * key-grab: a manifest (consistent, verifying) whose actions ask for the caller's API key.
 */
export type Misbehaviour = 'none' | 'tamper' | 'hang' | 'flood' | 'lie-header' | 'key-grab';

export interface FakePeer {
  url: string;
  id: string;
  packages: FakePackage[];
  /** What `/hub/v1/peers` answers as its peers. */
  peers: FakePeerPeer[];
  misbehave: Misbehaviour;
  /** Requests by path, to see who asked what. */
  asked: string[];
  bundle(pkg: FakePackage): Bundle;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

export async function startFakePeer(packages: FakePackage[] = [], misbehave: Misbehaviour = 'none'): Promise<FakePeer> {
  const server: Server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const id = `127.0.0.1:${port}`;
  const peer: FakePeer = {
    url: `http://${id}`,
    id,
    packages,
    peers: [],
    misbehave,
    asked: [],
    bundle(p) {
      const pkg = newPackage({ namespace: p.owner, name: p.name, callerNamespace: p.owner }, { annotations: [{ key: 'description', value: p.description ?? '' }, { key: 'hub-examples', value: p.examples ?? [] }] }, undefined, 0);
      const actions = Object.entries(p.actions).map(([name, code]) => newAction({ namespace: `${p.owner}/${p.name}`, name, callerNamespace: p.owner }, { exec: { kind: 'nodejs:20', code } }, 0));
      const bundle = buildBundle(id, { ...pkg, version: p.version }, actions);
      if (peer.misbehave !== 'key-grab') return bundle;
      const manifest = { ...bundle.manifest, actions: bundle.manifest.actions.map((a) => ({ ...a, annotations: [...a.annotations, { key: 'provide-api-key', value: true }] })) };
      return { ...bundle, manifest, digest: manifestDigest(manifest) };
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
  const summary = (p: FakePackage) => {
    const b = peer.bundle(p);
    return {
      ref: `${id}/${p.owner}/${p.name}@${p.version}`,
      instance: id,
      owner: p.owner,
      name: p.name,
      version: p.version,
      description: p.description ?? '',
      kinds: ['nodejs:20'],
      license: 'unspecified',
      digest: b.digest,
      actions: Object.keys(p.actions),
      parameters: [],
      codeVisible: false,
      downloadable: p.downloadable ?? true,
      figures: { invocations30d: p.invocations30d ?? 0, namespaces30d: 0, successRate: null, p50Ms: null, examples: null },
      updated: 0,
    };
  };
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', peer.url);
    peer.asked.push(url.pathname);
    if (peer.misbehave === 'hang') return; // never answers
    if (peer.misbehave === 'flood' && url.pathname.startsWith('/hub/v1/')) {
      // an answer that does not end: 1 MB chunks, no Content-Length, until the client hangs up
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.write('{"packages": [');
      pump();
      return;
    }
    if (url.pathname === '/hub/v1/peers') return json(res, 200, { self: { id, url: peer.url }, peers: peer.peers.map((p) => ({ id: new URL(p.url).host, ...p })) });
    if (url.pathname === '/hub/v1/catalog') {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      return json(res, 200, { instance: { id, url: peer.url }, packages: peer.packages.filter((p) => p.name.includes(q) || (p.description ?? '').toLowerCase().includes(q)).map(summary) });
    }
    const m = /^\/hub\/v1\/packages\/([^/]+)\/([^/]+)(\/download)?$/.exec(url.pathname);
    const p = m && peer.packages.find((x) => x.owner === m[1] && x.name === m[2]);
    if (!m || !p) return json(res, 404, { error: 'The requested resource does not exist.', code: 'fake' });
    const bundle = peer.bundle(p);
    if (!m[3]) return json(res, 200, { ...summary(p), examples: p.examples ?? [] });
    if (p.downloadable === false) return json(res, 403, { error: `the publisher does not allow downloads of ${id}/${p.owner}/${p.name}`, code: 'fake' });
    let zip = bundleZip(bundle);
    let digest = bundle.digest;
    if (peer.misbehave === 'tamper') {
      // the code changed after publishing, the manifest made to match it: its digest is no longer the announced one
      const name = Object.keys(bundle.files)[0]!;
      const files = { ...bundle.files, [name]: new TextEncoder().encode('exports.main = () => ({ owned: true })') };
      const manifest = { ...bundle.manifest, actions: bundle.manifest.actions.map((a) => (a.file === name ? { ...a, sha256: sha256Hex(files[name]!) } : a)) };
      zip = bundleZip({ manifest, files, digest });
    }
    if (peer.misbehave === 'lie-header') digest = `sha256:${'0'.repeat(64)}`;
    res.writeHead(200, { 'content-type': 'application/zip', 'x-swirl-digest': digest, 'content-length': zip.byteLength });
    res.end(Buffer.from(zip));
  });
  return peer;
}

/** A TCP server that only counts the connections made to it: what a probe of an internal service would reach. */
export interface Probe {
  port: number;
  connections(): number;
  close(): Promise<void>;
}

export async function startProbe(): Promise<Probe> {
  let count = 0;
  const server = createNetServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
