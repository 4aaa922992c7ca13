import { ConflictError, NotFoundError } from '../../common/errors.ts';
import { feedId, type StoredFeed } from '../../common/feed.ts';
import type { LeaseStore } from '../../common/lease.ts';
import type { Logger } from '../../common/logger.ts';
import type { QualifiedName } from '../../common/names.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { type AlarmConfig, type AlarmFeed, alarmConfig, AlarmSchedule, describeAlarm, updatedAlarmConfig } from './alarm-config.ts';
import type { FeedFirer } from './fire.ts';
import { type FeedProvider, feedVersion, reconcile } from './provider.ts';

/** A tick's lease outlives any delay between controllers' timers for that tick. */
const TICK_LEASE_MS = 5 * 60_000;
/** Timers wait at most this long, then look again (setTimeout cannot wait for months). */
const MAX_TIMER_MS = 60 * 60_000;
/** An alarm whose last tick is this long past is over even if no controller fired that tick. */
const FINISH_GRACE_MS = 60_000;
/** Ticks missed by more than this (a blocked event loop) are skipped, not fired in a burst. */
const MAX_LATENESS_MS = 1_000;

export const FIRED_ONCE = 'Automatically disabled after firing once';
export const PAST_STOP_DATE = 'Automatically disabled after reaching the stopDate';

interface Armed {
  feed: StoredFeed;
  schedule: AlarmSchedule;
  /** Identifies the schedule (creation and config): ticks of different schedules never share a lease. */
  version: string;
  timer?: ReturnType<typeof setTimeout>;
}

export interface AlarmsOptions {
  store: Pick<EntityStore, 'getFeed' | 'putFeed' | 'deleteFeed' | 'get' | 'delete'>;
  leases: LeaseStore;
  firer: Pick<FeedFirer, 'fire'>;
  /** This controller, as the holder of the leases it takes. */
  owner: string;
  log: Logger;
}

/**
 * `/whisk.system/alarms`: every controller arms a timer for the next tick of every active
 * alarm; when it goes off, the controllers race for the lease `(alarm, schedule, tick)` and
 * only the winner fires, after reading the alarm again (a pause or delete on another
 * controller counts at once). Ticks missed while no controller ran are not fired later.
 */
export class Alarms implements FeedProvider {
  readonly name = 'alarms';
  private readonly armed = new Map<string, Armed>();
  private closed = false;

  constructor(private readonly opts: AlarmsOptions) {}

  async create(feed: string, _trigger: QualifiedName, params: Record<string, unknown>, now: number): Promise<Record<string, unknown>> {
    return alarmConfig(feed as AlarmFeed, params, now);
  }

  async update(feed: string, current: Record<string, unknown>, params: Record<string, unknown>, now: number): Promise<Record<string, unknown>> {
    return updatedAlarmConfig(feed as AlarmFeed, current as AlarmConfig, params, now);
  }

  describe(config: Record<string, unknown>): Record<string, unknown> {
    return describeAlarm(config as AlarmConfig);
  }

  async sync(feeds: StoredFeed[]): Promise<void> {
    if (this.closed) return;
    await reconcile(this.armed, feeds, {
      keep: (entry, feed) => {
        entry.feed = feed;
        if (!entry.timer) this.arm(entry, Date.now()); // over: see whether it can be closed now
      },
      start: (id, feed, version) => {
        let schedule: AlarmSchedule;
        try {
          schedule = new AlarmSchedule(feed.config as AlarmConfig);
        } catch (e) {
          this.opts.log.warn({ trigger: id, err: e }, 'an alarm in the store cannot be scheduled');
          return;
        }
        const entry: Armed = { feed, schedule, version };
        this.armed.set(id, entry);
        this.arm(entry, Date.now());
      },
      stop: (id) => this.disarm(id),
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.armed.keys()]) this.disarm(id);
  }

