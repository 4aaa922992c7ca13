import { z } from 'zod';
import { learnedUrlRefusal, type Reach, reachOf } from '../../common/hub/address.ts';
import { instanceId, normalizeUrl } from '../../common/hub/ref.ts';
import type { Logger } from '../../common/logger.ts';
import { ANSWER_LIMITS, answerJson, getBounded, HubPeerError, peerMessage } from './remote.ts';

/**
 * The peers an instance knows, with no centre: those configured (SWIRL_HUB_PEERS, `via:
 * "config"`) and those learned from peers' `GET /hub/v1/peers` (`via`: the peer that told).
 *
 * Age: a learned peer carries `seenAt`, the time some instance that has it configured last
 * vouched for it — a peer's configured entries count as seen when that peer answers, its
 * learned ones keep the `seenAt` it reports (never later than now). So an entry that goes
 * round a loop of instances never grows younger, and one nobody configures any more expires
 * SWIRL_HUB_PEER_TTL after it was last vouched for, wherever it travelled. Never itself; an
 * entry a peer learned from this instance is not taken back.
 *
 * Reach (SSRF bounds, common/hub/address.ts): these are the only instances the hub connects
 * to. A configured peer may be at any address but a link-local, unspecified or multicast one;
 * a learned one only at a public address, unless the peer that told of it answered from a
 * loopback or private address itself (so a public peer cannot point this instance at its own
 * network, while instances side by side on one host or LAN still learn each other). A learned
 * URL that is not http(s) or names a refused address is not learned at all.
 */

export interface Peer {
  /** `host:port` of its base URL. */
  id: string;
  url: string;
  via: 'config' | string;
  /** When it was last vouched for (config: last answered this instance, 0 before). */
  seenAt: number;
}

/** A peer as this instance keeps it: with the addresses it may be reached at (not published). */
export type KnownPeer = Peer & { reach: Reach };

/** What `GET /hub/v1/peers` answers. */
export interface PeersAnswer {
  self: { id: string; url: string };
  peers: Peer[];
}

/** Most peers learned (a peer naming thousands costs no more than this). */
export const MAX_LEARNED = 200;
/**
 * Most peers learned through any one peer: a single public instance cannot make every search
 * here fan out to hundreds of hosts of its choosing (traffic amplification); peers that
 * several instances vouch for are still learned through each of them.
 */
export const MAX_PER_TELLER = 16;
/** Most levels of peers-of-peers a refresh walks. */
export const MAX_HOPS = 4;

const peersAnswer = z.object({
  self: z.object({ id: z.string(), url: z.string() }).optional(),
  peers: z.array(z.object({ id: z.string().optional(), url: z.string().max(2048), via: z.string().max(300).optional(), seenAt: z.number().optional() })).max(10_000),
});

/** `{id, url}` of a base URL, or undefined for one that is not http(s). */
function identify(url: string): { id: string; url: string } | undefined {
  try {
    const normalized = normalizeUrl(url);
    return { id: instanceId(normalized).toLowerCase(), url: normalized };
  } catch {
    return undefined;
  }
}

