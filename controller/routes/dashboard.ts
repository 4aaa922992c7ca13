import type Router from '@koa/router';
import { z } from 'zod';
import type { ActivationRecord } from '../../common/activation.ts';
import { BadRequestError } from '../../common/errors.ts';
import { LIST_LIMIT } from '../../common/limits.ts';
import { summarize } from '../activation-summary.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { DASHBOARD_HEADERS, dashboardFile } from '../dashboard-files.ts';
import { resolveNamespace } from './namespaces.ts';

/** Activations a summary reads at most (newest first): it stays cheap however busy the namespace. */
export const SUMMARY_MAX_RECORDS = 2000;
const HOUR = 3_600_000;

const epoch = z.coerce.number().int().min(0);
const summaryQuery = z.object({
  since: epoch.optional(),
  upto: epoch.optional(),
  buckets: z.coerce.number().int().min(1).max(60).default(12),
});

function parseSummaryQuery(ctx: Ctx): { since: number; upto: number; buckets: number } {
  const raw = Object.fromEntries(['since', 'upto', 'buckets'].flatMap((k) => (typeof ctx.query[k] === 'string' ? [[k, ctx.query[k]]] : [])));
  const r = summaryQuery.safeParse(raw);
  if (!r.success) throw new BadRequestError(`Invalid query parameter ${r.error.issues.map((i) => `'${i.path.join('.')}': ${i.message}`).join('; ')}.`);
  const upto = r.data.upto ?? Date.now();
  const since = r.data.since ?? upto - HOUR;
  if (since > upto) throw new BadRequestError(`The value of 'since' (${since}) is later than the value of 'upto' (${upto}).`);
  return { since, upto, buckets: r.data.buckets };
}

/**
 * The dashboard: its page and scripts under `/dashboard` (no authentication: the page logs in
 * with a key it keeps in the tab's sessionStorage and calls the API with it), and
 * `GET /api/v1/namespaces/{ns}/dashboard/summary`: per action, counts, error rate and
 * p50/p99 run time over a window, in time buckets, from the activation records' briefs
 * (at most SUMMARY_MAX_RECORDS, newest first).
 */
export function dashboardRoutes(open: Router<SwirlState>, api: Router<SwirlState>, { store }: Services): void {
  // (the page names its files by absolute paths: /dashboard and /dashboard/ are one page)
  open.get(['/dashboard', '/dashboard/:file'], async (ctx) => {
    const file = dashboardFile((ctx.params as { file?: string }).file ?? 'index.html');
    if (!file) return; // 404 in the error shape
    const { type, body } = await file;
    ctx.set(DASHBOARD_HEADERS);
    ctx.type = type;
    ctx.body = body;
  });
  api.get('/namespaces/:ns/dashboard/summary', async (ctx) => {
    const c = ctx as Ctx;
    const namespace = resolveNamespace(c);
    const window = parseSummaryQuery(c);
    const records: ActivationRecord[] = [];
    for (let skip = 0; skip < SUMMARY_MAX_RECORDS; skip += LIST_LIMIT.max) {
      const page = await store.listActivations(namespace, { since: window.since, upto: window.upto, skip, limit: LIST_LIMIT.max });
      records.push(...page);
      if (page.length < LIST_LIMIT.max) break;
    }
    const truncated = records.length >= SUMMARY_MAX_RECORDS && (await store.countActivations(namespace, window)) > records.length;
    ctx.body = summarize(records, { ...window, truncated });
  });
}
