import type Router from '@koa/router';
import { BadRequestError, Messages } from '../../common/errors.ts';
import { assertEntityName } from '../../common/names.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { readJson } from '../middleware.ts';
import { flag, queryParam } from './entities.ts';
import { namespaceParam } from './namespaces.ts';

/** The blocking wait: `?timeout=` (ms) may shorten the configured one, never lengthen it. */
function waitMs(ctx: Ctx, max: number): number {
  const s = queryParam(ctx, 'timeout');
  if (s === undefined) return max;
  if (!/^\d+$/.test(s) || Number(s) === 0) throw new BadRequestError(`The timeout '${s}' must be a positive number of milliseconds.`);
  return Math.min(Number(s), max);
}

/**
 * `POST /namespaces/{ns}/actions/[{pkg}/]{name}`: invoke. Non-blocking → 202
 * `{"activationId"}`. Blocking → the record (or with `result=true` only its result): 200 on
 * success, 502 for an application or developer error, 500 for an internal error; 202
 * `{"activationId"}` when it is still running after the wait.
 */
export function invokeRoutes(router: Router<SwirlState>, { activator, config }: Services): void {
  const invoke = async (c: Ctx) => {
    const namespace = namespaceParam(c); // the resolver decides whether the caller may invoke there
    const target = { namespace, ...(c.params.pkg ? { pkg: assertEntityName(c.params.pkg) } : {}), name: assertEntityName(c.params.name!) };
    const body = (await readJson(c)) ?? {};
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError(Messages.malformedBody('the parameters must be a JSON object'));
    const blocking = flag(c, 'blocking');
    const out = await activator.invoke({
      identity: c.state.identity!,
      target,
      params: body as Record<string, unknown>,
      blocking,
      waitMs: blocking ? waitMs(c, config.blockingTimeoutMs) : 0,
      tid: c.state.tid,
    });
    if (!out.record) {
      c.status = 202;
      c.body = { activationId: out.activationId };
      return;
    }
    const { response } = out.record;
    c.status = response.statusCode === 0 ? 200 : response.statusCode === 3 ? 500 : 502;
    c.body = flag(c, 'result') ? (response.result ?? {}) : out.record;
  };
  router.post('/namespaces/:ns/actions/:name', (ctx) => invoke(ctx as Ctx));
  router.post('/namespaces/:ns/actions/:pkg/:name', (ctx) => invoke(ctx as Ctx));
}
