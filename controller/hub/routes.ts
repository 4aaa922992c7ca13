import type Router from '@koa/router';
import { z } from 'zod';
import { BadRequestError, ForbiddenError } from '../../common/errors.ts';
import { LIST_LIMIT } from '../../common/limits.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';

/** What a public hub answer may be cached for by whoever reads it. */
export const HUB_CACHE_CONTROL = 'public, max-age=10';

const catalogQuery = z.object({
  q: z.string().max(200, 'at most 200 characters').optional(),
  limit: z.coerce.number().int().min(1).max(LIST_LIMIT.max).default(LIST_LIMIT.default),
});
const detailQuery = z.object({ version: z.string().regex(/^\d+\.\d+\.\d+$/, 'a version such as 0.0.2').optional() });

/** The query string, validated: a bad value is a 400 that names it. */
function query<S extends z.ZodType>(ctx: Ctx, schema: S, keys: string[]): z.infer<S> {
  const raw = Object.fromEntries(keys.flatMap((k) => (typeof ctx.query[k] === 'string' ? [[k, ctx.query[k]]] : [])));
  const r = schema.safeParse(raw);
  if (!r.success) throw new BadRequestError(`Invalid query parameter ${r.error.issues.map((i) => `'${i.path.join('.')}': ${i.message}`).join('; ')}.`);
  return r.data;
}

/**
 * The public, read-only hub API of this instance (no authentication), under /hub/v1:
 * `GET /catalog?q=&limit=` (summaries), `GET /packages/{owner}/{package}[?version=]`
 * (detail), `GET /packages/{owner}/{package}/download` (the bundle's zip with its digest in
 * `X-Swirl-Digest`; 403 unless the publisher allows downloads). Nothing of an unpublished
 * package, no parameter value: what is shown is the bundle's manifest (controller/hub/catalog.ts).
 */
export function hubCatalogRoutes(open: Router<SwirlState>, { hubCatalog }: Pick<Services, 'hubCatalog'>): void {
  if (!hubCatalog) return; // SWIRL_HUB=off: no hub routes (404)
  const cacheable = (ctx: Ctx): void => void ctx.set('Cache-Control', HUB_CACHE_CONTROL);
  open.get('/hub/v1/catalog', async (ctx) => {
    const { q, limit } = query(ctx as Ctx, catalogQuery, ['q', 'limit']);
    ctx.body = { instance: hubCatalog.self(), packages: await hubCatalog.catalog(q, limit) };
    cacheable(ctx as Ctx);
  });
  open.get('/hub/v1/packages/:owner/:pkg', async (ctx) => {
    const { version } = query(ctx as Ctx, detailQuery, ['version']);
    ctx.body = await hubCatalog.detail(ctx.params.owner!, ctx.params.pkg!, version);
    cacheable(ctx as Ctx);
  });
  open.get('/hub/v1/packages/:owner/:pkg/download', async (ctx) => {
    const { bundle, downloadable, zip } = await hubCatalog.bundle(ctx.params.owner!, ctx.params.pkg!);
    if (!downloadable) throw new ForbiddenError(`the publisher does not allow downloads of ${bundle.manifest.ref}`);
    const m = bundle.manifest.package;
    ctx.set('X-Swirl-Digest', bundle.digest);
    ctx.set('Content-Disposition', `attachment; filename="${`${m.owner}-${m.name}-${m.version}.zip`.replace(/[^\w.@-]/g, '_')}"`);
    ctx.type = 'application/zip';
    ctx.body = Buffer.from(zip());
    cacheable(ctx as Ctx);
  });
}
