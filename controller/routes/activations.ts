import type Router from '@koa/router';
import { ACTIVATION_ID } from '../../common/activation.ts';
import { BadRequestError, Messages } from '../../common/errors.ts';
import { assertEntityName } from '../../common/names.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { resolveNamespace } from './namespaces.ts';
import { flag, paging, queryParam } from './entities.ts';

/** `?name=` is `action` or `pkg/action` (a leading `/ns/` is dropped: the namespace is the path's). */
export function nameFilter(ctx: Ctx, namespace: string): string | undefined {
  const s = queryParam(ctx, 'name');
  if (s === undefined) return undefined;
  const parts = s.replace(new RegExp(`^/?${namespace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`), '').split('/');
  if (parts.length > 2) throw new BadRequestError(`The name '${s}' is not an action name.`);
  return parts.map((p) => assertEntityName(p)).join('/');
}

function epochMs(ctx: Ctx, name: string): number | undefined {
  const s = queryParam(ctx, name);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new BadRequestError(Messages.argumentNotInteger('activations', s));
  return Number(s);
}

function activationId(ctx: Ctx): string {
  const id = ctx.params.id!;
  if (!ACTIVATION_ID.test(id)) throw new BadRequestError(`The activation id '${id}' is not valid: it must be 32 lower-case hexadecimal characters.`);
  return id;
}

/**
 * `/namespaces/{ns}/activations`: the caller's activation records, newest first, filtered by
 * action name and start time; one record, its logs, its result. A record of another
 * namespace is invisible (404), as is an unknown id.
 */
export function activationRoutes(router: Router<SwirlState>, { store }: Services): void {
  const base = '/namespaces/:ns/activations';
  router.get(base, async (ctx) => {
    const c = ctx as Ctx;
    const namespace = resolveNamespace(c);
    const query = { name: nameFilter(c, namespace), since: epochMs(c, 'since'), upto: epochMs(c, 'upto') };
    // the store would be asked for an inverted key range, which CouchDB refuses
    if (query.since !== undefined && query.upto !== undefined && query.since > query.upto) {
      throw new BadRequestError(`The value of 'since' (${query.since}) is later than the value of 'upto' (${query.upto}).`);
    }
    if (flag(c, 'count')) {
      ctx.body = { activations: await store.countActivations(namespace, query) };
      return;
    }
    ctx.body = await store.listActivations(namespace, { ...query, ...paging(c, 'activations'), docs: flag(c, 'docs') });
  });
  router.get(`${base}/:id`, async (ctx) => {
    const c = ctx as Ctx;
    ctx.body = await store.getActivation(resolveNamespace(c), activationId(c));
  });
  router.get(`${base}/:id/logs`, async (ctx) => {
    const c = ctx as Ctx;
    const record = await store.getActivation(resolveNamespace(c), activationId(c));
    ctx.body = { logs: record.logs };
  });
  router.get(`${base}/:id/result`, async (ctx) => {
    const c = ctx as Ctx;
    const record = await store.getActivation(resolveNamespace(c), activationId(c));
    ctx.body = record.response;
  });
}
