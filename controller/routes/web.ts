import type Router from '@koa/router';
import { annotation } from '../../common/entities.ts';
import { BadRequestError, Messages, NotFoundError, SwirlError, UnauthorizedError } from '../../common/errors.ts';
import type { Identity } from '../../common/identity.ts';
import { SIZES } from '../../common/limits.ts';
import { isEntityName, type QualifiedName } from '../../common/names.ts';
import { BodyGate } from '../body-gate.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { readBody } from '../middleware.ts';
import type { ResolvedAction } from '../resolver.ts';
import { actionArguments } from '../web/request.ts';
import { decodeSegment, type Extension, project, splitExtension, transcode, type WebResponse, WebMessages } from '../web/response.ts';

export const ACTIVATION_ID_HEADER = 'x-openwhisk-activation-id';
/** A body without credentials must arrive within this long (at least ~35 KB/s for 1 MB), so a slow sender cannot keep a slot of the gate. */
const ANONYMOUS_BODY_DEADLINE_MS = 30_000;
const PREFIX = '/api/v1/web/';
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// OpenWhisk's CORS answer for web actions that do not handle OPTIONS themselves
const CORS: Array<[string, string]> = [
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Allow-Methods', 'OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH'],
];
const CORS_ALLOW_HEADERS = 'Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent';

export interface WebAddress {
  target: QualifiedName;
  ext: Extension;
  /** The rest of the path after the action and its extension (`__ow_path`, and the projection). */
  rest: string;
  /** `__ow_path` when it is not `rest` (a gateway route's path). */
  owPath?: string;
}

/**
 * `/api/v1/web/{ns}/{pkg|default}/{action}[.ext][/rest]`, or undefined when the path is
 * not one (OpenWhisk answers those with a 404 like a missing action).
 */
function parseAddress(path: string): WebAddress | undefined {
  const parts = path.slice(PREFIX.length).split('/');
  if (parts.length < 3) return undefined;
  const [ns, pkg, segment] = parts.slice(0, 3).map((p) => decodeSegment(p) ?? '') as [string, string, string];
  const [name, ext] = splitExtension(segment);
  if (!isEntityName(ns) || !isEntityName(pkg) || !isEntityName(name)) return undefined;
  const rest = parts.length > 3 ? `/${parts.slice(3).join('/')}` : '';
  return { target: { namespace: ns, ...(pkg === 'default' ? {} : { pkg }), name }, ext, rest };
}

/** The caller, when the request carries valid credentials; a web action needs none. */
async function caller(ctx: Ctx, services: Services): Promise<Identity | undefined> {
  const header = ctx.get('authorization');
  if (!header) return undefined;
  return services.auth.authenticate(header).catch((e: unknown) => {
    if (e instanceof UnauthorizedError) return undefined;
    throw e;
  });
}

/**
 * `require-whisk-auth`: `true` admits any authenticated caller; a string or a number is a
 * secret the `X-Require-Whisk-Auth` header must carry. Any other value admits no one.
 */
function admitted(ctx: Ctx, resolved: ResolvedAction, user: Identity | undefined): boolean {
  const required = annotation(resolved.action.annotations, 'require-whisk-auth');
  if (required === undefined || required === false) return true;
  if (required === true) return user !== undefined;
  if (typeof required === 'string' || typeof required === 'number') return ctx.get('x-require-whisk-auth') === String(required);
  return false;
}

/** The action's own and inherited parameters, which an action annotated `final` protects from the request. */
function immutableParams(resolved: ResolvedAction): Set<string> {
  if (annotation(resolved.action.annotations, 'final') !== true) return new Set();
  return new Set(Object.entries(resolved.params).filter(([, v]) => v !== null && v !== undefined).map(([k]) => k));
}

function applicationError(result: unknown): unknown {
  const error = (result as { error?: unknown } | undefined)?.error;
  if (error === undefined) throw new NotFoundError(WebMessages.propertyNotFound);
  return error;
}

