import type { Server } from 'node:http';
import type { Config } from '../common/config.ts';
import { listen } from '../common/http.ts';
import { componentLogger, type Logger } from '../common/logger.ts';
import type { Readiness } from '../common/ops.ts';
import type { Infra } from '../common/infra.ts';
import { createRegistry, type Registry } from '../common/metrics.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import { timedStore } from '../common/store/timed-store.ts';
import { BalancerMessages, LoadBalancer } from '../loadbalancer/balancer.ts';
import { HealthMonitor } from '../loadbalancer/health-monitor.ts';
import { ShardingScheduler } from '../loadbalancer/sharding.ts';
import { Throttler } from '../loadbalancer/throttles.ts';
import { ActivationFeed } from './activation-feed.ts';
import { Activator } from './activator.ts';
import { createApp } from './app.ts';
import { Authenticator } from './auth.ts';
import { ActionKeys } from './action-keys.ts';
import { serverSecrets } from './bootstrap.ts';
import { CacheInvalidation } from './cache-invalidation.ts';
import { EntityCache } from './entity-cache.ts';
import { startFeeds } from './feeds/index.ts';
import { hubPeers } from './hub/consumer.ts';
import { hubOff } from './hub/on-demand.ts';
import { HubCatalog } from './hub/catalog.ts';
import type { Services } from './context.ts';
import { Resolver } from './resolver.ts';
import { SequenceJournal } from './sequence-journal.ts';
import { Sequencer } from './sequencer.ts';
import { SYSTEM_PACKAGES } from './system/index.ts';
import { ensureSystemPackages } from './system/packages.ts';
import { RecordWriter } from '../common/record-writer.ts';
import { TriggerFirer } from './triggers.ts';
import { ControllerMetrics } from './metrics.ts';
import { invokerUp, Opening } from './opening.ts';

export interface RunningController {
  server: Server;
  url: string;
  /** Where this controller's metrics are (served on GET /metrics). */
  registry: Registry;
  /** What its request handlers reach (the store, the activator...): for tests that drive a part directly. */
  services: Services;
  /** With `hold`: answer requests once an invoker is up in the load balancer (resolves then). */
  openWhenInvokerUp(): Promise<void>;
  close(): Promise<void>;
}

export interface ControllerOptions {
  /**
   * Hold every request but /ping and /ready until `openWhenInvokerUp()` sees an invoker up
   * (standalone: it listens before its invoker starts, and nothing may answer before an
   * invoke can succeed).
   */
  hold?: boolean;
  /** The process's metrics registry (standalone: shared with its invoker); default a new one. */
  registry?: Registry;
}

/**
 * Build the controller on a store and the invoke path's services (bus, health, throttles),
 * and listen on the configured host and port. /ready is 200 only while an invoker is up in
 * its load balancer (and store, bus and health store answer): then it can place work.
 */
