import type Router from '@koa/router';
import { z } from 'zod';
import { parseBody, publicView, type Rule } from '../../common/entities.ts';
import { BadRequestError, Messages, NotFoundError } from '../../common/errors.ts';
import { assertEntityName } from '../../common/names.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { readJson } from '../middleware.ts';
import { setRuleStatus } from '../trigger-rules.ts';
import { resolveNamespace } from './namespaces.ts';

/** What `POST .../rules/{name}` accepts (OpenWhisk's restricted Status serdes: no `activating` and such). */
const statusRequest = z.object({ status: z.enum(['active', 'inactive']) });

/**
 * `POST /namespaces/{ns}/triggers/{name}`: fire. The body is the payload (none: `{}`).
 * 202 `{"activationId"}` (also in `X-OpenWhisk-Activation-Id`, as OpenWhisk) when some
 * rule is active, 204 when none is.
 *
 * `POST /namespaces/{ns}/rules/{name}` with `{"status": "active" | "inactive"}`: enable or
 * disable. 200 with the rule in its new status, also when it already had it; 404 when the
 * rule's trigger is gone.
 */
export function triggerRoutes(router: Router<SwirlState>, { store, triggers }: Services): void {
  router.post('/namespaces/:ns/triggers/:name', async (c) => {
    const ctx = c as Ctx;
    const namespace = resolveNamespace(ctx);
    const name = assertEntityName(ctx.params.name!);
    const payload = (await readJson(ctx)) ?? {};
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new BadRequestError(Messages.malformedBody('the payload must be a JSON object'));
    const { activationId } = await triggers.fire({ identity: ctx.state.identity!, trigger: { namespace, name }, payload: payload as Record<string, unknown>, tid: ctx.state.tid });
    if (!activationId) {
      ctx.status = 204;
      return;
    }
    ctx.set('X-OpenWhisk-Activation-Id', activationId);
    ctx.status = 202;
    ctx.body = { activationId };
  });

  router.post('/namespaces/:ns/rules/:name', async (c) => {
    const ctx = c as Ctx;
    const namespace = resolveNamespace(ctx);
    const name = assertEntityName(ctx.params.name!);
    const { status } = parseBody(statusRequest, (await readJson(ctx)) ?? {});
    const rule = await store.get('rule', namespace, name);
    if (!(await setRuleStatus(store, rule, status))) throw new NotFoundError('Only rules with existing triggers can be activated.');
    ctx.body = { ...(publicView(rule) as Rule), status };
  });
}