function respond(ctx: Ctx, out: WebResponse): void {
  // the action's headers replace the server's (CORS ones included); repeated names add values
  const seen = new Set<string>();
  for (const [name, value] of out.headers) {
    if (seen.has(name.toLowerCase())) ctx.append(name, value);
    else ctx.set(name, value);
    seen.add(name.toLowerCase());
  }
  ctx.body = out.body;
  ctx.status = out.status;
  if (out.type) ctx.set('Content-Type', out.type);
  else ctx.remove('Content-Type');
}

/**
 * Web actions (OpenWhisk's docs/webactions.md): actions annotated `web-export` answer
 * HTTP requests without credentials, run as their namespace's owner, and turn their
 * result into the response the extension names. Registered on the unauthenticated router.
 */
export function webRoutes(router: Router<SwirlState>, services: Services): void {
  // bodies from anyone: how many are read at once is bounded, so is the memory they take
  const anonymous = new BodyGate(services.config.webBodyReads);
  const handle = async (ctx: Ctx) => {
    if (!METHODS.has(ctx.method)) throw new SwirlError(405, Messages.methodNotAllowed);
    const address = parseAddress(ctx.path);
    if (!address) throw new NotFoundError();
    await answerWebAction(ctx, services, anonymous, address);
  };
  router.all(`${PREFIX}{*rest}`, (ctx) => handle(ctx as Ctx));
}

/**
 * Answer a request with the web action at `address`, as `/api/v1/web/...` does: what an API
 * gateway route does too, with its path parameters (`extra`, over the request's) and the
 * route's path as `__ow_path`.
 */
export async function answerWebAction(ctx: Ctx, services: Services, anonymous: BodyGate, address: WebAddress, extra: Record<string, string> = {}): Promise<void> {
  const owner = await services.auth.ownerOf(address.target.namespace);
  if (!owner) throw new NotFoundError();
  const resolved = await services.resolver.action(owner.namespace, address.target).catch((e: unknown) => {
    throw e instanceof NotFoundError ? new NotFoundError() : e;
  });
  const { annotations } = resolved.action;
  if (annotation(annotations, 'web-export') !== true) throw new NotFoundError();

  const customOptions = annotation(annotations, 'web-custom-options') === true;
  if (!customOptions) {
    for (const [name, value] of CORS) ctx.set(name, value);
    ctx.set('Access-Control-Allow-Headers', ctx.get('access-control-request-headers') || CORS_ALLOW_HEADERS);
    if (ctx.method === 'OPTIONS') {
      ctx.status = 200;
      ctx.body = '';
      return;
    }
  }
  const user = await caller(ctx, services);
  // an action that answers OPTIONS itself is asked whatever its authentication
  if (!(customOptions && ctx.method === 'OPTIONS') && !admitted(ctx, resolved, user)) throw new UnauthorizedError();

  const rawQuery = ctx.querystring;
  const params = actionArguments(
    {
      method: ctx.method,
      headers: ctx.headers,
      path: address.owPath ?? address.rest,
      rawQuery,
      query: new URLSearchParams(rawQuery),
      contentType: ctx.request.type,
      body: await readBody(ctx, SIZES.payload, user ? {} : { gate: anonymous, deadlineMs: ANONYMOUS_BODY_DEADLINE_MS }),
      ...(user ? { user: user.namespace } : {}),
    },
    annotation(annotations, 'raw-http') === true,
    immutableParams(resolved),
  );
  Object.assign(params, extra);
  const out = await services.activator.invokeResolved({ identity: owner, target: address.target, params, blocking: true, waitMs: services.config.blockingTimeoutMs, tid: ctx.state.tid }, resolved);
  ctx.set(ACTIVATION_ID_HEADER, out.activationId);
  if (!out.record) throw new SwirlError(202, WebMessages.responseNotReady);
  const { statusCode, result } = out.record.response;
  // an application error answers with its `error` property, whatever the path asked for
  if (statusCode === 0) respond(ctx, transcode(project(result, address.ext, address.rest), address.ext));
  else if (statusCode === 1) respond(ctx, transcode(applicationError(result), address.ext));
  else throw new BadRequestError(WebMessages.errorProcessingRequest);
}
