import Router from '@koa/router';
import Koa from 'koa';
import type { Config } from '../common/config.ts';
import { sameSecret } from '../common/credentials.ts';
import { SwirlError, UnauthorizedError } from '../common/errors.ts';
import { listen, requestContext, type RequestState } from '../common/http.ts';
import type { Logger } from '../common/logger.ts';
import { metricsRoute, type Registry } from '../common/metrics.ts';
import { healthRoutes, type ReadinessChecks } from '../common/ops.ts';
import type { InvokerService } from './service.ts';

export interface InvokerOps {
  /** Where controllers reach these endpoints (what the heartbeats carry). */
  url: string;
  /** Serve the service's drain and state from now on (until then, /ready and the POSTs answer 503). */
  attach(service: InvokerService): void;
  close(): Promise<void>;
}

/** The state of the service as the endpoints report it. */
const view = (service: InvokerService) => ({ state: service.state, inFlight: service.inFlight });

/**
 * The invoker's operations endpoints: `GET /ping`, `GET /ready` (store, bus and health store
 * reachable, and taking work), `POST /disable` (drain: 202 while activations in flight
 * finish, 200 once drained and offline; the invoker keeps running) and `POST /enable`.
 * and `GET /metrics` (Prometheus). With `opsToken` set, the POSTs and /metrics need
 * `Authorization: Bearer <token>`.
 */
export async function startInvokerOps(config: Pick<Config, 'host' | 'invokerPort' | 'invokerUrl' | 'opsToken'>, checks: ReadinessChecks, log: Logger, registry?: Registry): Promise<InvokerOps> {
  let service: InvokerService | undefined;
  const attached = (): InvokerService => {
    if (!service) throw new SwirlError(503, 'The invoker is starting.');
    return service;
  };
  const app = new Koa<RequestState>();
  app.silent = true;
  app.use(requestContext(log));
  const router = new Router<RequestState>();
  healthRoutes(router, {
    checks,
    notReady: () => {
      const state = service?.state ?? 'starting';
      return state === 'up' ? undefined : `The invoker is ${state}.`;
    },
  });
  const mayOperate = (authorization: string) => {
    if (config.opsToken && !sameSecret(authorization, `Bearer ${config.opsToken}`)) throw new UnauthorizedError();
  };
  const operator = async (ctx: Koa.ParameterizedContext<RequestState>, next: Koa.Next) => {
    mayOperate(ctx.get('authorization'));
    await next();
  };
  if (registry) metricsRoute(router, registry, mayOperate);
  router.post('/disable', operator, (ctx) => {
    const s = attached();
    const drained = s.disable();
    drained.catch((e: Error) => ctx.state.log.error({ err: e }, 'drain failed'));
    ctx.status = s.state === 'disabled' ? 200 : 202;
    ctx.body = view(s);
  });
  router.post('/enable', operator, async (ctx) => {
    const s = attached();
    try {
      await s.enable();
    } catch (e) {
      throw new SwirlError(409, `The invoker cannot be enabled: ${(e as Error).message}.`);
    }
    ctx.body = view(s);
  });
  router.get('/state', (ctx) => {
    ctx.body = view(attached());
  });
  app.use(router.routes());
  app.use(router.allowedMethods());

  const { server, url } = await listen(app, config.invokerPort, config.host, log);
  return {
    url: config.invokerUrl?.replace(/\/$/, '') ?? url,
    attach: (s) => (service = s),
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
