import type Router from '@koa/router';
import { ForbiddenError, Messages } from '../../common/errors.ts';
import { LIMITS } from '../../common/limits.ts';
import { assertEntityName, DEFAULT_NAMESPACE } from '../../common/names.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';

/**
 * The namespace a request names, `_` being the caller's own, without deciding whether the
 * caller may reach it (reads and invokes through published packages may).
 */
export function namespaceParam(ctx: Ctx): string {
  const ns = ctx.params.ns!;
  return ns === DEFAULT_NAMESPACE ? ctx.state.identity!.namespace : assertEntityName(ns, 'namespace');
}

/** The 403 for a request into a namespace that is not the caller's. */
export const forbidden = (ctx: Ctx): ForbiddenError => new ForbiddenError(Messages.notAuthorizedFor(ctx.path.replace(/^\/api\/v1\/namespaces\//, '')));

/**
 * The namespace a request addresses: `_` is the caller's own. A caller can never write
 * another namespace, nor read it except through published packages.
 */
export function resolveNamespace(ctx: Ctx): string {
  const ns = namespaceParam(ctx);
  if (ns !== ctx.state.identity!.namespace) throw forbidden(ctx);
  return ns;
}

export function namespaceRoutes(router: Router<SwirlState>, _services: Services): void {
  router.get('/namespaces', (ctx) => {
    ctx.body = [ctx.state.identity!.namespace];
  });
  // the namespace's throttles (when set for it) and the ranges its actions' limits may take
  router.get('/namespaces/:ns/limits', (ctx) => {
    resolveNamespace(ctx as Ctx);
    ctx.body = {
      ...ctx.state.identity!.limits,
      minActionMemory: LIMITS.memory.min,
      maxActionMemory: LIMITS.memory.max,
      minActionTimeout: LIMITS.timeout.min,
      maxActionTimeout: LIMITS.timeout.max,
      minActionLogs: LIMITS.logs.min,
      maxActionLogs: LIMITS.logs.max,
      minActionConcurrency: LIMITS.concurrency.min,
      maxActionConcurrency: LIMITS.concurrency.max,
    };
  });
}
