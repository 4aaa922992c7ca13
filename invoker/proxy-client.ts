import { Agent, request } from 'node:http';
import { INLINE_LOGS, maxEncodedLogs } from '../common/container.ts';

/** What a runtime proxy answered to /init or /run. */
export interface ProxyResponse {
  status: number;
  /** The body text, cut at the response limit. */
  body: string;
  /** True when the body was longer than the limit. */
  truncated: boolean;
  /** Bytes the proxy sent (its logs excluded). */
  size: number;
  /** The activation's output, when the proxy returned it with the answer (INLINE_LOGS). */
  logs?: { lines: string[]; truncated: boolean };
}

/** The request could not complete: connection refused/reset, or no answer before the deadline. */
export class ProxyRequestError extends Error {
  constructor(message: string, readonly timedOut: boolean) {
    super(message);
    this.name = 'ProxyRequestError';
  }
}

/** Results larger than this are an error, as in OpenWhisk (1 MB). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * HTTP client for the runtime protocol. One keep-alive agent per invoker: a warm
 * container is reached over an open connection, so a warm /run costs one round trip.
 */
export class ProxyClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, scheduling: 'lifo' });
  /**
   * Requests waiting on each container's `exited` promise. One reaction per promise serves
   * them all: a reaction per request would stay on the promise for the container's whole
   * life, keeping every finished request reachable.
   */
  private readonly watchers = new WeakMap<Promise<unknown>, Set<() => void>>();

  constructor(private readonly maxResponseBytes = MAX_RESPONSE_BYTES) {}

  /**
   * POST to a proxy. With `logLimit` (bytes), the proxy is asked to return the
   * activation's output with its answer; a runtime that does not still answers as usual.
   */
  post(address: string, path: '/init' | '/run', body: unknown, timeoutMs: number, abort?: Promise<unknown>, token?: string, logLimit?: number): Promise<ProxyResponse> {
    return new Promise((ok, fail) => this.send(address, path, body, timeoutMs, abort, token, logLimit, (err, res) => (err ? fail(err) : ok(res!))));
  }

  /**
   * post, its outcome given to `done` (once): the runner's way, which makes the one promise
   * it needs of it (on Node 20 each pays for the hooks of the AsyncLocalStorage that carries
   * the log context). Throws only what encoding the body throws.
   */
  send(address: string, path: '/init' | '/run', body: unknown, timeoutMs: number, abort: Promise<unknown> | undefined, token: string | undefined, logLimit: number | undefined, done: (err: ProxyRequestError | undefined, res?: ProxyResponse) => void): void {
    const payload = Buffer.from(JSON.stringify(body));
    const [host, port] = splitAddress(address);
    let settled = false;
    const finish = (err?: ProxyRequestError, res?: ProxyResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unwatch?.();
      if (err) req.destroy();
      done(err, res);
    };
    const timer = setTimeout(() => finish(new ProxyRequestError(`no response to ${path} within ${timeoutMs} ms`, true)), timeoutMs);
    const req = request(
      {
        host,
        port,
        path,
        method: 'POST',
        agent: this.agent,
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(logLimit !== undefined ? { [INLINE_LOGS.request]: String(logLimit) } : {}),
        },
      },
      (res) => {
        const logBytes = logLimit === undefined ? 0 : inlineLogBytes(res.headers[INLINE_LOGS.length], logLimit);
        if (logBytes === undefined) return finish(new ProxyRequestError(`${path} answered with more logs than the limit allows`, false));
        const chunks: Buffer[] = [];
        let size = 0;
        const keep = logBytes + this.maxResponseBytes;
        res.on('data', (c: Buffer) => {
          if (size < keep) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          const logs = logLimit !== undefined && res.headers[INLINE_LOGS.length] !== undefined ? parseLogs(all.subarray(0, logBytes), res.headers[INLINE_LOGS.truncated] === '1') : undefined;
          const answer = all.subarray(logBytes);
          const bodySize = size - logBytes;
          const truncated = bodySize > this.maxResponseBytes;
          finish(undefined, { status: res.statusCode ?? 0, body: (truncated ? answer.subarray(0, this.maxResponseBytes) : answer).toString(), truncated, size: bodySize, ...(logs ? { logs } : {}) });
        });
        res.on('error', (e) => finish(new ProxyRequestError(`${path} failed: ${e.message}`, false)));
      },
    );
    req.on('error', (e) => finish(new ProxyRequestError(`${path} failed: ${e.message}`, false)));
    const unwatch = abort && this.watch(abort, () => finish(new ProxyRequestError(`the container exited during ${path}`, false)));
    req.end(payload);
  }

  /** Call `fn` when `p` resolves, unless the returned function was called first. */
  private watch(p: Promise<unknown>, fn: () => void): () => void {
    let waiting = this.watchers.get(p);
    if (!waiting) {
      const set = new Set<() => void>();
      this.watchers.set(p, set);
      void p.then(() => {
        for (const f of [...set]) f();
      });
      waiting = set;
    }
    const set = waiting;
    set.add(fn);
    return () => set.delete(fn);
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * The length of the logs at the start of an answer: 0 without them, undefined when longer
 * than a proxy sends for `limit` (maxEncodedLogs), which only an action tampering with its
 * proxy can make it do.
 */
function inlineLogBytes(header: string | string[] | undefined, limit: number): number | undefined {
  if (header === undefined) return 0;
  const n = typeof header === 'string' && /^\d{1,12}$/.test(header) ? Number(header) : NaN;
  return Number.isFinite(n) && n <= maxEncodedLogs(limit) ? n : undefined;
}

/** The log lines a proxy sent; anything but an array of strings reads as none, truncated. */
function parseLogs(bytes: Buffer, truncated: boolean): { lines: string[]; truncated: boolean } {
  try {
    const lines: unknown = JSON.parse(bytes.toString());
    if (Array.isArray(lines) && lines.every((l) => typeof l === 'string')) return { lines, truncated };
  } catch {
    // below
  }
  return { lines: [], truncated: true };
}

export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
