import type { ParameterizedContext } from 'koa';
import type { Config } from '../common/config.ts';
import type { Identity } from '../common/identity.ts';
import type { Logger } from '../common/logger.ts';
import type { Readiness } from '../common/ops.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import type { HealthMonitor } from '../loadbalancer/health-monitor.ts';
import type { ShardingScheduler } from '../loadbalancer/sharding.ts';
import type { ActivationFeed } from './activation-feed.ts';
import type { Activator } from './activator.ts';
import type { HubCatalog } from './hub/catalog.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { Authenticator } from './auth.ts';
import type { EntityCache } from './entity-cache.ts';
import type { Resolver } from './resolver.ts';
import type { RecordWriter } from '../common/record-writer.ts';
import type { HubPeers } from './hub/consumer.ts';
import type { Throttler } from '../loadbalancer/throttles.ts';
import type { TriggerFirer } from './triggers.ts';

/** What every request handler can reach: the request's transaction id, logger and caller. */
export interface SwirlState {
  tid: string;
  log: Logger;
  identity?: Identity;
}

/** Shared services of one controller. */
export interface Services {
  config: Config;
  /** The store; entity writes through it invalidate the entity cache of every controller. */
  store: EntityStore;
  logger: Logger;
  auth: Authenticator;
  /** Entities as reads and the invoke path get them; writes through `store` invalidate it (on every controller). */
  cache: EntityCache;
  /** Reads actions and packages through packages, bindings and entitlement. */
  resolver: Resolver;
  activator: Activator;
  throttler: Throttler;
  /** Stores the records of activations the controller runs itself (trigger fires, sequences). */
  records: RecordWriter;
  /** Fires triggers: the API's POST and feeds. */
  triggers: TriggerFirer;
  health: HealthMonitor;
  /** New activation records per namespace, for the activation stream. */
  feed: ActivationFeed;
  scheduler: ShardingScheduler;
  /** What GET /ready checks (store, bus, health store), and whether the controller is stopping. */
  readiness: Readiness;
  /** Counts requests and throttle rejections; GET /metrics serves its registry. */
  metrics: ControllerMetrics;
  /** This instance's hub catalog (the public /hub/v1 API); absent when SWIRL_HUB=off. */
  hubCatalog?: HubCatalog;
  /** The hub's consumer side: peers, search, install/update/test, fetch on demand (controller/hub/consumer.ts); absent when SWIRL_HUB=off. */
  hubPeers?: HubPeers;
}

export type Ctx = ParameterizedContext<SwirlState> & { params: Record<string, string> };
