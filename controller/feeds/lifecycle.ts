import { ActivationStatus, type ActivationResponse } from '../../common/activation.ts';
import { ConflictError, Messages, NotFoundError, SwirlError } from '../../common/errors.ts';
import type { FeedDoc, StoredFeed } from '../../common/feed.ts';
import type { Identity } from '../../common/identity.ts';
import type { Logger } from '../../common/logger.ts';
import { parseQualifiedName, type QualifiedName, qualifiedString } from '../../common/names.ts';
import type { RecordWriter } from '../../common/record-writer.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import type { LocalKind } from '../activator.ts';
import { localRecord } from '../records.ts';
import { FeedParamError } from './params.ts';
import type { FeedProvider } from './provider.ts';
import type { FeedService } from './service.ts';

/** The kind of the feed actions the controller runs itself; `exec.main` names the feed. */
export const BUILTIN_KIND = 'builtin';

export const LIFECYCLE_EVENTS = ['CREATE', 'READ', 'UPDATE', 'DELETE', 'PAUSE', 'UNPAUSE'] as const;
type LifecycleEvent = (typeof LIFECYCLE_EVENTS)[number];

/** `exec.main` of each built-in feed action → its provider and the feed's name there. */
export const BUILTIN_FEEDS: Record<string, { provider: string; feed: string }> = {
  'alarms/alarm': { provider: 'alarms', feed: 'alarm' },
  'alarms/interval': { provider: 'alarms', feed: 'interval' },
  'alarms/once': { provider: 'alarms', feed: 'once' },
  'messaging/kafkaFeed': { provider: 'kafka', feed: 'kafkaFeed' },
};

export interface FeedActionsOptions {
  service: FeedService;
  store: Pick<EntityStore, 'get' | 'getFeed' | 'putFeed' | 'deleteFeed'>;
  records: Pick<RecordWriter, 'write'>;
  log: Logger;
}

const success = (result: unknown): ActivationResponse => ({ ...ActivationStatus.success, success: true, result });
const failure = (kind: 'applicationError' | 'internalError', error: string): ActivationResponse => ({ ...ActivationStatus[kind], success: false, result: { error } });

/** The trigger a lifecycle call is about: `triggerName` (`/ns/name`, `/_/name`, `name`), in the caller's namespace. */
function triggerOf(params: Record<string, unknown>, identity: Identity): QualifiedName {
  if (typeof params.triggerName !== 'string' || params.triggerName === '') throw new FeedParamError('no trigger name parameter was provided');
  let q: QualifiedName;
  try {
    q = parseQualifiedName(params.triggerName, identity.namespace);
  } catch (e) {
    throw new FeedParamError(`the trigger name '${params.triggerName}' is not valid: ${(e as Error).message}`);
  }
  // a feed acts for the trigger's owner: the caller must be that owner (OpenWhisk checks the authKey against the trigger)
  if (q.pkg || q.namespace !== identity.namespace) throw new FeedParamError(Messages.notAuthorizedFor(qualifiedString(q).slice(1)));
  return q;
}

function eventOf(params: Record<string, unknown>): LifecycleEvent {
  const event = typeof params.lifecycleEvent === 'string' ? params.lifecycleEvent.toUpperCase() : undefined;
  if (!event) throw new FeedParamError(`this is a feed action: it needs a lifecycleEvent parameter, one of ${LIFECYCLE_EVENTS.join(', ')}`);
  if (!(LIFECYCLE_EVENTS as readonly string[]).includes(event)) throw new FeedParamError(`unsupported lifecycleEvent '${params.lifecycleEvent}': expected one of ${LIFECYCLE_EVENTS.join(', ')}`);
  return event as LifecycleEvent;
}

/**
 * The built-in feed actions (`/whisk.system/alarms/*`, `/whisk.system/messaging/kafkaFeed`)
 * as a kind the controller runs: each call applies one lifecycle event to the trigger's
 * feed document and lets this controller's provider pick the change up before answering.
 * The outcome is an activation like any action's: bad parameters are an application error.
 */
export class FeedActions {
  private readonly providers: Map<string, FeedProvider>;

  constructor(private readonly opts: FeedActionsOptions) {
    this.providers = new Map(opts.service.providers.map((p) => [p.name, p]));
  }

