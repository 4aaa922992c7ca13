import { PassThrough } from 'node:stream';
import type Router from '@koa/router';
import type { z } from 'zod';
import { parseBody } from '../../common/entities.ts';
import { BadRequestError, NotFoundError, TooManyRequestsError } from '../../common/errors.ts';
import type { Identity } from '../../common/identity.ts';
import { exampleRuns, holdingSlot, type TrialRun, runTrial } from './trial.ts';
import { formatRef, packageRefOf, parseRef } from '../../common/hub/ref.ts';
import { NDJSON, type TrialStep } from '../../common/hub/types.ts';
import { classify } from '../../common/http.ts';
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

/**
 * A hub test answered as NDJSON: nothing is sent until its first step (a refusal before — a bad
 * REF, no slot — is the usual error answer with its status); then a 200 with one JSON line per
 * step, and a last line `{"result": …}` or, should it fail after that, `{"error", "code"}` as
 * OpenWhisk words errors. A caller that goes away does not stop the trial: it still cleans up.
 */
async function streamTrial(ctx: Ctx, run: (progress: (step: TrialStep) => void) => Promise<unknown>): Promise<void> {
  const out = new PassThrough();
  const line = (value: unknown): void => {
    if (!out.destroyed && !out.writableEnded) out.write(`${JSON.stringify(value)}\n`);
  };
  let begin!: () => void;
  const begun = new Promise<void>((ok) => (begin = ok));
  const work = run((step) => {
    begin();
    line(step);
  });
  await Promise.race([begun, work]);
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.set({ 'Content-Type': `${NDJSON}; charset=utf-8`, 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
  ctx.status = 200;
  ctx.body = out;
  const { tid, log } = ctx.state;
  void work
    .then(
      (result) => line({ result }),
      (err: unknown) => {
        const { status, message } = classify(err);
        if (status >= 500) log.error({ err }, 'hub test failed');
        line({ error: message, code: tid });
      },
    )
    .finally(() => out.end());
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
    const trial = async (progress: (step: TrialStep) => void) => {
      const pkg = packageRefOf(ref);
      progress({ step: 'fetching', ref: formatRef(pkg) });
      const { bundle } = await hub.origins.fetch(pkg);
      progress({ step: 'verified', ref: bundle.manifest.ref, digest: bundle.digest });
      const action = body.action ?? ref.action;
      let runs: TrialRun[] = action || body.params ? [] : exampleRuns(bundle);
      if (!runs.length) runs = [{ action: action ?? bundle.manifest.actions[0]?.name ?? '', params: body.params ?? {} }];
      // (runTrial deploys the hub-safe annotations only; each run is paid for by the caller's invoke throttles)
      const outcome = await runTrial(services, bundle, runs, { tid: ctx.state.tid, log: ctx.state.log, caller: identity, progress });
      return { ref: bundle.manifest.ref, digest: bundle.digest, runs: outcome.runs, cleanedUp: outcome.cleanedUp };
    };
    // the steps as they happen when asked for (the CLI); else one answer at the end, as before
    if (ctx.get('accept').toLowerCase().includes(NDJSON)) await streamTrial(ctx as Ctx, (progress) => inTrialSlot(services, identity, () => trial(progress)));
    else ctx.body = await inTrialSlot(services, identity, () => trial(() => undefined));
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
