import type { Middleware } from 'koa';
import type { Logger } from '../common/logger.ts';
import type { HealthMonitor } from '../loadbalancer/health-monitor.ts';
import type { SwirlState } from './context.ts';

/** Paths answered while the controller is not open: orchestrators' probes. */
const PROBES = new Set(['/ping', '/ready']);
/** How often the health store is read while waiting for an invoker, and how often the wait is logged. */
const POLL_MS = 100;
const TELL_EVERY_MS = 10_000;

/** Whether the load balancer knows an invoker it can place work on. */
export const invokerUp = (health: Pick<HealthMonitor, 'states'>): boolean => health.states().some((s) => s.state === 'up');

/**
 * Held requests until the controller can place work. Standalone listens before its
 * invoker has started (the invoker needs the API's URL), so that nothing answers before an
 * invoke can succeed, every request but the probes waits here — held, not refused — until
 * an invoker is up in the load balancer; /ready says 503 meanwhile.
 */
export class Opening {
  private open = false;
  private release!: () => void;
  private readonly opened = new Promise<void>((ok) => (this.release = ok));

  constructor(private readonly health: Pick<HealthMonitor, 'states' | 'refresh'>) {}

  get isOpen(): boolean {
    return this.open;
  }

  /** Holds every request but the probes until open. */
  readonly hold: Middleware<SwirlState> = (ctx, next) => {
    // (once open, no promise of its own: each costs with AsyncLocalStorage on)
    if (!this.open && !PROBES.has(ctx.path)) return this.opened.then(next);
    return next();
  };

  /** Wait until an invoker is up (logged every 10 s meanwhile), then let requests through. */
  async openWhenInvokerUp(log: Logger): Promise<void> {
    const started = Date.now();
    let told = started;
    // read at once: an invoker started just before (standalone's) is up without a poll's wait
    while (!this.open) {
      await this.health.refresh();
      if (invokerUp(this.health)) break;
      await new Promise((ok) => setTimeout(ok, POLL_MS));
      if (Date.now() - told >= TELL_EVERY_MS) {
        told = Date.now();
        log.info({ waitedMs: told - started, invokers: this.health.states().map((s) => `invoker${s.id}: ${s.state}`) }, 'waiting for an invoker to be up before answering requests');
      }
    }
    this.openNow();
  }

  /** Let requests through now (shutdown: held requests are answered, not left hanging). */
  openNow(): void {
    this.open = true;
    this.release();
  }
}
