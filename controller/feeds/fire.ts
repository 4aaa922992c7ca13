import { ConflictError, NotFoundError, TooManyRequestsError } from '../../common/errors.ts';
import type { StoredFeed } from '../../common/feed.ts';
import type { Identity } from '../../common/identity.ts';
import { type Logger, withLogContext } from '../../common/logger.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { newTransactionId } from '../../common/txid.ts';
import type { TriggerFirer } from '../triggers.ts';

/** `gone`: the trigger no longer exists and its feed was removed; `failed`: try again later. */
export type FireResult = 'fired' | 'gone' | 'failed';

export interface FeedFirerOptions {
  triggers: Pick<TriggerFirer, 'fire'>;
  /** The identity that acts for a namespace (Authenticator.ownerOf). */
  ownerOf(namespace: string): Promise<Identity | undefined>;
  store: Pick<EntityStore, 'getFeed' | 'deleteFeed'>;
  log: Logger;
}

/**
 * Fires a feed's trigger as the namespace's owner (a feed has no caller of its own), as
 * OpenWhisk's providers fire with the key they were given. A trigger that was deleted
 * without telling its feed takes the feed with it.
 */
export class FeedFirer {
  constructor(private readonly opts: FeedFirerOptions) {}

  fire(feed: StoredFeed, payload: Record<string, unknown>): Promise<FireResult> {
    const tid = newTransactionId();
    // a transaction of its own, as a request's: every line the firing logs carries it
    return withLogContext({ tid }, () => this.fireIn(feed, payload, tid));
  }

  private async fireIn(feed: StoredFeed, payload: Record<string, unknown>, tid: string): Promise<FireResult> {
    const log = this.opts.log.child({ trigger: `/${feed.namespace}/${feed.name}`, feed: feed.feed });
    try {
      const identity = await this.opts.ownerOf(feed.namespace);
      if (!identity) {
        log.warn('the namespace has no owner (or it is blocked): the feed does not fire');
        return 'failed';
      }
      const { activationId } = await this.opts.triggers.fire({ identity, trigger: { namespace: feed.namespace, name: feed.name }, payload, tid });
      log.debug({ activationId }, 'feed fired its trigger');
      return 'fired';
    } catch (e) {
      if (e instanceof NotFoundError) {
        log.info('the trigger is gone: removing its feed');
        await this.remove(feed);
        return 'gone';
      }
      if (e instanceof TooManyRequestsError) log.warn({ err: e }, 'feed fire throttled');
      else log.error({ err: e }, 'feed could not fire its trigger');
      return 'failed';
    }
  }

  /** Delete the feed as last read, unless someone changed or deleted it meanwhile. */
  private async remove(feed: StoredFeed): Promise<void> {
    try {
      const current = await this.opts.store.getFeed(feed.namespace, feed.name);
      if (current && current.created === feed.created) await this.opts.store.deleteFeed(feed.namespace, feed.name, current._rev);
    } catch (e) {
      if (!(e instanceof NotFoundError || e instanceof ConflictError)) this.opts.log.warn({ err: e }, 'could not remove the feed of a deleted trigger');
    }
  }
}
