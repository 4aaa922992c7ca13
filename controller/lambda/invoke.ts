import type { ActivationRecord } from '../../common/activation.ts';
import { annotation } from '../../common/entities.ts';
import { NotFoundError } from '../../common/errors.ts';
import { parseRequestJson } from '../../common/json.ts';
import type { Ctx, Services } from '../context.ts';
import type { ResolvedAction } from '../resolver.ts';
import { LambdaError, notFound } from './errors.ts';
import { arnOf, type Caller, functionName, LAMBDA_ANNOTATION } from './functions.ts';
import { EVENT_PARAM } from './handlers.ts';
import type { SignedCall } from './sigv4.ts';

/** What X-Amz-Log-Type: Tail returns: the last 4 KB of the activation's log. */
const TAIL_BYTES = 4096;
/** How long after the action's own timeout a RequestResponse caller still waits for its record. */
const WAIT_MARGIN_MS = 30_000;

const invalidContent = (why: string) => new LambdaError(400, 'InvalidRequestContentException', `Could not parse request body into json: ${why}`);

/** The payload as the action gets it: a Lambda function any JSON (as its event), another action a JSON object (as its parameters). */
function paramsOf(body: Buffer, lambda: boolean): Record<string, unknown> {
  let payload: unknown = {};
  if (body.length > 0) {
    try {
      payload = parseRequestJson(body);
    } catch (e) {
      throw invalidContent((e as Error).message);
    }
  }
  if (lambda) return { [EVENT_PARAM]: payload };
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalidContent('an action that is no Lambda function takes a JSON object');
  return payload as Record<string, unknown>;
}

/**
 * The response of a finished activation as Lambda gives it: the payload (a Lambda function's
 * handler result, another action's result), or on an error the error payload with
 * X-Amz-Function-Error — `Unhandled` for what the function threw or how it failed (init,
 * timeout, crash), `Handled` for an action that answered `{error}` itself.
 */
function outcome(record: ActivationRecord, lambda: boolean): { payload: unknown; functionError?: 'Handled' | 'Unhandled' } {
  const { statusCode, result } = record.response;
  const value = (result ?? {}) as Record<string, unknown>;
  if (statusCode === 0) return { payload: lambda ? value.payload : value };
  if (statusCode === 1) return lambda ? { payload: value.error, functionError: 'Unhandled' } : { payload: value, functionError: 'Handled' };
  if (statusCode === 2) {
    const message = typeof value.error === 'string' ? value.error : JSON.stringify(value.error ?? value);
    // (the invoker marks a run it stopped at the action's time limit with the `timeout` annotation)
    const timedOut = annotation(record.annotations, 'timeout') === true;
    return { payload: { errorType: timedOut ? 'Sandbox.Timedout' : 'Runtime.ExitError', errorMessage: message }, functionError: 'Unhandled' };
  }
  throw new LambdaError(500, 'ServiceException', 'The function could not be run; the X-Request-ID identifies the failure in the server logs.');
}

/** The activation's log as Lambda's tail shows it (START, the lines, END, REPORT), its last 4 KB, base64. */
export function logTail(record: ActivationRecord): string {
  const id = record.activationId;
  const memory = (annotation(record.annotations, 'limits') as { memory?: number } | undefined)?.memory;
  const text = [
    `START RequestId: ${id} Version: $LATEST`,
    ...record.logs,
    `END RequestId: ${id}`,
    `REPORT RequestId: ${id}\tDuration: ${record.duration} ms\tBilled Duration: ${record.duration} ms${memory ? `\tMemory Size: ${memory} MB` : ''}`,
    '',
  ].join('\n');
  const bytes = Buffer.from(text);
  return bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES)).toString('base64');
}

/** How long a Tail caller waits for the stored record, whose logs the answer's record does not carry yet. */
const STORED_WAIT_MS = 5_000;

/**
 * The activation's record as stored, logs and all: the record a blocking caller gets comes as
 * soon as the result is known, before the invoker has collected the logs and stored it. The
 * answer's own record when the stored one does not come in time.
 */
async function storedRecord(services: Services, answered: ActivationRecord): Promise<ActivationRecord> {
  const deadline = Date.now() + STORED_WAIT_MS;
  for (;;) {
    const stored = await services.store.getActivation(answered.namespace, answered.activationId).catch((e: unknown) => {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    });
    if (stored) return stored;
    if (Date.now() > deadline) return answered;
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function resolve(services: Services, c: Caller, name: string): Promise<ResolvedAction> {
  return services.resolver.action(c.namespace, { namespace: c.namespace, name }).catch((e: unknown) => {
    throw e instanceof NotFoundError ? notFound(arnOf(c, name)) : e;
  });
}

/**
 * Invoke: `POST /2015-03-31/functions/{name}/invocations`, an invoke of the caller's action
 * through the activator (throttles, records). X-Amz-Invocation-Type RequestResponse (default:
 * 200 with the payload), Event (202, not waited for), DryRun (204: the function exists and
 * may be invoked).
 */
export async function invokeFunction(ctx: Ctx, services: Services, call: SignedCall): Promise<void> {
  const type = ctx.get('x-amz-invocation-type') || 'RequestResponse';
  if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) throw new LambdaError(400, 'InvalidParameterValueException', `Unsupported invocation type ${type}: RequestResponse, Event or DryRun.`);
  const c: Caller = { namespace: call.identity.namespace, region: call.region };
  const name = functionName(ctx.params.name!);
  const resolved = await resolve(services, c, name);
  const lambda = annotation(resolved.action.annotations, LAMBDA_ANNOTATION) !== undefined;
  const params = paramsOf(call.body, lambda);
  ctx.set('X-Amz-Executed-Version', '$LATEST');
  if (type === 'DryRun') {
    ctx.status = 204;
    return;
  }
  const blocking = type === 'RequestResponse';
  const out = await services.activator.invokeResolved(
    { identity: call.identity, target: { namespace: c.namespace, name }, params, blocking, waitMs: blocking ? resolved.action.limits.timeout + WAIT_MARGIN_MS : 0, tid: ctx.state.tid },
    resolved,
  );
  ctx.set('X-Amzn-RequestId', out.activationId);
  if (!blocking) {
    ctx.status = 202;
    ctx.body = '';
    return;
  }
  if (!out.record) throw new LambdaError(500, 'ServiceException', `The function did not answer in time; its activation ${out.activationId} may still finish.`);
  const { payload, functionError } = outcome(out.record, lambda);
  if (functionError) ctx.set('X-Amz-Function-Error', functionError);
  if (ctx.get('x-amz-log-type') === 'Tail') ctx.set('X-Amz-Log-Result', logTail(await storedRecord(services, out.record)));
  ctx.status = 200;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(payload ?? null);
}
