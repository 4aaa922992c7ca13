import type Router from '@koa/router';
import type { z } from 'zod';
import { parseBody } from '../../common/entities.ts';
import { BadRequestError, NotFoundError, TooManyRequestsError } from '../../common/errors.ts';
import type { Identity } from '../../common/identity.ts';
import { exampleRuns, holdingSlot, type TrialRun, runTrial } from './trial.ts';
import { packageRefOf, parseRef } from '../../common/hub/ref.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { readJson } from '../middleware.ts';
import { resolveNamespace } from '../routes/namespaces.ts';
import { installBody, searchQuery, testBody, updateBody } from './requests.ts';

/**
 * The hub's consumer side over HTTP. Public (no authentication, read-only): `GET
 * /hub/v1/peers` and `GET /hub/v1/search`. Authenticated, in the caller's namespace:
 * `POST /api/v1/namespaces/_/hub/install`, `/update`, `/test`, and the proxies for a REF of
 * any instance `GET .../hub/show?ref=` (its detail) and `.../hub/get?ref=` (its zip, verified).
 */

/** The query string as one object (first value of each key), checked by `schema`: a 400 naming the field otherwise. */
function query<S extends z.ZodType>(ctx: Ctx, schema: S): z.infer<S> {
  const flat = Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  return parseBody(schema, flat);
}

/** A REF from the query string (`?ref=`). */
function refQuery(ctx: Ctx): string {
  const ref = ctx.query.ref;
  if (typeof ref !== 'string' || !ref) throw new BadRequestError('the query parameter ref is required (a package REF: <host:port>/<owner>/<package>[@<version>])');
  return ref;
}

const SHORT_CACHE = 'public, max-age=10';

/** Most hub tests a namespace runs at once (each deploys a disposable namespace and runs a stranger's code). */
export const MAX_TRIALS_PER_NAMESPACE = 2;
/** How long a trial's slot is held at most, should its controller stop mid-run. */
const TRIAL_SLOT_MS = 15 * 60_000;

/**
 * Run `body` holding one of the namespace's MAX_TRIALS_PER_NAMESPACE trial slots, else a 429.
 * The slots are kept by the throttles' store (shared by every controller), under a key no
 * namespace has (a `/` in it), so they count nothing against the namespace's invokes.
 */
async function inTrialSlot<T>(services: Services, identity: Identity, body: () => Promise<T>): Promise<T> {
  const gate = { namespace: `${identity.namespace}/hub-test`, limits: { invocationsPerMinute: Number.MAX_SAFE_INTEGER, concurrentInvocations: MAX_TRIALS_PER_NAMESPACE } };
  let admitted = false;
  try {
    return await holdingSlot(services.throttler, gate, TRIAL_SLOT_MS, () => ((admitted = true), body()));
  } catch (e) {
    if (admitted || !(e instanceof TooManyRequestsError)) throw e;
    throw new TooManyRequestsError(`Too many hub tests in progress in namespace ${identity.namespace} (at most ${MAX_TRIALS_PER_NAMESPACE} at once); try again when one has finished.`);
  }
}

/** The routes, unless the hub is off (SWIRL_HUB=off: they are 404s). */
export function hubPeerRoutes(open: Router<SwirlState>, api: Router<SwirlState>, services: Services): void {
  const hub = services.hubPeers;
  if (!hub) {
    // (a 404 that says why, rather than the 405 another route's path would give)
    api.all('/namespaces/:ns/hub/:op', () => {
      throw new NotFoundError('The Function Hub is turned off on this instance (SWIRL_HUB=off).');
    });
    return;
  }
  open.get('/hub/v1/peers', (ctx) => {
    ctx.set('Cache-Control', SHORT_CACHE);
    ctx.body = hub.directory.answer();
  });
  open.get('/hub/v1/search', async (ctx) => {
    const { q, hops } = query(ctx as Ctx, searchQuery);
    ctx.set('Cache-Control', SHORT_CACHE);
    ctx.body = await hub.search.search(q, hops);
  });

  api.post('/namespaces/:ns/hub/install', async (ctx) => {
    const namespace = resolveNamespace(ctx as Ctx);
    const body = parseBody(installBody, await readJson(ctx as Ctx));
    ctx.body = await hub.installer.install(namespace, body.ref, body.as);
  });
  api.post('/namespaces/:ns/hub/update', async (ctx) => {
    const namespace = resolveNamespace(ctx as Ctx);
    const body = parseBody(updateBody, await readJson(ctx as Ctx));
    ctx.body = await hub.installer.update(namespace, body.name);
  });
  api.post('/namespaces/:ns/hub/test', async (ctx) => {
    resolveNamespace(ctx as Ctx);
    const identity = ctx.state.identity!;
    const body = parseBody(testBody, await readJson(ctx as Ctx));
    const ref = parseRef(body.ref);
    ctx.body = await inTrialSlot(services, identity, async () => {
      const { bundle } = await hub.origins.fetch(packageRefOf(ref));
      const action = body.action ?? ref.action;
      let runs: TrialRun[] = action || body.params ? [] : exampleRuns(bundle);
      if (!runs.length) runs = [{ action: action ?? bundle.manifest.actions[0]?.name ?? '', params: body.params ?? {} }];
      // (runTrial deploys the hub-safe annotations only; each run is paid for by the caller's invoke throttles)
      const outcome = await runTrial(services, bundle, runs, { tid: ctx.state.tid, log: ctx.state.log, caller: identity });
      return { ref: bundle.manifest.ref, digest: bundle.digest, runs: outcome.runs, cleanedUp: outcome.cleanedUp };
    });
  });
  api.get('/namespaces/:ns/hub/show', async (ctx) => {
    resolveNamespace(ctx as Ctx);
    ctx.body = await hub.origins.detail(packageRefOf(parseRef(refQuery(ctx as Ctx))));
  });
  api.get('/namespaces/:ns/hub/get', async (ctx) => {
    resolveNamespace(ctx as Ctx);
    const ref = packageRefOf(parseRef(refQuery(ctx as Ctx)));
    const { bundle, zip, detail } = await hub.origins.fetch(ref);
    ctx.set('X-Swirl-Digest', bundle.digest);
    ctx.set('Content-Disposition', `attachment; filename="${ref.package}-${detail.version}.zip"`);
    ctx.type = 'application/zip';
    ctx.body = zip;
  });
}
