import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { TooManyRequestsError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { PeerDirectory } from './peers.ts';
import { ANSWER_LIMITS, getJson, HubPeerError } from './remote.ts';

/**
 * `GET /hub/v1/search`: ask this instance and every known peer for its catalog in parallel
 * (each bounded by the peer time-out), after a refresh of peers-of-peers so that a peer of a
 * peer is asked too; merge, rank, and keep the merged answer for a few seconds by query.
 * Nothing else is kept: no instance stores another's catalog beyond this cache.
 */

/** A catalog entry as a peer sends it: the fields search reads are checked, the rest passed on. */
const summary = z
  .object({
    ref: z.string().max(2048),
    instance: z.string().max(300),
    owner: z.string().max(300),
    name: z.string().max(300),
    description: z.string().max(100_000).optional(),
    figures: z.object({ invocations30d: z.number().optional(), successRate: z.number().nullable().optional() }).passthrough().optional(),
  })
  .passthrough();
export type Summary = z.infer<typeof summary>;

const catalogAnswer = z.object({ packages: z.array(z.unknown()).max(10_000) });

export interface SearchAnswer {
  results: Summary[];
  peers: { asked: string[]; answered: string[]; down: Array<{ id: string; error: string }> };
  tookMs: number;
}

/** How long a merged answer is reused for the same query. */
export const SEARCH_CACHE_MS = 10_000;
/** Searches fanned out at once (the route is public: each costs a request to every peer). */
export const MAX_SEARCHES = 8;

/** Most results a search answers. */
export const MAX_RESULTS = 500;

/** Text match: the query in the name beats the query in the description; an empty query matches all alike. */
function relevance(s: Summary, q: string): number {
  if (!q) return 0;
  const name = s.name.toLowerCase();
  if (name === q) return 3;
  if (name.includes(q)) return 2;
  return (s.description ?? '').toLowerCase().includes(q) ? 1 : 0;
}

/** Rank: text match, then invocations over 30 days, then success rate (none counts as lowest), then REF for a stable order. */
export function rank(results: Summary[], query: string): Summary[] {
  const q = query.trim().toLowerCase();
  const key = (s: Summary) => [relevance(s, q), s.figures?.invocations30d ?? 0, s.figures?.successRate ?? -1] as const;
  return [...results].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return kb[i]! - ka[i]!;
    return a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0;
  });
}

/** Entries of one instance's catalog: well-formed ones that are that instance's own (a peer cannot speak for another). */
function entriesOf(answer: unknown, id: string): Summary[] {
  const parsed = catalogAnswer.safeParse(answer);
  if (!parsed.success) throw new HubPeerError(`${id} answered a catalog of another shape`);
  return parsed.data.packages.flatMap((p) => {
    const s = summary.safeParse(p);
    return s.success && s.data.instance.toLowerCase() === id ? [s.data] : [];
  });
}

export class HubSearch {
  private readonly cache = new LRUCache<string, SearchAnswer>({ max: 200, ttl: SEARCH_CACHE_MS });
  /** Fan-outs under way by query: the same search asked meanwhile waits for it. */
  private readonly running = new Map<string, Promise<SearchAnswer>>();

  constructor(
    private readonly peers: PeerDirectory,
    private readonly opts: { timeoutMs: number; log: Logger },
  ) {}

  async search(q: string, hops: number): Promise<SearchAnswer> {
    const key = `${hops}\n${q}`;
    const known = this.cache.get(key) ?? this.running.get(key);
    if (known) return known;
    if (this.running.size >= MAX_SEARCHES) throw new TooManyRequestsError(`Too many hub searches are in progress (at most ${MAX_SEARCHES} at once); try again shortly.`, 1);
    const run = this.fanOut(q, hops).finally(() => this.running.delete(key));
    this.running.set(key, run);
    const answer = await run;
    this.cache.set(key, answer);
    return answer;
  }

  private async fanOut(q: string, hops: number): Promise<SearchAnswer> {
    const started = Date.now();
    await this.peers.refresh(hops);
    const self = this.peers.self();
    const targets = [{ id: self.id, url: this.peers.localUrl(), reach: 'private' as const }, ...this.peers.list()];
    const asked: string[] = [];
    const answered: string[] = [];
    const down: SearchAnswer['peers']['down'] = [];
    const merged = new Map<string, Summary>();
    await Promise.all(
      targets.map(async (t) => {
        asked.push(t.id);
        try {
          const answer = await getJson(`${t.url}/hub/v1/catalog?q=${encodeURIComponent(q)}`, { timeoutMs: this.opts.timeoutMs, maxBytes: ANSWER_LIMITS.catalog, reach: t.reach });
          for (const s of entriesOf(answer, t.id)) merged.set(`${s.instance.toLowerCase()}/${s.owner}/${s.name}`, s);
          answered.push(t.id);
        } catch (e) {
          this.opts.log.info({ peer: t.id, err: e }, 'a hub peer is down for a search');
          down.push({ id: t.id, error: e instanceof HubPeerError ? e.message : 'no answer' });
        }
      }),
    );
    return { results: rank([...merged.values()], q).slice(0, MAX_RESULTS), peers: { asked, answered, down }, tookMs: Date.now() - started };
  }
}
