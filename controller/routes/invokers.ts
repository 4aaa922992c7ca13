import type Router from '@koa/router';
import { ForbiddenError, Messages, NotFoundError } from '../../common/errors.ts';
import type { Services, SwirlState } from '../context.ts';

/**
 * Invoker health. `GET /invokers` (no authentication, as OpenWhisk's controller serves it):
 * `{"invoker0": "up", ...}`. `GET /api/v1/invokers` (admin users only): each invoker with its
 * state, this controller's load on it, and what its last heartbeat said.
 * `GET /api/v1/invokers/{id}/containers` (admin users only; `id` as `0` or `invoker0`): its
 * containers as its last heartbeat listed them, with the action each serves.
 */
export function invokerRoutes(open: Router<SwirlState>, api: Router<SwirlState>, { health, scheduler }: Services): void {
  open.get('/invokers', (ctx) => {
    ctx.body = Object.fromEntries(health.states().map((s) => [`invoker${s.id}`, s.state]));
  });
  api.get('/invokers/:id/containers', (ctx) => {
    if (!ctx.state.identity!.admin) throw new ForbiddenError(Messages.notAuthorized);
    const id = /^(?:invoker)?(\d{1,9})$/.exec(ctx.params.id!)?.[1];
    const known = id === undefined ? undefined : health.states().find((s) => s.id === Number(id));
    if (!known) throw new NotFoundError(`The invoker ${ctx.params.id} is not known.`);
    ctx.body = known.heartbeat.containerList ?? [];
  });
  api.get('/invokers', (ctx) => {
    if (!ctx.state.identity!.admin) throw new ForbiddenError(Messages.notAuthorized);
    const load = new Map(scheduler.load().map((l) => [l.id, l]));
    ctx.body = health.states().map(({ id, state, heartbeat: hb }) => ({
      id,
      name: `invoker${id}`,
      state,
      memoryMb: hb.memoryMb,
      usedMb: load.get(id)?.usedMb ?? 0,
      inFlight: load.get(id)?.inFlight ?? 0,
      running: hb.running,
      queued: hb.queued,
      containers: hb.containers,
      ...(hb.pool ? { pool: hb.pool } : {}),
      startedAt: hb.startedAt,
      lastHeartbeat: hb.at,
      ...(hb.url ? { url: hb.url } : {}),
    }));
  });
}