export async function startController(config: Config, untimed: EntityStore, infra: Infra, logger: Logger, opts: ControllerOptions = {}): Promise<RunningController> {
  const metrics = new ControllerMetrics(opts.registry ?? createRegistry());
  const stored = timedStore(untimed, metrics.registry);
  // entity reads go through the cache; every entity write through `store` invalidates it, here and on the other controllers
  const cache = new EntityCache(stored, { ttlMs: config.entityCacheMs });
  const invalidation = await CacheInvalidation.start({ bus: infra.bus, controllerId: config.controllerId, cache, log: componentLogger(logger, 'cache') });
  const store = invalidation.writingThrough(stored);
  await ensureSystemPackages(store, SYSTEM_PACKAGES, logger);
  const secrets = await serverSecrets(store, config);
  const actionKeys = new ActionKeys(secrets.actionKey);
  const auth = new Authenticator(store, secrets.jwt, actionKeys, { cacheMs: config.authCacheMs, tokenTtlSeconds: config.jwtTtlSeconds });
  // a user deleted or given a new key by the admin command: its old key stops working at once, on every controller
  invalidation.whenSubjectsChange(() => auth.invalidate());
  const lbLog = componentLogger(logger, 'loadbalancer');
  const scheduler = new ShardingScheduler({ controllerCount: config.controllerCount });
  const health = new HealthMonitor(infra.health, { log: lbLog, scheduler });
  await health.start();
  metrics.watchHealth(health);
  const throttler = new Throttler(
    infra.throttles,
    { invocationsPerMinute: config.limitInvokesPerMinute, concurrentInvocations: config.limitConcurrentInvokes, firesPerMinute: config.limitFiresPerMinute },
    metrics.rejected,
  );
  const balancer = await LoadBalancer.start({
    controllerId: config.controllerId,
    bus: infra.bus,
    scheduler,
    health,
    log: lbLog,
    onFinished: ({ namespace, activationId }) => {
      throttler.finished(namespace, activationId)?.catch((e: Error) => lbLog.warn({ err: e }, 'could not release a concurrency slot'));
    },
  });
  const resolver = new Resolver(cache);
  const records = new RecordWriter(store, componentLogger(logger, 'records'));
  const activator = new Activator({ controllerId: config.controllerId, resolver, admission: throttler, balancer, actionKeys, log: lbLog });
  // (not on the memory bus: nothing it holds outlives the process)
  const journal = infra.bus.name === 'memory' ? undefined : await SequenceJournal.start({ bus: infra.bus, controllerId: config.controllerId, store, records, log: componentLogger(logger, 'sequences') });
  const hub = config.hub === 'on' ? hubPeers(config, { store, entities: cache, activator: () => activator, log: componentLogger(logger, 'hub') }) : undefined;
  activator.useKind('hub', hub?.onDemand.run ?? hubOff);
  const sequencer = new Sequencer({ activator, resolver, ...(hub ? { hub: hub.onDemand } : {}), admission: throttler, records, log: componentLogger(logger, 'sequences'), ...(journal ? { journal } : {}), ...(config.stdioPipelines === 'on' ? { pipelines: activator } : {}) });
  activator.useKind('sequence', sequencer.run);
  const triggers = new TriggerFirer({ entities: cache, activator, throttler, records, log: componentLogger(logger, 'triggers') });
  const feeds = await startFeeds({ store, leases: infra.leases, triggers, auth, records, activator, controllerId: config.controllerId, log: componentLogger(logger, 'feeds') });
  let stopping = false;
  const opening = new Opening(health);
  if (!opts.hold) opening.openNow();
  const readiness: Readiness = {
    checks: { store: () => store.ping(), bus: () => infra.bus.ping(), health: () => infra.health.ping() },
    notReady: () => {
      if (stopping) return 'The controller is shutting down.';
      if (!opening.isOpen) return 'Starting: waiting for the invoker.';
      return invokerUp(health) ? undefined : `Not ready: ${BalancerMessages.noInvokers}`;
    },
  };
  const feed = new ActivationFeed(store, componentLogger(logger, 'activation-stream'));
  const hubCatalog = config.hub === 'on' ? new HubCatalog({ store, activator, config, log: componentLogger(logger, 'hub') }) : undefined;
  const services: Services = { config, store, logger, auth, cache, resolver, activator, throttler, records, triggers, health, scheduler, feed, readiness, metrics, ...(hubCatalog ? { hubCatalog } : {}), ...(hub ? { hubPeers: hub } : {}) };
  const app = createApp(services, opening.hold);
  const { server, url } = await listen(app, config.port, config.host, logger);
  hubCatalog?.listening(url);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0; // invocations may block for minutes; handlers bound their own waits
  hub?.listening(url);
  return {
    server,
    url,
    registry: metrics.registry,
    services,
    openWhenInvokerUp: () => opening.openWhenInvokerUp(logger),
    close: async () => {
      // stop intake: /ready says so at once, the listener closes, requests in progress (blocking invokes) are answered
      stopping = true;
      opening.openNow();
      feed.close(); // the activation streams end, so that their connections can close
      // a keep-alive connection becomes idle once its request is answered: close those as they come
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeIdleConnections();
      });
      clearInterval(idle);
      await hub?.close();
      await feeds.close(); // no alarm or Kafka feed fires past this point
      await hubCatalog?.close(); // an examples run in progress ends, its disposable namespace removed
      await balancer.close();
      await sequencer.close(); // its waits on components have ended with the balancer: let it write the records
      await records.flush();
      await journal?.close();
      await health.close();
      await invalidation.close();
    },
  };
}
