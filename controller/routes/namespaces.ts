import type Router from '@koa/router';
import { ForbiddenError, Messages } from '../../common/errors.ts';
import { LIMITS } from '../../common/limits.ts';
import { assertEntityName, DEFAULT_NAMESPACE } from '../../common/names.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';

/**
 * The namespace a request addresses: `_` is the caller's own. A caller can never read or
 * write another namespace.
 */
export function resolveNamespace(ctx: Ctx): string {
  const identity = ctx.state.identity!;
  const ns = ctx.params.ns!;
  if (ns === DEFAULT_NAMESPACE) return identity.namespace;
  assertEntityName(ns, 'namespace');
  if (ns !== identity.namespace) throw new ForbiddenError(Messages.notAuthorizedFor(ctx.path.replace(/^\/api\/v1\/namespaces\//, '')));
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
