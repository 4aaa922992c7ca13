import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../common/config.ts';
import { type Infra, openInfra } from '../../common/infra.ts';
import type { Identity } from '../../common/identity.ts';
import { silentLogger } from '../../common/logger.ts';
import type { KeyValue } from '../../common/entities.ts';
import { masterKey } from '../../common/master-key.ts';
import type { Registry } from '../../common/metrics.ts';
import { Sealer } from '../../common/sealing.ts';
import { openIncomingParams } from '../../common/store/sealed-params.ts';
import { type OpenedStore, openStandaloneStore, openStore } from '../../common/store/open.ts';
import { newCredentials } from '../../common/credentials.ts';
import { readGuestKey } from '../../common/guest-key.ts';
import { prepareStore } from '../../controller/bootstrap.ts';
import { type RunningController, startController } from '../../controller/server.ts';
import type { Services } from '../../controller/context.ts';

/** A controller on a fresh embedded store in a temporary directory, on a free loopback port. */
export interface TestServer {
  url: string;
  api: string;
  config: Config;
  dataDir: string;
  opened: OpenedStore;
  /** The bus, health and throttle stores the controller uses (the local bus in the data directory, memory health and throttles, unless `env` says otherwise). */
  infra: Infra;
  /** The controller's metrics registry (what GET /metrics serves). */
  registry: Registry;
  /** The controller's services (store, activator, hub catalog...), to drive a part directly. */
  services: Services;
  guest: Identity;
  /** `uuid:key` of the guest: as configured, as made on first start, or as kept in `<dataDir>/guest.key` */
  guestKey: string;
  /** The plain parameters of an entity as the API shows it (sealed for its namespace and name); throws when they are not sealed so. */
  reveal(e: { namespace: string; name: string; parameters: KeyValue[] }): KeyValue[];
  /** Create another user (namespace = name) and return its `uuid:key`. */
  createUser(name: string): Promise<string>;
  /** Stop the controller and the store, keeping the data directory. */
  stop(): Promise<void>;
  /** Stop and remove the data directory. */
  destroy(): Promise<void>;
}

/** How a test server opens its store: the embedded CouchDB-API server (what `opened.url` names), unless told otherwise. */
export type StoreOpener = (config: Config, masterKey: Buffer) => Promise<OpenedStore>;

/** Standalone's own store (lmdb in the process; `opened.url` is empty: no HTTP API). */
export const standaloneStore: StoreOpener = async (config, key) => ({ ...(await openStandaloneStore(config, key, () => undefined)), url: '', embedded: false });

export async function startTestServer(env: Record<string, string> = {}, dataDir = mkdtempSync(join(tmpdir(), 'swirl-test-')), open: StoreOpener = openStore): Promise<TestServer> {
  const config = loadConfig({ SWIRL_PORT: '0', SWIRL_HOST: '127.0.0.1', SWIRL_DATA_DIR: dataDir, SWIRL_LOG_LEVEL: 'silent', ...env });
  const key = masterKey(config, { generate: true })!;
  const opened = await open(config, key);
  const guest = await prepareStore(opened.store, config, silentLogger);
  const guestKey = config.guestKey ?? guest.issued ?? readGuestKey(dataDir);
  if (!guestKey) throw new Error(`no guest key: not configured, not made now, not in ${dataDir}/guest.key`);
  const infra: Infra = await openInfra(config, silentLogger, 'test');
  let controller: RunningController | undefined = await startController(config, opened.store, infra, silentLogger);
  const stop = async () => {
    if (!controller) return;
    await controller.close();
    controller = undefined;
    await infra.close();
    await opened.close();
  };
  return {
    url: controller.url,
    api: `${controller.url}/api/v1`,
    config,
    dataDir,
    opened,
    infra,
    registry: controller.registry,
    services: controller.services,
    guest: guest.identity,
    guestKey,
    reveal(e) {
      if (!e.parameters.every((p) => p.encryption === 'aes-256')) throw new Error(`parameters not sealed: ${JSON.stringify(e.parameters)}`);
      return openIncomingParams(new Sealer(key), `${e.namespace}/${e.name}`, e.parameters);
    },
    async createUser(name: string) {
      const { creds, auth } = newCredentials(name);
      await opened.store.putSubject({ subject: name, namespaces: [creds] });
      return auth;
    },
    stop,
    async destroy() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const basic = (key: string): string => 'Basic ' + Buffer.from(key).toString('base64');

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON HTTP call with fetch; the body is parsed when the reply is JSON. */
export async function call<T = any>(method: string, url: string, opts: { auth?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth) headers.authorization = opts.auth.includes(' ') ? opts.auth : basic(opts.auth);
  let body: string | Buffer | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method, headers, body: body as BodyInit | undefined });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/**
 * A server for one mocha suite: started before its tests (then `onStart` runs, to keep a
 * reference and make fixtures), destroyed after them.
 */
export function suiteServer(onStart: (server: TestServer) => void | Promise<void>, env: Record<string, string> = {}): void {
  let server: TestServer | undefined;
  before(async function () {
    server = await startTestServer(env);
    await onStart(server);
  });
  after(async function () {
    await server?.destroy();
  });
}
