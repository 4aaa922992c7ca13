import { SwirlError } from '../../common/errors.ts';
import { parseJson } from '../../common/json.ts';

/**
 * What swirl asks of other hub instances, with the bounds a stranger's server calls for: a
 * deadline on the whole exchange (connect, headers and body), a cap on the answer's bytes
 * (checked on Content-Length and again while the body streams, so a peer that lies or never
 * stops costs at most the cap), no redirects (a peer must not send swirl elsewhere), and
 * JSON parsed with the usual depth bound. Callers pass only URLs of known peers or of a
 * REF's instance (see HubPeers): nothing here takes a URL from a request.
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
    super(502, `refused ${ref}: ${got ? `digest mismatch: expected ${expected}, got ${got}` : (cause?.message ?? 'the bundle does not verify')}`);
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
}

export interface Bounds {
  timeoutMs: number;
  maxBytes: number;
}

/** Base URL + path and query, for messages: the instance's host:port and the path. */
const where = (url: string): string => {
  const u = new URL(url);
  return `${u.host}${u.pathname}`;
};

/** The body, up to `maxBytes`: more (announced or streamed) is refused and the connection dropped. */
async function readCapped(res: Response, maxBytes: number, url: string, abort: AbortController): Promise<Buffer> {
  const refuse = () => {
    abort.abort();
    return new HubPeerError(`the answer of ${where(url)} is larger than allowed (${maxBytes} bytes)`);
  };
  const announced = Number(res.headers.get('content-length') ?? NaN);
  if (announced > maxBytes) throw refuse();
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
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
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return new HubPeerError(`${where(url)} cannot be reached: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
}

/** GET `url` within the bounds; any status is returned (callers word their own errors). */
export async function getBounded(url: string, bounds: Bounds, accept = 'application/json'): Promise<Answer> {
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, bounds.timeoutMs);
  try {
    const res = await fetch(url, { headers: { accept }, redirect: 'error', signal: abort.signal });
    const body = await readCapped(res, bounds.maxBytes, url, abort);
    return { status: res.status, headers: res.headers, body };
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
