import { type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EventSourceMessage } from 'eventsource-parser';
import { serverSentEvents } from '../common/sse.ts';
import { NDJSON } from '../common/hub/types.ts';
import { ENVELOPE_DEPTH, MAX_JSON_DEPTH, parseJson } from '../common/json.ts';
import { OutputLines } from '../common/output-lines.ts';
import { ApiError, CliError, EXIT } from './errors.ts';

export interface ClientOptions {
  apihost: string;
  /** `uuid:key` (Basic) or a token from `swirl admin token` (Bearer). */
  auth?: string;
  /** Accept any TLS certificate (`-i`). */
  insecure?: boolean;
  /** Receives the text of every request and response (`-v`). */
  verbose?: (text: string) => void;
  userAgent: string;
  /** The API version in the path (`--apiversion`); v1 by default. */
  apiVersion?: string;
  /** A client certificate and its key (PEM), presented when the API host is https (`--cert`, `--key`). */
  clientCert?: { cert: Buffer; key: Buffer };
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** What the call does, for error messages: `get action 'hello'` → `Unable to get action 'hello': …`. */
  what: string;
  /** The error message's lead when wsk words it otherwise (default `Unable to <what>`). */
  failure?: string;
  /** Error statuses the caller handles itself (e.g. 502 of a blocking invoke, which carries the activation). */
  accept?: number[];
  /** The path's root when not the API's `/api/v1` (the public hub API: `/hub/v1`). */
  root?: string;
  /** Keep a successful body as bytes (a download), not as text or JSON. */
  binary?: boolean;
  /**
   * Ask for NDJSON (one JSON value a line, as a streamed hub test answers) and receive each line
   * but the last as it arrives; the last is `{"result"}` (the reply's body) or `{"error", "code"}`
   * (thrown as an error reply). A server that answers JSON instead is read as usual.
   */
  lines?: (value: unknown) => void;
}

export interface Reply<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  body: T;
  /** The transaction id (X-Request-ID). */
  txid?: string;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/**
 * `host[:port]` or a URL → the URL the API lives under, in the API host's scheme: the one it
 * names, else https as wsk has it (http for a loopback host swirl serves itself, except on
 * port 443).
 */
export function apiBase(apihost: string): string {
  const trimmed = apihost.trim().replace(/\/+$/, '');
  const scheme = /^(https?):\/\//i.exec(trimmed);
  if (scheme) return `${scheme[1]!.toLowerCase()}${trimmed.slice(scheme[1]!.length).replace(/\/api(\/v\d+)?$/, '')}`;
  return `${LOOPBACK.test(trimmed) && !trimmed.endsWith(':443') ? 'http' : 'https'}://${trimmed}`;
}

/** The Authorization header for a key (`uuid:key`) or a token. */
export function authorization(auth: string): string {
  if (/^(basic|bearer) /i.test(auth)) return auth;
  return auth.includes(':') ? 'Basic ' + Buffer.from(auth).toString('base64') : `Bearer ${auth}`;
}

const masked = (header: string): string => header.replace(/^(\w+) .*$/, '$1 ********');

