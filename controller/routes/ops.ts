import type Router from '@koa/router';
import { BadRequestError, ForbiddenError, Messages, NotFoundError, ServiceUnavailableError, SwirlError } from '../../common/errors.ts';
import { sameSecret } from '../../common/credentials.ts';
import { MAX_JSON_DEPTH, parseJson } from '../../common/json.ts';
import { metricsRoute } from '../../common/metrics.ts';
import { SIZES } from '../../common/limits.ts';
import { healthRoutes } from '../../common/ops.ts';
import type { Services, SwirlState } from '../context.ts';

/** How long the controller waits for an invoker's operations endpoint. */
const INVOKER_OPS_TIMEOUT_MS = 30_000;

/**
 * Operations. `GET /ping` and `GET /ready` without authentication (load balancers,
 * orchestrators). `POST /api/v1/invokers/{id}/disable|enable` (operators only): drain an
 * invoker or take it back, relayed over HTTP to the operations endpoints the invoker
 * advertises in its heartbeats, with the operations token when one is configured. The
 * invoker's answer (its state and what it has in flight) is passed on. `GET /metrics`
 * (Prometheus): for operators, with the operations token (Bearer) or an admin's credentials.
 */
export function opsRoutes(open: Router<SwirlState>, api: Router<SwirlState>, { health, readiness, config, auth, metrics }: Services): void {
  healthRoutes(open, readiness);
  metricsRoute(open, metrics.registry, async (authorization) => {
    if (config.opsToken && sameSecret(authorization, `Bearer ${config.opsToken}`)) return;
    const identity = await auth.authenticate(authorization || undefined);
    if (!identity.admin) throw new ForbiddenError(Messages.notAuthorized);
  });
  for (const op of ['disable', 'enable'] as const) {
    api.post(`/invokers/:id/${op}`, async (ctx) => {
      if (!ctx.state.identity!.admin) throw new ForbiddenError(Messages.notAuthorized);
      const id = ctx.params.id!;
      if (!/^\d{1,4}$/.test(id)) throw new BadRequestError(`The invoker id '${id}' is not a number from 0 to 9999.`);
      const known = health.states().find((s) => s.id === Number(id));
      if (!known) throw new NotFoundError(`The invoker ${id} is not known.`);
      const url = known.heartbeat.url;
      if (!url) throw new SwirlError(409, `The invoker ${id} does not advertise operations endpoints.`);
      let res: Response;
      try {
        res = await fetch(`${url}/${op}`, {
          method: 'POST',
          headers: { 'x-request-id': ctx.state.tid, ...(config.opsToken ? { authorization: `Bearer ${config.opsToken}` } : {}) },
          signal: AbortSignal.timeout(INVOKER_OPS_TIMEOUT_MS),
        });
      } catch (e) {
        ctx.state.log.warn({ invoker: id, url, err: e }, `could not reach the invoker to ${op} it`);
        throw new ServiceUnavailableError(`The invoker ${id} cannot be reached at ${url}.`);
      }
      // the invoker's answer, as any JSON from another process: within the bounds, or none
      const body = (await res.text().then((t) => parseJson(t, { maxDepth: MAX_JSON_DEPTH, maxBytes: SIZES.payload })).catch(() => undefined)) as Record<string, unknown> | undefined;
      if (!res.ok) throw new SwirlError(res.status === 401 ? 502 : res.status, typeof body?.error === 'string' ? `invoker ${id}: ${body.error}` : `The invoker ${id} answered ${res.status}.`);
      ctx.status = res.status;
      ctx.body = { invoker: Number(id), ...body };
    });
  }
}
