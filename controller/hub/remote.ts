import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { addressRefusal, ipLiteral, type Reach } from '../../common/hub/address.ts';
import { SwirlError } from '../../common/errors.ts';
import { HubBundleError } from '../../common/hub/manifest.ts';
import { parseJson } from '../../common/json.ts';

/**
 * What swirl asks of other hub instances, with the bounds a stranger's server calls for: a
 * deadline on the whole exchange (connect, headers and body), a cap on the answer's bytes
 * (checked on Content-Length and again while the body streams, so a peer that lies or never
 * stops costs at most the cap), no redirects (a peer must not send swirl elsewhere), and
 * JSON parsed with the usual depth bound, and no connection to an address the peer may not be
 * at (common/hub/address.ts: never link-local, unspecified or multicast; private only with
 * `reach: 'private'`) — an address literal is checked before connecting, a host name's
 * addresses when it is resolved for the connection (a `lookup` hook: a name cannot be
 * re-pointed between a check and the connect). Callers pass only URLs of this instance and
 * its known peers (PeerDirectory.find): nothing here takes a URL from a request.
 */

/** A peer that cannot be reached, answers too slowly, too much, or not as the hub API does. 502: the peer's fault. */
export class HubPeerError extends SwirlError {
  constructor(message: string) {
    super(502, message);
  }
}

/**
 * A download that does not verify (tampered, truncated, not the version announced): refused,
 * nothing created or cached. 502: the peer served it.
 */
export class HubBundleMismatch extends SwirlError {
  constructor(ref: string, expected: string, got: string | undefined, cause?: Error) {
    // the ref once: a HubBundleError names the manifest's ref in its message, its reason does not
    const why = cause instanceof HubBundleError ? cause.reason : cause?.message;
    super(502, `refused ${ref}: ${got ? `digest mismatch: expected ${expected}, got ${got}` : (why ?? 'the bundle does not verify')}`);
  }
}

/** Caps on answers: a catalog or peers list, a package's detail, a bundle (spec: 8 MB / 64 MB). */
export const ANSWER_LIMITS = { catalog: 8 * 1024 * 1024, detail: 8 * 1024 * 1024, peers: 1024 * 1024, download: 64 * 1024 * 1024 } as const;

/** How long a download may take in all (a bundle is up to 64 MB). */
export const DOWNLOAD_TIMEOUT_MS = 60_000;

export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The address the answer came from. */
  remoteAddress?: string;
}

export interface Bounds {
  timeoutMs: number;
  maxBytes: number;
  /** Which addresses the peer may be at (default `public`). */
  reach?: Reach;
}

/** A connection the peer's address does not allow (code EHUBADDRESS). */
const refusedAddress = (host: string, why: string): Error => Object.assign(new Error(`${host} is not connected to: ${why}`), { code: 'EHUBADDRESS' });

/** dns.lookup, with every address it resolves to checked against `reach` (called with `all` or without, as net asks). */
export function guardedLookup(reach: Reach): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const why = addressRefusal(a.address, reach);
        if (why) return callback(refusedAddress(hostname, `it resolves to ${why}`), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** Base URL + path and query, for messages: the instance's host:port and the path. */
const where = (url: string): string => {
  const u = new URL(url);
  return `${u.host}${u.pathname}`;
};

/** The body, up to `maxBytes`: more (announced or streamed) is refused and the connection dropped. */
async function readCapped(res: IncomingMessage, maxBytes: number, url: string, abort: AbortController): Promise<Buffer> {
  const refuse = () => {
    abort.abort();
    return new HubPeerError(`the answer of ${where(url)} is larger than allowed (${maxBytes} bytes)`);
  };
  const announced = Number(res.headers['content-length'] ?? NaN);
  if (announced > maxBytes) throw refuse();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw refuse();
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, size);
}

/** Why a request to a peer failed, said for a user: time-out, refused connection, DNS... (the cause's code). */
function failure(e: unknown, url: string, timeoutMs: number, timedOut: boolean): HubPeerError {
  if (e instanceof HubPeerError) return e;
  if (timedOut) return new HubPeerError(`${where(url)} did not answer within ${timeoutMs} ms`);
  const err = e as { code?: string; message?: string };
  if (err.code === 'EHUBADDRESS') return new HubPeerError(`${where(url)} cannot be reached: ${err.message}`);
  return new HubPeerError(`${where(url)} cannot be reached: ${err.code ?? err.message}`);
}

/** GET `url` within the bounds; any status is returned (callers word their own errors). */
export async function getBounded(url: string, bounds: Bounds, accept = 'application/json'): Promise<Answer> {
  const target = new URL(url);
  const reach = bounds.reach ?? 'public';
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new HubPeerError(`${where(url)} cannot be reached: http or https only`);
  const literal = ipLiteral(target.hostname);
  const why = literal && addressRefusal(literal, reach);
  if (why) throw failure(refusedAddress(target.host, why), url, bounds.timeoutMs, false);
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, bounds.timeoutMs);
  try {
    const res = await new Promise<IncomingMessage>((ok, fail) => {
      // (no agent: a pooled connection made for one peer's reach is never reused for another's; redirects are not followed)
      const options = { headers: { accept }, signal: abort.signal, lookup: guardedLookup(reach), agent: false } as const;
      const req = target.protocol === 'https:' ? httpsRequest(target, options, ok) : httpRequest(target, options, ok);
      req.on('error', fail);
      req.end();
    });
    const remoteAddress = res.socket?.remoteAddress;
    const body = await readCapped(res, bounds.maxBytes, url, abort);
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    return { status: res.statusCode ?? 0, headers, body, ...(remoteAddress ? { remoteAddress } : {}) };
  } catch (e) {
    throw failure(e, url, bounds.timeoutMs, timedOut);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A peer's error message: the `error` of an OpenWhisk-shaped answer, shortened to one line
 * (a stranger's text). Anything else is named by its status only: a REF may name any host,
 * and what some other service there answers is not relayed to the caller.
 */
export function peerMessage(answer: Answer): string {
  let error: unknown;
  try {
    error = (JSON.parse(answer.body.toString('utf8')) as { error?: unknown }).error;
  } catch {
    // not JSON
  }
  const line = typeof error === 'string' ? error.replace(/\s+/g, ' ').trim().slice(0, 300) : '';
  return line || `HTTP ${answer.status}`;
}

/** The answer's JSON (bounded depth); a body that is not JSON is the peer's error. */
export function answerJson(answer: Answer, url: string): unknown {
  try {
    return parseJson(answer.body);
  } catch {
    throw new HubPeerError(`${where(url)} answered something that is not JSON`);
  }
}

/** GET JSON: 200 with a JSON body, else a HubPeerError naming the peer (404s and 403s are told apart by `expect`). */
export async function getJson(url: string, bounds: Bounds): Promise<unknown> {
  const answer = await getBounded(url, bounds);
  if (answer.status !== 200) throw new HubPeerError(`${where(url)} answered ${answer.status}: ${peerMessage(answer)}`);
  return answerJson(answer, url);
}