const MAX_SHOWN = 4000;
const shown = (text: string): string => (text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}… (${text.length} characters)` : text);

interface LineReader {
  push(chunk: Buffer): void;
  /** The last line's value: `{result}` or `{error}`, null when the stream ended without one. */
  end(): unknown;
}

/** NDJSON read as it arrives: each line handed to `each` at once, but the last (`{result}` or `{error}`), kept for the answer. */
function ndjsonLines(each: (value: unknown) => void): LineReader {
  let last: unknown = null;
  const take = (line: string): void => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = parseJson(line, { maxDepth: MAX_JSON_DEPTH + ENVELOPE_DEPTH });
    } catch {
      return;
    }
    if (value && typeof value === 'object' && ('result' in value || 'error' in value)) last = value;
    else each(value);
  };
  // cut as it arrives (the answer's long last line, in many chunks, is joined once); no line is too long
  const lines = new OutputLines<'body'>(Number.MAX_SAFE_INTEGER, (_body, line) => take(line ?? ''));
  const decoder = new TextDecoder();
  return {
    push(chunk) {
      lines.write('body', decoder.decode(chunk, { stream: true }));
    },
    end() {
      lines.write('body', decoder.decode());
      lines.flush('body');
      return last;
    },
  };
}

/** A small client of OpenWhisk's REST API (`/api/v1`). */
export class Client {
  readonly base: string;

  constructor(private readonly opts: ClientOptions) {
    this.base = apiBase(opts.apihost);
  }

  url(path: string, query: RequestOptions['query'] = {}, root = `/api/${encodeURIComponent(this.opts.apiVersion ?? 'v1')}`): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const q = qs.toString();
    return `${this.base}${root}${path}${q ? `?${q}` : ''}`;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions): Promise<Reply<T>> {
    const url = new URL(this.url(path, opts.query, opts.root));
    const headers: Record<string, string> = { accept: opts.lines ? `${NDJSON}, application/json;q=0.5` : 'application/json', 'user-agent': this.opts.userAgent };
    if (this.opts.auth) headers.authorization = authorization(this.opts.auth);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    this.opts.verbose?.(this.describeRequest(method, url, headers, payload));
    let reply: { status: number; headers: IncomingHttpHeaders; text: string; bytes: Buffer; lastLine?: unknown };
    try {
      reply = await this.send(method, url, headers, payload, opts.lines && ndjsonLines(opts.lines));
    } catch (e) {
      const why = (e as Error).message;
      const hint = /certificate|self[- ]signed/i.test(why) ? " (use -i to accept the server's certificate)" : '';
      throw new CliError(`Unable to ${opts.what}: cannot reach ${this.base}: ${why}${hint}`, EXIT.network);
    }
    this.opts.verbose?.(this.describeResponse(reply));
    const txid = (reply.headers['x-request-id'] as string | undefined) ?? undefined;
    let body: unknown = reply.text;
    if (reply.lastLine !== undefined) {
      const last = reply.lastLine as { result?: unknown; error?: unknown; code?: unknown } | undefined;
      if (last && 'result' in last) return { status: reply.status, headers: reply.headers, body: last.result as T, txid };
      // failed after the first line (or the stream was cut): an error reply as a JSON answer gives it
      const message = typeof last?.error === 'string' ? last.error : 'the answer ended before its result';
      throw new ApiError(502, `${opts.failure ?? `Unable to ${opts.what}`}: ${message}`, typeof last?.code === 'string' ? last.code : txid, last);
    }
    if (/json/.test(String(reply.headers['content-type'] ?? '')) && reply.text) {
      try {
        // a reply is a server's record at most: deeper is not swirl's, and would overflow the output's JSON.stringify
        body = parseJson(reply.text, { maxDepth: MAX_JSON_DEPTH + ENVELOPE_DEPTH });
      } catch {
        // leave the text
      }
    }
    if (reply.status >= 400 && !opts.accept?.includes(reply.status)) {
      const b = body as { error?: unknown; code?: unknown; response?: { result?: { error?: unknown } } } | string;
      // an error reply carries `error`; a failed blocking activation (502) carries its record, with the action's error in the result
      const shown = typeof b === 'object' && b ? (typeof b.error === 'string' ? b.error : b.response?.result?.error) : undefined;
      const message = typeof shown === 'string' ? shown : `${reply.status} ${typeof b === 'string' && b ? b.slice(0, 200) : 'error'}`;
      const code = typeof b === 'object' && b && typeof b.code === 'string' ? b.code : txid;
      throw new ApiError(reply.status, `${opts.failure ?? `Unable to ${opts.what}`}: ${message}`, code, body);
    }
    return { status: reply.status, headers: reply.headers, body: (opts.binary ? reply.bytes : body) as T, txid };
  }

  /**
   * Follow a server-sent event stream (GET): `onEvent` for each event until the stream ends or
   * `signal` aborts. Resolves with the status: 200 once the stream ended, any other when the
   * server does not offer it (its body is read and dropped).
   */
  async stream(path: string, opts: Pick<RequestOptions, 'query' | 'what'> & { signal?: AbortSignal; onOpen?: () => void; onEvent: (e: EventSourceMessage) => void }): Promise<number> {
    const url = new URL(this.url(path, opts.query));
    const headers: Record<string, string> = { accept: 'text/event-stream', 'user-agent': this.opts.userAgent };
    if (this.opts.auth) headers.authorization = authorization(this.opts.auth);
    this.opts.verbose?.(this.describeRequest('GET', url, headers));
    const { request, tls } = this.transport(url);
    const res = await new Promise<IncomingMessage>((ok, fail) => request(url, { headers, agent: false, signal: opts.signal, ...tls }, ok).once('error', fail).end()).catch((e: Error) => {
      if (e.name === 'AbortError') return undefined;
      throw new CliError(`Unable to ${opts.what}: cannot reach ${this.base}: ${e.message}`, EXIT.network);
    });
    if (!res) return 200;
    if (res.statusCode !== 200) {
      res.resume();
      return res.statusCode ?? 0;
    }
    opts.onOpen?.();
    try {
      for await (const e of serverSentEvents(res)) opts.onEvent(e);
    } catch (e) {
      // aborted by the caller, or the connection dropped: the stream has ended either way
      if (!opts.signal?.aborted) this.opts.verbose?.(`stream ended: ${(e as Error).message}`);
    }
    return 200;
  }

  /** http or https for the URL, with the TLS options the settings give (-i, --cert/--key). */
  private transport(url: URL): { request: typeof httpRequest; tls: Record<string, unknown> } {
    if (url.protocol !== 'https:') return { request: httpRequest, tls: {} };
    return { request: httpsRequest as typeof httpRequest, tls: { ...(this.opts.insecure ? { rejectUnauthorized: false } : {}), ...this.opts.clientCert } };
  }

  private send(method: string, url: URL, headers: Record<string, string>, payload?: string, lines?: LineReader): Promise<{ status: number; headers: IncomingHttpHeaders; text: string; bytes: Buffer; lastLine?: unknown }> {
    const { request, tls } = this.transport(url);
    return new Promise((ok, fail) => {
      const req = request(url, { method, headers, agent: false, ...tls }, (res) => {
        const chunks: Buffer[] = [];
        // a 200 in NDJSON: its lines as they arrive; anything else (an error answer) is read whole
        const streamed = lines && res.statusCode === 200 && String(res.headers['content-type'] ?? '').startsWith(NDJSON) ? lines : undefined;
        res.on('data', (c: Buffer) => (streamed ? streamed.push(c) : chunks.push(c)));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          ok({ status: res.statusCode ?? 0, headers: res.headers, text: bytes.toString('utf8'), bytes, ...(streamed ? { lastLine: streamed.end() } : {}) });
        });
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end(payload);
    });
  }

  private describeRequest(method: string, url: URL, headers: Record<string, string>, payload?: string): string {
    const shownHeaders = { ...headers, ...(headers.authorization ? { authorization: masked(headers.authorization) } : {}) };
    return ['REQUEST:', `[${method}]\t${url.href}`, 'Req Headers', JSON.stringify(shownHeaders, null, 2), ...(payload ? ['Req Body', shown(payload)] : [])].join('\n');
  }

  private describeResponse(reply: { status: number; headers: IncomingHttpHeaders; text: string }): string {
    return [`RESPONSE:Got response with code ${reply.status}`, 'Resp Headers', JSON.stringify(reply.headers, null, 2), `Response body size is ${Buffer.byteLength(reply.text)} bytes`, 'Response body received:', shown(reply.text)].join('\n');
  }
}
