import type Router from '@koa/router';
import type Koa from 'koa';
import { SIZES } from '../../common/limits.ts';
import { ForbiddenError, SwirlError } from '../../common/errors.ts';
import { parseRequestJson } from '../../common/json.ts';
import { BodyGate } from '../body-gate.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { readBody } from '../middleware.ts';
import { invalidParameter, invalidSignature, LambdaError } from './errors.ts';
import { type Caller, configuration, createFunction, deleteFunction, functionName, getFunction, listFunctions, updateFunctionCode } from './functions.ts';
import { invokeFunction } from './invoke.ts';
import { parseAuthorization, type SignedCall, unrecognizedClient, verifySignature } from './sigv4.ts';

type Handler = (ctx: Ctx, call: SignedCall) => Promise<void>;

/**
 * How a body is read before its signature is checked (the signature covers it, so it is read
 * first, from anyone who names a known key id): the reads at once bounded per size, and each
 * within a deadline, as web actions bound bodies without credentials.
 */
interface BodyRead {
  limit: number;
  gate: BodyGate;
  deadlineMs: number;
}

/** The Lambda error type of a swirl error that escapes an operation (throttles, bounds, the store). */
const TYPES: Record<number, string> = { 400: 'InvalidParameterValueException', 403: 'AccessDeniedException', 404: 'ResourceNotFoundException', 409: 'ResourceConflictException', 413: 'RequestTooLargeException', 429: 'TooManyRequestsException', 503: 'ServiceException' };

function lambdaError(e: unknown): LambdaError | undefined {
  if (e instanceof LambdaError) return e;
  if (e instanceof SwirlError && TYPES[e.status]) return new LambdaError(e.status, TYPES[e.status]!, e.message);
  return undefined;
}

/**
 * An operation behind SigV4: the caller proves the secret of the access key id (its
 * namespace's uuid) by signing the request; refusals and errors answer in Lambda's shape
 * (`{"Type": "User", "message"}` and `x-amzn-ErrorType`), unknown failures are logged and
 * answered as a ServiceException without their details.
 */
function signed(services: Services, read: BodyRead, handler: Handler) {
  return async (ctx: Ctx) => {
    // (what the AWS SDKs report as an error's request id; Invoke gives the activation id instead)
    ctx.set('x-amzn-RequestId', ctx.state.tid);
    try {
      const auth = parseAuthorization(ctx.get('authorization') || undefined);
      if (auth.service !== 'lambda') throw invalidSignature(`Credential should be scoped to correct service: 'lambda'.`);
      // before the body is read: a stranger's body costs nothing
      const found = await services.auth.signingSecret(auth.accessKeyId);
      if (!found) throw unrecognizedClient();
      const body = await readBody(ctx, read.limit, { gate: read.gate, deadlineMs: read.deadlineMs });
      const [rawPath, rawQuery = ''] = ctx.originalUrl.split('?', 2) as [string, string?];
      await verifySignature({ method: ctx.method, host: ctx.get('host'), rawPath, rawQuery, headers: ctx.req.headers, body }, auth, found.secret);
      ctx.state.identity = found.identity;
      await handler(ctx, { identity: found.identity, region: auth.region, body });
    } catch (e) {
      const err = lambdaError(e);
      if (!err) ctx.state.log.error({ err: e }, 'lambda request failed');
      const { status, type, message } = err ?? new LambdaError(500, 'ServiceException', 'An internal error occurred. The X-Request-ID identifies it in the server logs.');
      ctx.status = status;
      ctx.set('x-amzn-ErrorType', type);
      ctx.body = { Type: status >= 500 ? 'Service' : 'User', message };
    }
  };
}

function jsonBody(call: SignedCall): unknown {
  if (call.body.length === 0) return {};
  try {
    return parseRequestJson(call.body);
  } catch (e) {
    throw invalidParameter(`Could not parse request body into json: ${(e as Error).message}`);
  }
}

const caller = (call: SignedCall): Caller => ({ namespace: call.identity.namespace, region: call.region });
const queryOf = (ctx: Ctx): Record<string, string> => Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0]! : v!]));

/**
 * An AWS Lambda-compatible endpoint on the controller's port (API version 2015-03-31):
 * Invoke and the function API (CreateFunction, GetFunction, GetFunctionConfiguration,
 * ListFunctions, UpdateFunctionCode, DeleteFunction) over actions of the signer's namespace,
 * and `GET /api/v1/lambda/credentials`, where a caller with its key learns the secret access
 * key to sign with.
 */
export function lambdaRoutes(open: Router<SwirlState>, api: Router<SwirlState>, services: Services): void {
  const { store } = services;
  api.get('/lambda/credentials', async (ctx) => {
    // as for tokens: only a caller that proved its key gets a secret that outlives a token
    if (!/^basic /i.test(ctx.get('authorization'))) throw new ForbiddenError('Lambda credentials are only given to a caller authenticated with its key.');
    const found = (await services.auth.signingSecret(ctx.state.identity!.uuid))!;
    ctx.body = { accessKeyId: found.identity.uuid, secretAccessKey: found.secret };
  });
  // small bodies (invocation payloads, reads) as web actions bound theirs; zips (up to 50 MB) a few at a time
  const small: BodyRead = { limit: SIZES.payload, gate: new BodyGate(services.config.webBodyReads), deadlineMs: 30_000 };
  const large: BodyRead = { limit: SIZES.requestBody, gate: new BodyGate(4), deadlineMs: 300_000 };
  const route = (read: BodyRead, h: Handler) => {
    const run = signed(services, read, h);
    return (ctx: Koa.ParameterizedContext<SwirlState>) => run(ctx as Ctx);
  };
  const fns = '/2015-03-31/functions';
  open.post(`${fns}/:name/invocations`, route(small, (ctx, call) => invokeFunction(ctx, services, call)));
  open.post(fns, route(large, async (ctx, call) => {
    ctx.status = 201;
    ctx.body = configuration(caller(call), await createFunction(store, caller(call), jsonBody(call)));
  }));
  const list = route(small, async (ctx, call) => {
    ctx.body = await listFunctions(store, caller(call), queryOf(ctx));
  });
  open.get(fns, list);
  open.get(`${fns}/`, list);
  open.get(`${fns}/:name`, route(small, async (ctx, call) => {
    const c = caller(call);
    ctx.body = { Configuration: configuration(c, await getFunction(store, c, functionName(ctx.params.name!))), Code: { RepositoryType: 'S3', Location: '' } };
  }));
  open.get(`${fns}/:name/configuration`, route(small, async (ctx, call) => {
    const c = caller(call);
    ctx.body = configuration(c, await getFunction(store, c, functionName(ctx.params.name!)));
  }));
  open.put(`${fns}/:name/code`, route(large, async (ctx, call) => {
    const c = caller(call);
    ctx.body = configuration(c, await updateFunctionCode(store, c, functionName(ctx.params.name!), jsonBody(call)));
  }));
  open.delete(`${fns}/:name`, route(small, async (ctx, call) => {
    await deleteFunction(store, caller(call), functionName(ctx.params.name!));
    ctx.status = 204;
  }));
}