export class PeerDirectory {
  private readonly configured: KnownPeer[];
  private readonly learned = new Map<string, KnownPeer>();
  private me: { id: string; url: string } | undefined;
  /** The URL this controller listens on, to ask its own catalog without leaving the machine. */
  private local: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly opts: {
      peers: string[];
      /** SWIRL_HUB_URL when set: the instance's public base URL. */
      publicUrl?: string;
      ttlMs: number;
      timeoutMs: number;
      log: Logger;
      now?: () => number;
    },
  ) {
    if (opts.publicUrl) this.me = identify(opts.publicUrl);
    this.configured = opts.peers.flatMap((u) => {
      const p = identify(u);
      return p ? [{ ...p, via: 'config', seenAt: 0, reach: 'private' as const }] : [];
    });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The controller listens at `url`: its id unless SWIRL_HUB_URL names another, and where its own catalog is asked. */
  listening(url: string): void {
    this.local = normalizeUrl(url.replace('//0.0.0.0:', '//127.0.0.1:'));
    this.me ??= identify(this.local);
  }

  self(): { id: string; url: string } {
    return this.me ?? { id: '', url: '' };
  }

  /** Where to reach this instance's own hub API from here. */
  localUrl(): string {
    return this.local ?? this.self().url;
  }

  private isSelf(id: string): boolean {
    return id === this.me?.id || (this.local !== undefined && id === instanceId(this.local).toLowerCase());
  }

  /** Configured peers, then learned ones still within the age limit; never itself. */
  list(): KnownPeer[] {
    const cutoff = this.now() - this.opts.ttlMs;
    for (const [id, p] of this.learned) if (p.seenAt < cutoff) this.learned.delete(id);
    return [...this.configured.filter((p) => !this.isSelf(p.id)), ...[...this.learned.values()].filter((p) => !this.isSelf(p.id))];
  }

  answer(): PeersAnswer {
    return { self: this.self(), peers: this.list().map(({ reach: _r, ...p }) => p) };
  }

  /** How to reach the instance `id` (`host:port`): this one, or a known peer; undefined for any other. */
  find(id: string): { url: string; reach: Reach } | undefined {
    const wanted = id.toLowerCase();
    if (this.isSelf(wanted)) return { url: this.localUrl(), reach: 'private' };
    const peer = this.list().find((p) => p.id === wanted);
    return peer && { url: peer.url, reach: peer.reach };
  }

  /**
   * Ask known peers for their peers, `hops` levels deep (1: the peers' peers), in parallel per
   * level, each bounded by the peer time-out. One refresh at a time: a second caller waits for
   * the running one. Errors are logged, never thrown (a down peer just teaches nothing).
   */
  refresh(hops: number): Promise<void> {
    this.refreshing ??= this.walk(Math.min(Math.max(hops, 0), MAX_HOPS)).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async walk(hops: number): Promise<void> {
    const asked = new Set<string>();
    let level = this.list();
    for (let hop = 0; hop < hops && level.length; hop++) {
      const ask = level.filter((p) => !asked.has(p.id));
      ask.forEach((p) => asked.add(p.id));
      const before = new Set(this.list().map((p) => p.id));
      await Promise.all(ask.map((p) => this.learnFrom(p)));
      level = this.list().filter((p) => !before.has(p.id));
    }
  }

  private async learnFrom(peer: KnownPeer): Promise<void> {
    let told: z.infer<typeof peersAnswer>;
    let from: Reach;
    try {
      const url = `${peer.url}/hub/v1/peers`;
      const answer = await getBounded(url, { timeoutMs: this.opts.timeoutMs, maxBytes: ANSWER_LIMITS.peers, reach: peer.reach });
      if (answer.status !== 200) throw new HubPeerError(`${peer.id} answered ${answer.status}: ${peerMessage(answer)}`);
      told = peersAnswer.parse(answerJson(answer, url));
      from = reachOf(answer.remoteAddress);
    } catch (e) {
      this.opts.log.debug({ peer: peer.id, err: e }, 'a hub peer did not tell its peers');
      return;
    }
    const now = this.now();
    if (peer.via === 'config') peer.seenAt = now;
    for (const entry of told.peers) this.learn(entry, peer.id, from, now);
  }

  private learn(entry: { url: string; via?: string | undefined; seenAt?: number | undefined }, teller: string, reach: Reach, now: number): void {
    const p = identify(entry.url);
    if (!p || this.isSelf(p.id) || p.id === teller) return;
    const refused = learnedUrlRefusal(entry.url, reach);
    if (refused) {
      this.opts.log.warn({ peer: teller, url: entry.url.slice(0, 300), why: refused }, 'a hub peer named a peer that is not learned');
      return;
    }
    // an entry the teller learned from this instance comes back: not news
    if (entry.via !== undefined && entry.via !== 'config' && this.isSelf(entry.via.toLowerCase())) return;
    if (this.configured.some((c) => c.id === p.id)) return;
    const seenAt = entry.via === 'config' || entry.via === undefined ? now : Math.min(now, entry.seenAt ?? 0);
    if (seenAt < now - this.opts.ttlMs) return;
    const known = this.learned.get(p.id);
    if (known) {
      if (seenAt > known.seenAt) Object.assign(known, { seenAt, via: teller, url: p.url, reach });
      return;
    }
    if (this.learned.size >= MAX_LEARNED) return;
    let told = 0;
    for (const q of this.learned.values()) if (q.via === teller) told++;
    if (told >= MAX_PER_TELLER) return;
    this.learned.set(p.id, { ...p, via: teller, seenAt, reach });
  }

  /** Refresh in the background every `everyMs` (unref'd: it keeps no process alive). */
  start(everyMs: number, hops: number): void {
    if (this.timer || (!this.configured.length && !this.learned.size)) return;
    this.timer = setInterval(() => void this.refresh(hops), everyMs);
    this.timer.unref();
    void this.refresh(hops);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.refreshing;
  }
}
