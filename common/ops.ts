import type Router from '@koa/router';
import type { RequestState } from './http.ts';

/** Named checks of the services a process needs (store, bus, health store): each resolves true when it answers. */
export type ReadinessChecks = Record<string, () => Promise<boolean>>;

export interface Readiness {
  checks: ReadinessChecks;
  /** Why the process takes no work even when every service answers (stopping, disabled), or undefined. */
  notReady(): string | undefined;
}

export type CheckResult = 'ok' | 'unreachable';

/** Run every check at once, each bounded by `timeoutMs`; a check that throws or is late counts as unreachable. */
export async function runChecks(checks: ReadinessChecks, timeoutMs = 2_000): Promise<Record<string, CheckResult>> {
  const one = async (check: () => Promise<boolean>): Promise<CheckResult> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), timeoutMs)));
    try {
      return (await Promise.race([check(), late])) ? 'ok' : 'unreachable';
    } catch {
      return 'unreachable';
    } finally {
      clearTimeout(timer);
    }
  };
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((n) => one(checks[n]!)));
  return Object.fromEntries(names.map((n, i) => [n, results[i]!]));
}

/**
 * `GET /ping` (the process answers: `pong`, as OpenWhisk's) and `GET /ready` (200 when it
 * takes work and every service it needs answers; 503 in OpenWhisk's error shape otherwise,
 * with what each check found), without authentication, for load balancers and orchestrators.
 */
export function healthRoutes<S extends RequestState>(router: Router<S>, readiness: Readiness): void {
  router.get('/ping', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = 'pong';
  });
  router.get('/ready', async (ctx) => {
    const checks = await runChecks(readiness.checks);
    const down = Object.keys(checks).filter((n) => checks[n] !== 'ok');
    const why = readiness.notReady() ?? (down.length ? `Not ready: ${down.join(', ')} unreachable.` : undefined);
    ctx.set('Cache-Control', 'no-store');
    if (why) {
      ctx.status = 503;
      ctx.body = { error: why, code: ctx.state.tid, checks };
    } else ctx.body = { ready: true, checks };
  });
}
