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

  /** Admit one invocation of `activationId` (running until at most `expiresAt`, epoch ms) or throw TooManyRequestsError. */
  async admitInvoke(identity: Caller, activationId: string, expiresAt: number): Promise<void> {
    const ns = identity.namespace;
    const perMinute = this.limit(identity, 'invocationsPerMinute');
    const count = await this.store.hit(key.invocations(ns));
    if (count > perMinute) this.reject('invocationsPerMinute', ThrottleMessages.tooManyRequests(count, perMinute));

    const concurrent = this.limit(identity, 'concurrentInvocations');
    const { taken, held } = await this.store.acquire(key.concurrent(ns), activationId, concurrent, expiresAt);
    // OpenWhisk reports the activations already in flight (this one not counted)
    if (!taken) this.reject('concurrentInvocations', ThrottleMessages.tooManyConcurrentRequests(held, concurrent));
  }

  /** The activation ended (or will never run): free its concurrency slot. */
  async finished(namespace: string, activationId: string): Promise<void> {
    await this.store.release(key.concurrent(namespace), activationId);
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
