import type { Answered } from '../common/http.ts';
import type { InvokerState } from '../common/health.ts';
import { counter, gauge, histogram, type Registry } from '../common/metrics.ts';
import type { HealthMonitor } from '../loadbalancer/health-monitor.ts';
import type { ThrottleLimit } from '../loadbalancer/throttles.ts';

const STATES: InvokerState[] = ['up', 'unhealthy', 'unresponsive', 'offline', 'draining'];

/** The route label of a request no route matched (scans of random paths must not make series). */
const UNMATCHED = 'unmatched';

/**
 * A controller's metrics: HTTP requests by method, route (the pattern, never the path) and
 * status; throttle rejections by limit; the health of every invoker its load balancer knows.
 */
export class ControllerMetrics {
  private readonly requests;
  private readonly seconds;
  private readonly throttled;

  constructor(readonly registry: Registry) {
    this.requests = counter(registry, 'swirl_http_requests_total', 'HTTP requests answered, by method, route and status', ['method', 'route', 'status']);
    this.seconds = histogram(registry, 'swirl_http_request_duration_seconds', 'Time to answer HTTP requests, by method and route', ['method', 'route']);
    this.throttled = counter(registry, 'swirl_throttle_rejections_total', 'Requests refused with 429, by the limit they hit', ['limit']);
  }

  /** Count and time a request once answered (requestContext's hook: it knows the final status and the time taken). */
  readonly answered: Answered = (ctx, seconds) => {
    const route = ctx._matchedRoute;
    const labels = { method: ctx.method, route: typeof route === 'string' ? route : UNMATCHED };
    this.seconds.observe(labels, seconds);
    this.requests.inc({ ...labels, status: String(ctx.status) });
  };

  readonly rejected = (limit: ThrottleLimit): void => this.throttled.inc({ limit });

  /** Gauges of invoker health as this controller sees it, read when scraped. */
  watchHealth(health: Pick<HealthMonitor, 'states'>): void {
    gauge(this.registry, 'swirl_invoker_health', 'Health of each invoker as the load balancer sees it (1 for its current state)', ['invoker', 'state'], (g) => {
      g.reset();
      for (const { id, state } of health.states()) for (const s of STATES) g.set({ invoker: `invoker${id}`, state: s }, s === state ? 1 : 0);
    });
  }
}
