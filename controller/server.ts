import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import { createApp } from './app.ts';
import { Authenticator } from './auth.ts';
import { tokenSecret } from './bootstrap.ts';

export interface RunningController {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Build the controller on a store and listen on the configured host and port. */
export async function startController(config: Config, store: EntityStore, logger: Logger): Promise<RunningController> {
  const auth = new Authenticator(store, await tokenSecret(store, config), { cacheMs: config.authCacheMs, tokenTtlSeconds: config.jwtTtlSeconds });
  const app = createApp({ config, store, logger, auth });
  const server = await new Promise<Server>((ok, fail) => {
    const s = app.listen(config.port, config.host, () => ok(s));
    s.once('error', fail);
  });
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0; // invocations may block for minutes; handlers bound their own waits
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeIdleConnections();
      }),
  };
}
