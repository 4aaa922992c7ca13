import { Cron } from 'croner';
import { FeedParamError, futureDate, positiveInteger, triggerPayload } from './params.ts';

/**
 * The three alarm feeds of `/whisk.system/alarms` as OpenWhisk's alarms package defines
 * them: their parameters (validated with its messages), what READ shows of them, and the
 * ticks they fire at. Dates are kept as epoch ms.
 */
export type AlarmFeed = 'alarm' | 'interval' | 'once';

export type AlarmConfig =
  | { kind: 'cron'; cron: string; timezone?: string; startDate?: number; stopDate?: number; payload: Record<string, unknown> }
  | { kind: 'interval'; minutes: number; startDate: number; stopDate?: number; payload: Record<string, unknown> }
  | { kind: 'once'; date: number; deleteAfterFire: DeleteAfterFire; payload: Record<string, unknown> };

/** What a `once` alarm removes after it fired: nothing, the trigger, or the trigger and its rules. */
export type DeleteAfterFire = 'false' | 'true' | 'rules';
const DELETE_AFTER_FIRE: readonly string[] = ['false', 'true', 'rules'];

/** Without a startDate an interval alarm starts 30 s after it was created (OpenWhisk's alarms do so). */
export const INTERVAL_START_DELAY_MS = 30_000;

const present = (params: Record<string, unknown>, name: string): boolean => params[name] !== undefined && params[name] !== null && params[name] !== '';

/** Parse a cron pattern of 5 fields, or 6 with seconds first, in a time zone. */
function cronOf(pattern: string, timezone: string | undefined): Cron {
  try {
    return new Cron(pattern, { paused: true, mode: '5-or-6-parts', ...(timezone ? { timezone } : {}) });
  } catch {
    throw new FeedParamError(`cron pattern '${pattern}' is not valid`);
  }
}

function timezoneOf(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  try {
    if (typeof value !== 'string') throw new RangeError();
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return value;
  } catch {
    throw new FeedParamError(`timezone parameter '${String(value)}' is not a valid time zone`);
  }
}

function deleteAfterFireOf(value: unknown, fallback: DeleteAfterFire): DeleteAfterFire {
  if (value === undefined || value === null || value === '') return fallback;
  const v = String(value).trim().toLowerCase();
  if (!DELETE_AFTER_FIRE.includes(v)) throw new FeedParamError('deleteAfterFire parameter must be one of [false, true, rules].');
  return v as DeleteAfterFire;
}

/**
 * The config of a new alarm (CREATE), or of an existing one with the parameters an UPDATE
 * gives (only those are checked: a start date in the past that was kept stays valid).
 */
export function alarmConfig(feed: AlarmFeed, params: Record<string, unknown>, now: number, current?: AlarmConfig): AlarmConfig {
  const payload = present(params, 'trigger_payload') || !current ? triggerPayload(params.trigger_payload) : current.payload;
  if (feed === 'once') {
    const old = current?.kind === 'once' ? current : undefined;
    const date = futureDate(params, 'date', now) ?? old?.date;
    if (date === undefined) throw new FeedParamError('alarms once trigger feed is missing the date parameter');
    return { kind: 'once', date, deleteAfterFire: deleteAfterFireOf(params.deleteAfterFire, old?.deleteAfterFire ?? 'false'), payload };
  }
  const old = current?.kind === 'cron' || current?.kind === 'interval' ? current : undefined;
  const startDate = futureDate(params, 'startDate', now) ?? old?.startDate;
  const start = startDate === undefined ? undefined : { name: 'startDate', at: startDate };
  const stopDate = futureDate(params, 'stopDate', now, start) ?? old?.stopDate;
  if (stopDate !== undefined && startDate !== undefined && stopDate <= startDate) {
    throw new FeedParamError(`startDate parameter '${new Date(startDate).toISOString()}' must be less than the stopDate parameter '${new Date(stopDate).toISOString()}'`);
  }
  const window = { ...(stopDate !== undefined ? { stopDate } : {}) };
  if (feed === 'interval') {
    const minutes = positiveInteger(params, 'minutes') ?? (old?.kind === 'interval' ? old.minutes : undefined);
    if (minutes === undefined) throw new FeedParamError('interval trigger feed is missing the minutes parameter');
    return { kind: 'interval', minutes, startDate: startDate ?? now + INTERVAL_START_DELAY_MS, ...window, payload };
  }
  const cron = present(params, 'cron') ? String(params.cron) : old?.kind === 'cron' ? old.cron : undefined;
  if (cron === undefined) throw new FeedParamError('alarms trigger feed is missing the cron parameter');
  const timezone = present(params, 'timezone') ? timezoneOf(params.timezone) : old?.kind === 'cron' ? old.timezone : undefined;
  const config: AlarmConfig = { kind: 'cron', cron, ...(timezone ? { timezone } : {}), ...(startDate !== undefined ? { startDate } : {}), ...window, payload };
  if (new AlarmSchedule(config).next(now) === undefined) {
    throw new FeedParamError(stopDate !== undefined ? 'the first scheduled trigger fire is not until after the stop date' : `cron pattern '${cron}' never fires`);
  }
  return config;
}