  /** Set the timer for the first tick after `after`. */
  private arm(entry: Armed, after: number): void {
    const from = Math.max(after, Date.now() - MAX_LATENESS_MS);
    const next = entry.schedule.next(from);
    entry.timer = undefined;
    if (next === undefined) {
      void this.finishIfOver(entry);
      return;
    }
    const wait = Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS);
    entry.timer = setTimeout(() => {
      if (this.closed || this.armed.get(feedId(entry.feed)) !== entry) return;
      if (Date.now() + 1 < next) return this.arm(entry, after); // a long wait cut short: keep waiting
      this.arm(entry, next);
      void this.tick(entry, next);
    }, wait);
  }

  private disarm(id: string): void {
    const entry = this.armed.get(id);
    if (entry?.timer) clearTimeout(entry.timer);
    this.armed.delete(id);
  }

  /** One tick: fire when this controller wins its lease and the alarm is still as armed. */
  private async tick(entry: Armed, at: number): Promise<void> {
    const id = feedId(entry.feed);
    const log = this.opts.log.child({ trigger: id, tick: at });
    try {
      if (!(await this.opts.leases.take(`alarm:${id}:${entry.version}:${at}`, this.opts.owner, TICK_LEASE_MS))) return;
      const current = await this.opts.store.getFeed(entry.feed.namespace, entry.feed.name);
      // deleted, paused or changed on another controller since this one armed it
      if (!current || !current.active || feedVersion(current) !== entry.version) return;
      const result = await this.opts.firer.fire(current, (current.config as AlarmConfig).payload);
      if (result === 'gone') return this.disarm(id);
      if (entry.schedule.next(at) === undefined) await this.finish(current);
    } catch (e) {
      // the lease store or the store is down: the tick is lost rather than fired twice
      log.warn({ err: e }, 'alarm tick not fired');
    }
  }

  /**
   * An alarm without ticks left, seen at arm time. When its last tick is recent, the
   * controller that fired it closes it; otherwise (missed while no controller ran) the
   * first controller to lease its end does.
   */
  private async finishIfOver(entry: Armed): Promise<void> {
    if (entry.schedule.next(Date.now() - FINISH_GRACE_MS) !== undefined) return;
    const id = feedId(entry.feed);
    try {
      if (!(await this.opts.leases.take(`alarm:${id}:${entry.version}:end`, this.opts.owner, TICK_LEASE_MS))) return;
      const current = await this.opts.store.getFeed(entry.feed.namespace, entry.feed.name);
      if (current?.active && feedVersion(current) === entry.version) await this.finish(current);
    } catch (e) {
      this.opts.log.warn({ trigger: id, err: e }, 'could not close an alarm that is over');
    }
  }

  /**
   * An alarm that will not fire again: a `once` alarm removes its trigger (and rules) when
   * asked to, otherwise it stays, disabled with the reason (READ shows it).
   */
  private async finish(feed: StoredFeed): Promise<void> {
    const config = feed.config as AlarmConfig;
    this.disarm(feedId(feed));
    try {
      if (config.kind === 'once' && config.deleteAfterFire !== 'false') {
        await this.removeTrigger(feed, config.deleteAfterFire === 'rules');
        await this.opts.store.deleteFeed(feed.namespace, feed.name, feed._rev);
        return;
      }
      await this.opts.store.putFeed({ ...feed, active: false, dateChanged: Date.now(), reason: config.kind === 'once' ? FIRED_ONCE : PAST_STOP_DATE }, feed._rev);
    } catch (e) {
      // another controller closed it, or the user changed it meanwhile
      if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
    }
  }

  /** deleteAfterFire: the trigger, and with `rules` the rules it lists too. */
  private async removeTrigger(feed: StoredFeed, withRules: boolean): Promise<void> {
    const gone = (e: unknown) => {
      if (!(e instanceof NotFoundError)) throw e;
    };
    const trigger = await this.opts.store.get('trigger', feed.namespace, feed.name).catch(gone);
    if (!trigger) return;
    if (withRules) {
      for (const key of Object.keys(trigger.rules ?? {})) {
        const slash = key.indexOf('/');
        const [path, name] = [key.slice(0, slash), key.slice(slash + 1)];
        const rule = await this.opts.store.get('rule', path, name).catch(gone);
        if (rule) await this.opts.store.delete(path, name, rule._rev).catch(gone);
      }
    }
    await this.opts.store.delete(feed.namespace, feed.name, trigger._rev).catch(gone);
  }
}
