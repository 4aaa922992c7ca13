import { Command, CommanderError } from 'commander';
import { loadClusterConfig } from '../common/cluster-config.ts';
import { openInfra } from '../common/infra.ts';
import { announce, createLogger } from '../common/logger.ts';
import { privateByDefault } from '../common/private-files.ts';
import { onShutdown, startOrExit } from '../common/shutdown.ts';
import { createRegistry } from '../common/metrics.ts';
import { openStoreWhenUp } from '../common/store/open.ts';
import { timedStore } from '../common/store/timed-store.ts';
import { Invoker } from './invoker.ts';
import { observeInvoker } from './observability.ts';
import { startInvokerOps } from './ops.ts';
import { InvokerService } from './service.ts';
import { FACTORY_DESCRIPTIONS } from '../common/container.ts';

/**
 * `npm run invoker -- --id N`: a cluster invoker. Takes activations from `invoker<N>` on the
 * bus, runs them in containers, stores records in CouchDB, heartbeats to Redis. SIGTERM
 * finishes what is running (nothing new is taken) before it exits. Its operations
 * endpoints (invoker/ops.ts) answer on SWIRL_INVOKER_PORT.
 */
async function main(): Promise<void> {
  privateByDefault();
  const program = new Command('invoker')
    .description('a swirl invoker (configuration from SWIRL_* variables)')
    .option('--id <n>', 'invoker id (overrides SWIRL_INVOKER_ID)')
    .exitOverride();
  try {
    program.parse(process.argv);
  } catch (e) {
    process.exit(e instanceof CommanderError ? e.exitCode : 2);
  }
  const { id } = program.opts<{ id?: string }>();
  const config = loadClusterConfig('invoker', id === undefined ? {} : { invokerId: id });
  const logger = createLogger(config.logLevel, `invoker${config.invokerId}`);
  // no master key: an invoker gets its parameters in the activation message, and keeps no secret of the store's
  // started with the cluster, the store may answer later: wait for it
  const opened = await openStoreWhenUp(config, logger);
  const registry = createRegistry();
  const store = timedStore(opened.store, registry);
  const infra = await openInfra(config, logger, `invoker${config.invokerId}`);
  const ops = await startInvokerOps(config, { store: () => store.ping(), bus: () => infra.bus.ping(), health: () => infra.health.ping() }, logger, registry);
  const observed = await observeInvoker(config, infra.bus, registry, logger);
  const invoker = await Invoker.start(config, store, logger, {
    ...(config.apiHost ? { apiHost: config.apiHost } : {}),
    onProgress: (line) => announce(`runtime images: ${line}`),
    metrics: observed.metrics,
  });
  const service = await InvokerService.start({ id: Number(config.invokerId), bus: infra.bus, health: infra.health, store, invoker, log: logger, url: ops.url, observers: observed.observers, metrics: observed.metrics });
  observed.metrics.watchState(service);
  ops.attach(service);
  logger.info({ ops: ops.url, bus: infra.bus.name, factory: invoker.factory.name }, 'invoker is up');
  announce(`swirl invoker${config.invokerId} is up (bus: ${infra.bus.name}, actions run in ${FACTORY_DESCRIPTIONS[invoker.factory.name]})`);
  announce(`ops: ${ops.url} (GET /ping, /ready, /metrics; POST /disable, /enable)`);

  // finish the activations in flight (nothing new is taken), then close
  onShutdown(logger, [() => service.close(), () => invoker.close(), observed.flush, ops.close, infra.close, opened.close], () => ({ inFlight: service.inFlight }));
}

startOrExit('swirl invoker', main);
