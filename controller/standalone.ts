import { ConfigError, loadConfig } from '../common/config.ts';
import { openInfra } from '../common/infra.ts';
import { announce, componentLogger, createLogger } from '../common/logger.ts';
import { masterKey } from '../common/master-key.ts';
import { privateByDefault, privateDir } from '../common/private-files.ts';
import { onShutdown, startOrExit } from '../common/shutdown.ts';
import { createRegistry } from '../common/metrics.ts';
import { openStandaloneStore } from '../common/store/open.ts';
import { timedStore } from '../common/store/timed-store.ts';
import { Invoker } from '../invoker/invoker.ts';
import { observeInvoker } from '../invoker/observability.ts';
import { InvokerService } from '../invoker/service.ts';
import { guestKeyLines, prepareStore } from './bootstrap.ts';
import { startController } from './server.ts';
import { FACTORY_DESCRIPTIONS } from '../common/container.ts';

/**
 * `npm start`: swirl in one process. The store is lmdb, in this process, in SWIRL_DATA_DIR
 * unless SWIRL_COUCHDB_URL names a real CouchDB.
 */
async function main(): Promise<void> {
  privateByDefault();
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel, 'standalone');
  privateDir(config.dataDir);
  // a master key of its own, in the data directory, unless one is configured
  const opened = await openStandaloneStore(config, masterKey(config, { generate: true }), (line) => announce(`store: ${line}`));
  logger.info({ store: opened.where }, 'store ready');
  const guest = await prepareStore(opened.store, config, logger);
  // one registry for both roles: GET /metrics on the API's port shows the controller's and the invoker's metrics
  const registry = createRegistry();
  const store = timedStore(opened.store, registry);
  // the memory bus, health and throttles unless configured otherwise: everything in this process
  const infra = await openInfra(config, logger, 'standalone');
  // (requests are held until the invoker is up: whatever answers, an invoke then succeeds)
  const controller = await startController(config, store, infra, logger, { hold: true, registry });
  opened.lock?.noteApi(`${controller.url}/api/v1`);
  // builds missing runtime images first (with progress), so no invocation waits for one
  const invokerLog = componentLogger(logger, 'invoker');
  const observed = await observeInvoker(config, infra.bus, registry, invokerLog);
  const invoker = await Invoker.start(config, store, invokerLog, {
    metrics: observed.metrics,
    // what actions call: SWIRL_API_HOST, else this server (the Docker factory rewrites loopback to the host's gateway)
    apiHost: config.apiHost ?? controller.url,
    onProgress: (line) => announce(`runtime images: ${line}`),
  });
  const service = await InvokerService.start({ id: Number(config.invokerId), bus: infra.bus, health: infra.health, store, invoker, log: invokerLog, observers: observed.observers, metrics: observed.metrics });
  observed.metrics.watchState(service);
  await controller.openWhenInvokerUp();

  logger.info({ api: `${controller.url}/api/v1`, factory: invoker.factory.name }, 'swirl standalone is up');
  announce(`swirl standalone is up (actions run in ${FACTORY_DESCRIPTIONS[invoker.factory.name]})`);
  announce(`api: ${controller.url}/api/v1`);
  for (const line of guestKeyLines(guest, config)) announce(line);
  if (guest.issued) announce(`try: curl -u ${guest.issued} ${controller.url}/api/v1/namespaces/_/actions`);

  // the HTTP server first (it waits for requests in flight, which need the invoker), then the invoker
  onShutdown(logger, [controller.close, () => service.close(), () => invoker.close(), observed.flush, infra.close, opened.close]);
}

startOrExit('swirl', main);