  readonly run: LocalKind = async (req, resolved, params, activationId) => {
    const start = Date.now();
    const { action, path } = resolved;
    let response: ActivationResponse;
    try {
      response = success(await this.apply(action.exec.main ?? '', params, req.identity));
    } catch (e) {
      if (e instanceof FeedParamError || (e instanceof SwirlError && e.status < 500)) response = failure('applicationError', e.message);
      else {
        this.opts.log.error({ tid: req.tid, activationId, err: e }, 'feed action failed');
        response = failure('internalError', Messages.internal);
      }
    }
    const record = localRecord({
      activationId,
      identity: req.identity,
      name: action.name,
      version: action.version,
      path: `${path}/${action.name}`,
      kind: action.exec.kind,
      start,
      logs: [],
      response,
      ...(req.cause ? { cause: req.cause } : {}),
      ...(resolved.binding ? { annotations: [{ key: 'binding', value: resolved.binding }] } : {}),
    });
    await this.opts.records.write(record).catch((e: Error) => this.opts.log.error({ tid: req.tid, activationId, err: e }, 'could not store a feed activation record'));
    return req.blocking ? { activationId, record } : { activationId };
  };

  private async apply(main: string, params: Record<string, unknown>, identity: Identity): Promise<unknown> {
    const builtin = BUILTIN_FEEDS[main];
    const provider = builtin && this.providers.get(builtin.provider);
    if (!builtin || !provider) throw new Error(`no built-in feed '${main}'`);
    const event = eventOf(params);
    const trigger = triggerOf(params, identity);
    const store = this.opts.store;
    // a DELETE may come after the trigger is gone: it only cleans up
    if (event !== 'DELETE') await store.get('trigger', trigger.namespace, trigger.name).catch((e: unknown) => {
      throw e instanceof NotFoundError ? new FeedParamError(`the trigger '${qualifiedString(trigger)}' does not exist`) : e;
    });
    const existing = await store.getFeed(trigger.namespace, trigger.name);
    const mine = existing?.feed === main ? existing : undefined;
    const now = Date.now();
    const write = async (doc: FeedDoc, rev: string | undefined) => {
      try {
        await store.putFeed(doc, rev);
      } catch (e) {
        throw e instanceof ConflictError ? new FeedParamError(`the feed of '${qualifiedString(trigger)}' was changed at the same time: try again`) : e;
      }
    };
    switch (event) {
      case 'CREATE': {
        const config = await provider.create(builtin.feed, trigger, params, now);
        // a trigger has one feed: creating it again (a trigger re-created by name) replaces the old one
        await write({ namespace: trigger.namespace, name: trigger.name, provider: provider.name, feed: main, config, active: true, dateChanged: now, created: now }, existing?._rev);
        break;
      }
      case 'READ':
        return this.describe(provider, this.required(mine, trigger, main));
      case 'UPDATE': {
        const feed = this.required(mine, trigger, main);
        await write({ ...feed, config: await provider.update(builtin.feed, feed.config, params, now) }, feed._rev);
        break;
      }
      case 'PAUSE':
      case 'UNPAUSE': {
        const feed = this.required(mine, trigger, main);
        const { reason: _r, _rev, ...rest } = feed;
        await write({ ...rest, active: event === 'UNPAUSE', dateChanged: now }, _rev);
        break;
      }
      case 'DELETE':
        // deleting a feed that is not there is done already (the CLI deletes the trigger whatever the feed says)
        if (mine) await store.deleteFeed(trigger.namespace, trigger.name, mine._rev).catch((e: unknown) => {
          if (!(e instanceof NotFoundError)) throw e;
        });
        break;
    }
    await this.opts.service.reload(provider);
    return { status: 'success' };
  }

  private required(feed: StoredFeed | undefined, trigger: QualifiedName, main: string): StoredFeed {
    if (!feed) throw new FeedParamError(`the trigger '${qualifiedString(trigger)}' has no /whisk.system/${main} feed`);
    return feed;
  }

  /** READ: OpenWhisk's alarms answer `{config, status}`. */
  private describe(provider: FeedProvider, feed: StoredFeed): unknown {
    return {
      config: { name: feed.name, namespace: feed.namespace, ...provider.describe(feed.config) },
      status: { active: feed.active, dateChanged: feed.dateChanged, dateChangedISO: new Date(feed.dateChanged).toISOString(), ...(feed.reason ? { reason: feed.reason } : {}) },
    };
  }
}
