import { activationPath, type ActivationRecord } from '../common/activation.ts';

/** Figures of a set of activations: how many, how many failed, their run time's p50 and p99 (ms; absent when none). */
export interface Figures {
  count: number;
  errors: number;
  errorRate: number;
  p50?: number;
  p99?: number;
}

export interface Bucket extends Figures {
  /** Epoch ms: the bucket holds activations that started in [start, start + bucketMs). */
  start: number;
}

export interface ActionSummary extends Figures {
  /** `name` or `pkg/name`, as the activation list's `name` filter takes it. */
  name: string;
  buckets: Bucket[];
}

export interface Summary {
  since: number;
  upto: number;
  bucketMs: number;
  /** Activations read; `truncated` when there were more (the oldest are left out). */
  activations: number;
  truncated: boolean;
  actions: ActionSummary[];
}

/** The `q`-quantile of sorted values (at least one) by nearest rank. */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A record failed unless its status is success (0); a brief carries `statusCode`, a whole record `response.statusCode`. */
const failed = (r: ActivationRecord): boolean => ((r as { statusCode?: number }).statusCode ?? r.response?.statusCode ?? 0) !== 0;

function figures(records: ActivationRecord[]): Figures {
  const durations = records.map((r) => r.duration ?? 0).sort((a, b) => a - b);
  const errors = records.filter(failed).length;
  const count = records.length;
  return count === 0 ? { count, errors, errorRate: 0 } : { count, errors, errorRate: errors / count, p50: quantile(durations, 0.5), p99: quantile(durations, 0.99) };
}

/**
 * Per action, the figures of activations that started in [since, upto], in total and per
 * time bucket (`buckets` of equal width). Actions by count, most first.
 */
export function summarize(records: ActivationRecord[], window: { since: number; upto: number; buckets: number; truncated: boolean }): Summary {
  const { since, upto, buckets } = window;
  const bucketMs = Math.max(1, Math.ceil((upto - since + 1) / buckets));
  const byAction = new Map<string, ActivationRecord[]>();
  for (const r of records) {
    const name = activationPath(r);
    const list = byAction.get(name) ?? [];
    if (list.length === 0) byAction.set(name, list);
    list.push(r);
  }
  const actions = [...byAction].map(([name, rs]): ActionSummary => {
    const slots = Array.from({ length: buckets }, () => [] as ActivationRecord[]);
    for (const r of rs) slots[Math.min(buckets - 1, Math.max(0, Math.floor((r.start - since) / bucketMs)))]!.push(r);
    return { name, ...figures(rs), buckets: slots.map((s, i) => ({ start: since + i * bucketMs, ...figures(s) })) };
  });
  actions.sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  return { since, upto, bucketMs, activations: records.length, truncated: window.truncated, actions };
}
