import Router from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import { parseBody } from '../common/entities.ts';
import { KINDS } from '../common/kinds.ts';
import { LIMITS } from '../common/limits.ts';
import type { Ctx, Services, SwirlState } from './context.ts';
import { apiGatewayRoutes } from './gateway/routes.ts';
import { hubCatalogRoutes } from './hub/routes.ts';
import { readJson, requestContext } from './middleware.ts';
import { openApiDocument } from './openapi.ts';
import { activationStreamRoutes } from './routes/activation-stream.ts';
import { activationRoutes } from './routes/activations.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { entityRoutes } from './routes/entities.ts';
import { hubPeerRoutes } from './hub/peer-routes.ts';
import { invokeRoutes } from './routes/invoke.ts';
import { invokerRoutes } from './routes/invokers.ts';
import { lambdaRoutes } from './lambda/routes.ts';
import { namespaceRoutes } from './routes/namespaces.ts';
import { opsRoutes } from './routes/ops.ts';
import { triggerRoutes } from './routes/triggers.ts';
import { webRoutes } from './routes/web.ts';

export const API_VERSION = '1.0.0';

const tokenRequest = z.object({ expiresIn: z.number().int().min(60).optional() });

/** The controller's HTTP API: OpenWhisk's `/api/v1` on Koa. */
export function createApp(services: Services, hold?: Koa.Middleware<SwirlState>): Koa<SwirlState> {
  const app = new Koa<SwirlState>();
  app.proxy = false;
  app.silent = true;
  app.use(requestContext(services.logger, services.metrics.answered));
  // (standalone: requests wait here until an invoker is up)
  if (hold) app.use(hold);

  // public: no authentication
  const open = new Router<SwirlState>();
  open.get('/', (ctx) => {
    ctx.body = {
      description: 'swirl: an OpenWhisk-compatible serverless platform',
      api_paths: ['/api/v1'],
      runtimes: Object.fromEntries(KINDS.filter((k) => k.image).map((k) => [k.family, [{ kind: k.kind, default: !!k.default }]])),
      limits: { min_action_memory: LIMITS.memory.min, max_action_memory: LIMITS.memory.max, min_action_duration: LIMITS.timeout.min, max_action_duration: LIMITS.timeout.max, min_action_logs: LIMITS.logs.min, max_action_logs: LIMITS.logs.max },
    };
  });
  open.get('/api/v1', (ctx) => {
    ctx.body = { api_paths: ['/api/v1'], description: 'swirl REST API', api_version: API_VERSION, api_version_path: 'v1', swagger_paths: { 'api-docs': '/api/v1/api-docs' } };
  });
  const doc = openApiDocument(API_VERSION);
  open.get('/api/v1/api-docs', (ctx) => {
    ctx.body = doc;
  });

  // everything else under /api/v1 needs a caller
  const api = new Router<SwirlState>({ prefix: '/api/v1', strict: true });
  api.use((ctx, next) => {
    const header = ctx.get('authorization') || undefined;
    // credentials verified lately: no promise of their own (the common case; see verifiedLately)
    const known = services.auth.verifiedLately(header);
    if (known) {
      ctx.state.identity = known;
      return next();
    }
    return services.auth.authenticate(header).then((identity) => {
      ctx.state.identity = identity;
      return next();
    });
  });
  api.post('/token', async (ctx) => {
    const req = parseBody(tokenRequest, (await readJson(ctx as Ctx)) ?? {});
    const viaKey = /^basic /i.test(ctx.get('authorization'));
    ctx.body = services.auth.issue(ctx.state.identity!, viaKey, req.expiresIn);
  });
  invokerRoutes(open, api, services);
  opsRoutes(open, api, services);
  dashboardRoutes(open, api, services);
  // API gateway: route management ahead of the web actions' route; its public routes last
  const gatewayRoutes = apiGatewayRoutes(open, services);
  // web actions answer without credentials: on the open router, ahead of the api router's authentication
  webRoutes(open, services);
  // the AWS Lambda-compatible endpoint: signed with SigV4, on the open router
  lambdaRoutes(open, api, services);
  hubCatalogRoutes(open, services);
  hubPeerRoutes(open, api, services);
  app.use(open.routes());
  namespaceRoutes(api, services);
  invokeRoutes(api, services);
  // (ahead of the activation routes: `stream` is no activation id)
  activationStreamRoutes(api, services);
  activationRoutes(api, services);
  triggerRoutes(api, services);
  entityRoutes(api, services);
  app.use(api.routes());
  // 405 (with Allow) for a known path with another method; the error body is added by requestContext
  app.use(api.allowedMethods());
  app.use(gatewayRoutes);
  return app;
}
