import type Router from '@koa/router';
import type Koa from 'koa';
import { Messages, NotFoundError, SwirlError } from '../../common/errors.ts';
import type { StoredApi } from '../../common/api-doc.ts';
import { isEntityName } from '../../common/names.ts';
import { BodyGate } from '../body-gate.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { readJson } from '../middleware.ts';
import { answerWebAction } from '../routes/web.ts';
import { ApiManagement } from './management.ts';
import { decoded, matchPath, operations, responseTypeOf, type Swagger } from './swagger.ts';

const MANAGEMENT = '/api/v1/web/whisk.system/apimgmt/';

const one = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The API gateway: OpenWhisk's route management actions (`/api/v1/web/whisk.system/apimgmt/
 * {createApi,getApi,deleteApi}[.http|.json]`, authenticated by the caller's key), on the open
 * router ahead of the web actions' route; and the routes themselves (`/api/<namespace>
 * <basePath><relPath>`, public, each answered by its web action): the middleware returned,
 * to be used after the REST API's routers (a route there would count as a match of every
 * `/api/v1/...` path and turn its 405s into 404s).
 */
export function apiGatewayRoutes(router: Router<SwirlState>, services: Services): Koa.Middleware<SwirlState> {
  const management = new ApiManagement(services);
  // the API's public URL when configured, else where this request came in
  const origin = (ctx: Ctx): string => services.config.apiHost?.replace(/\/$/, '') ?? `${ctx.protocol}://${ctx.get('host')}`;
  const manage = async (ctx: Ctx) => {
    const op = (ctx.params.op ?? '').replace(/\.(http|json)$/, '');
    const caller = await services.auth.authenticate(ctx.get('authorization') || undefined);
    const q = ctx.query;
    if (op === 'createApi' && (ctx.method === 'POST' || ctx.method === 'PUT')) ctx.body = await management.create(caller, origin(ctx), await readJson(ctx), q.responsetype);
    else if (op === 'getApi' && ctx.method === 'GET') ctx.body = await management.get(caller, origin(ctx), one(q.basepath));
    else if (op === 'deleteApi' && ctx.method === 'DELETE') ctx.body = await management.delete(caller, one(q.basepath), one(q.relpath), one(q.operation));
    else if (['createApi', 'getApi', 'deleteApi'].includes(op)) throw new SwirlError(405, Messages.methodNotAllowed);
    else throw new NotFoundError();
  };
  router.all(`${MANAGEMENT}:op`, (ctx) => manage(ctx as Ctx));

  const anonymous = new BodyGate(services.config.webBodyReads);
  return async (ctx, next) => {
    // (`/api/v1/...` is the REST API's: a namespace named `v1` has no routes)
    if (!ctx.path.startsWith('/api/') || ctx.path.startsWith('/api/v1/') || ctx.path === '/api/v1') return next();
    await serve(ctx as Ctx, services, anonymous);
  };
}

/** The API of the namespace whose base path starts `path` (the longest), and the path relative to it. */
function apiFor(apis: StoredApi[], path: string): { api: Swagger; relPath: string } | undefined {
  const found = apis
    .filter((a) => a.basePath === '/' || path === a.basePath || path.startsWith(`${a.basePath}/`))
    .sort((a, b) => b.basePath.length - a.basePath.length)[0];
  if (!found) return undefined;
  const relPath = found.basePath === '/' ? path : path.slice(found.basePath.length);
  return { api: found.swagger as Swagger, relPath: relPath || '/' };
}

/** A route's request: 404 for no route at the path, 405 (with Allow) for another verb's, else its web action's answer. */
async function serve(ctx: Ctx, services: Services, anonymous: BodyGate): Promise<void> {
  // (from the path as sent: a parameter may hold an encoded `/`)
  const [, , rawTenant = '', ...rest] = ctx.path.split('/');
  if (rest.length === 0) throw new NotFoundError();
  const tenant = decoded(rawTenant);
  if (!tenant || !isEntityName(tenant)) throw new NotFoundError();
  const path = `/${rest.join('/')}`.replace(/(.)\/$/, '$1');
  const found = apiFor(await services.store.listApis(tenant), path);
  // literal paths before templates: /items/new before /items/{id}
  const routes = (found ? operations(found.api) : [])
    .map((r) => ({ ...r, params: matchPath(r.relPath, found!.relPath) }))
    .filter((r) => r.params)
    .sort((a, b) => Object.keys(a.params!).length - Object.keys(b.params!).length);
  if (routes.length === 0) throw new NotFoundError();
  const verb = ctx.method.toLowerCase();
  // HEAD is GET's without its body; a preflight (OPTIONS) is answered as the web action answers it (CORS)
  const route = routes.find((r) => r.verb === verb) ?? (verb === 'head' ? routes.find((r) => r.verb === 'get') : verb === 'options' ? routes[0] : undefined);
  if (!route) {
    const e = new SwirlError(405, Messages.methodNotAllowed);
    e.headers = { Allow: [...new Set(routes.map((r) => r.verb.toUpperCase()))].join(', ') };
    throw e;
  }
  const x = route.op['x-openwhisk'];
  const target = { namespace: x.namespace, ...(x.package && x.package !== 'default' ? { pkg: x.package } : {}), name: x.action };
  await answerWebAction(ctx, services, anonymous, { target, ext: `.${responseTypeOf(route.op)}`, rest: '', owPath: found!.relPath }, route.params!);
}
