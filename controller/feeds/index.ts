import { randomUUID } from 'node:crypto';
import type { LeaseStore } from '../../common/lease.ts';
import type { Logger } from '../../common/logger.ts';
import type { RecordWriter } from '../../common/record-writer.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import type { Activator } from '../activator.ts';
import type { Authenticator } from '../auth.ts';
import type { TriggerFirer } from '../triggers.ts';
import { Alarms } from './alarms.ts';
import { FeedFirer } from './fire.ts';
import { KafkaFeeds } from './kafka.ts';
import { BUILTIN_KIND, FeedActions } from './lifecycle.ts';
import { FeedService } from './service.ts';

export interface FeedsOptions {
  store: EntityStore;
  leases: LeaseStore;
  triggers: Pick<TriggerFirer, 'fire'>;
  auth: Pick<Authenticator, 'ownerOf'>;
  records: Pick<RecordWriter, 'write'>;
  activator: Pick<Activator, 'useKind'>;
  controllerId: string;
  log: Logger;
  /** How often other controllers' feed changes are picked up (default FEED_RELOAD_MS). */
  reloadMs?: number;
}

/**
 * The built-in feed providers of this controller (alarms, Kafka), running the feeds in
 * the store, and the feed actions that manage them, registered as the `builtin` kind.
 */
export async function startFeeds(opts: FeedsOptions): Promise<{ close(): Promise<void> }> {
  const { store, log } = opts;
  const firer = new FeedFirer({ triggers: opts.triggers, ownerOf: (ns) => opts.auth.ownerOf(ns), store, log });
  // the lease holder names this controller process (ids may repeat across restarts)
  const owner = `controller${opts.controllerId}/${randomUUID().slice(0, 8)}`;
  const providers = [new Alarms({ store, leases: opts.leases, firer, owner, log: log.child({ provider: 'alarms' }) }), new KafkaFeeds({ firer, log: log.child({ provider: 'kafka' }) })];
  const service = new FeedService(providers, { store, log, ...(opts.reloadMs ? { reloadMs: opts.reloadMs } : {}) });
  opts.activator.useKind(BUILTIN_KIND, new FeedActions({ service, store, records: opts.records, log }).run);
  await service.start();
  return service;
}
