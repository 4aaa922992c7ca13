import { TooManyRequestsError } from '../common/errors.ts';
import type { Identity, NamespaceLimits } from '../common/identity.ts';
import type { ThrottleStore } from '../common/throttle.ts';

export type ThrottleDefaults = Required<NamespaceLimits>;

/** OpenWhisk's wording (`Messages` in ErrorResponse.scala), so clients matching on it keep working. */
export const ThrottleMessages = {
  tooManyRequests: (count: number, allowed: number) => `Too many requests in the last minute (count: ${count}, allowed: ${allowed}).`,
  tooManyConcurrentRequests: (count: number, allowed: number) => `Too many concurrent requests in flight (count: ${count}, allowed: ${allowed}).`,
} as const;

type Caller = Pick<Identity, 'namespace' | 'limits'>;

/** The limit a rejection hit. */
export type ThrottleLimit = keyof NamespaceLimits;

const key = {
  invocations: (ns: string) => `invocations:${ns}`,
  concurrent: (ns: string) => `concurrent:${ns}`,
  fires: (ns: string) => `fires:${ns}`,
};

/**
 * The per-namespace throttles, checked as OpenWhisk's Entitlement does: for an invoke the
 * rate first (every attempt counts against the minute, rejected ones too, as in
 * OpenWhisk's RateThrottler), then concurrency (a slot per activation, held until
 * `finished` or until the activation's `expiresAt`, so a lost completion cannot keep a slot
 * forever). A rejection is a TooManyRequestsError (429) naming the limit; a request
 * rejected by either check holds no concurrency slot. Limits in the identity override the
 * defaults per namespace. One store round trip per check.
 */
export class Throttler {
  constructor(
    private readonly store: ThrottleStore,
    private readonly defaults: ThrottleDefaults,
    /** Told of each rejection (metrics). */
    private readonly onReject: (limit: ThrottleLimit) => void = () => undefined,
  ) {}

  /**
   * Admit one invocation of `activationId` (running until at most `expiresAt`, epoch ms), or
   * refuse it with a TooManyRequestsError. undefined: admitted at once (the store in memory
   * answers without a promise, and each promise costs on the invoke path while
   * AsyncLocalStorage carries the log context); else a promise of the admission. Never
   * throws: a refusal, or a store's failure, is a rejected promise.
   */
  admitInvoke(identity: Caller, activationId: string, expiresAt: number): Promise<void> | undefined {
    try {
      const counted = this.store.hit(key.invocations(identity.namespace));
      if (counted instanceof Promise) return counted.then((count) => this.admitConcurrent(identity, activationId, expiresAt, count));
      return this.admitConcurrent(identity, activationId, expiresAt, counted);
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /** The rest of admitInvoke once the minute's count is known: the rate, then a concurrency slot. */
  private admitConcurrent(identity: Caller, activationId: string, expiresAt: number, count: number): Promise<void> | undefined {
    const perMinute = this.limit(identity, 'invocationsPerMinute');
    if (count > perMinute) this.reject('invocationsPerMinute', ThrottleMessages.tooManyRequests(count, perMinute));
    const concurrent = this.limit(identity, 'concurrentInvocations');
    const acquired = this.store.acquire(key.concurrent(identity.namespace), activationId, concurrent, expiresAt);
    // OpenWhisk reports the activations already in flight (this one not counted)
    const taken = ({ taken, held }: { taken: boolean; held: number }) => {
      if (!taken) this.reject('concurrentInvocations', ThrottleMessages.tooManyConcurrentRequests(held, concurrent));
    };
    if (acquired instanceof Promise) return acquired.then(taken);
    taken(acquired);
    return undefined;
  }

  /** The activation ended (or will never run): free its concurrency slot. undefined: freed at once; never throws (a failure is a rejected promise). */
  finished(namespace: string, activationId: string): Promise<void> | undefined {
    try {
      const released = this.store.release(key.concurrent(namespace), activationId);
      return released instanceof Promise ? released : undefined;
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /** Admit one trigger fire or throw TooManyRequestsError. */
  async admitFire(identity: Caller): Promise<void> {
    const perMinute = this.limit(identity, 'firesPerMinute');
    const count = await this.store.hit(key.fires(identity.namespace));
    if (count > perMinute) this.reject('firesPerMinute', ThrottleMessages.tooManyRequests(count, perMinute));
  }

  private reject(limit: ThrottleLimit, message: string): never {
    this.onReject(limit);
    throw new TooManyRequestsError(message);
  }

  private limit(identity: Caller, name: keyof NamespaceLimits): number {
    return identity.limits?.[name] ?? this.defaults[name];
  }
}