/** The parameters an UPDATE may change, per alarm kind. */
const UPDATABLE: Record<AlarmConfig['kind'], string[]> = {
  cron: ['cron', 'timezone', 'startDate', 'stopDate', 'trigger_payload'],
  interval: ['minutes', 'startDate', 'stopDate', 'trigger_payload'],
  once: ['date', 'deleteAfterFire', 'trigger_payload'],
};

export function updatedAlarmConfig(feed: AlarmFeed, current: AlarmConfig, params: Record<string, unknown>, now: number): AlarmConfig {
  if (!UPDATABLE[current.kind].some((p) => present(params, p))) throw new FeedParamError('no updatable parameters were specified');
  return alarmConfig(feed, params, now, current);
}

const iso = (at: number | undefined): string | undefined => (at === undefined ? undefined : new Date(at).toISOString());

/** The `config` READ shows (OpenWhisk's alarms: the schedule, its dates, the payload). */
export function describeAlarm(c: AlarmConfig): Record<string, unknown> {
  switch (c.kind) {
    case 'once':
      return { date: iso(c.date), deleteAfterFire: c.deleteAfterFire, payload: c.payload };
    case 'interval':
      return { minutes: c.minutes, startDate: iso(c.startDate), stopDate: iso(c.stopDate), payload: c.payload };
    case 'cron':
      return { cron: c.cron, timezone: c.timezone, startDate: iso(c.startDate), stopDate: iso(c.stopDate), payload: c.payload };
  }
}

/**
 * When an alarm fires: the same ticks on every controller (they depend on the config
 * only), so a tick can be leased by its time. Stop dates are exclusive.
 */
export class AlarmSchedule {
  private readonly cron: Cron | undefined;

  constructor(private readonly config: AlarmConfig) {
    this.cron = config.kind === 'cron' ? cronOf(config.cron, config.timezone) : undefined;
  }

  /** The first tick strictly after `after` (epoch ms), or undefined when there is none left. */
  next(after: number): number | undefined {
    const c = this.config;
    let at: number | undefined;
    switch (c.kind) {
      case 'once':
        return c.date > after ? c.date : undefined;
      case 'interval': {
        const period = c.minutes * 60_000;
        at = after < c.startDate ? c.startDate : c.startDate + (Math.floor((after - c.startDate) / period) + 1) * period;
        break;
      }
      case 'cron': {
        // a tick at the start date itself counts: look from just before it
        const from = c.startDate !== undefined && c.startDate > after ? c.startDate - 1 : after;
        at = this.cron!.nextRun(new Date(from))?.getTime();
        break;
      }
    }
    return at !== undefined && (c.stopDate === undefined || at < c.stopDate) ? at : undefined;
  }
}
