import { loadClusterConfig } from '../common/cluster-config.ts';
import { openInfra } from '../common/infra.ts';
import { announce, createLogger } from '../common/logger.ts';
import { masterKey } from '../common/master-key.ts';
import { privateByDefault, privateDir } from '../common/private-files.ts';
import { onShutdown, startOrExit } from '../common/shutdown.ts';
import { openStore } from '../common/store/open.ts';
import { guestKeyLines, prepareStore } from './bootstrap.ts';
import { startController } from './server.ts';

/**
 * `npm run controller`: a cluster controller. Activations go to invokers over the bus
 * (SWIRL_BUS=redis|kafka), invoker health and throttles live in Redis (SWIRL_REDIS_URL),
 * entities in CouchDB (SWIRL_COUCHDB_URL; without it this controller serves the embedded
 * store from its data directory, and invokers reach it at the URL it logs), parameters and
 * server secrets encrypted there with SWIRL_MASTER_KEY.
 */
async function main(): Promise<void> {
  privateByDefault();
  const config = loadClusterConfig('controller');
  const logger = createLogger(config.logLevel, `controller${config.controllerId}`);
  privateDir(config.dataDir);
  const opened = await openStore(config, masterKey(config, { generate: false }));
  logger.info({ store: opened.embedded ? `embedded at ${opened.url.replace(/\/\/[^@/]*@/, '//***@')}` : 'couchdb' }, 'store ready');
  const guest = await prepareStore(opened.store, config, logger);
  const infra = await openInfra(config, logger, `controller${config.controllerId}`);
  const controller = await startController(config, opened.store, infra, logger);
  opened.lock?.noteApi(`${controller.url}/api/v1`);
  logger.info({ api: `${controller.url}/api/v1`, bus: infra.bus.name }, 'controller is up');
  announce(`swirl controller${config.controllerId} is up (bus: ${infra.bus.name})`);
  announce(`api: ${controller.url}/api/v1`);
  for (const line of guestKeyLines(guest, config)) announce(line);

  onShutdown(logger, [controller.close, infra.close, opened.close]);
}

startOrExit('swirl controller', main);
