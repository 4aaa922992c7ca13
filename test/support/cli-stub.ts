import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { TlsOptions, TLSSocket } from 'node:tls';
import { createServer as createHttpsServer } from 'node:https';

/** One request the stub received. */
export interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
  authorization?: string;
  /** The Accept header, when sent. */
  accept?: string;
  /** The subject CN of the client certificate the caller presented (an https stub that asks for one). */
  clientCert?: string;
}

export interface StubReply {
  status: number;
  body?: unknown;
  /** The body as text, sent as it is (what JSON.stringify could not write). */
  raw?: string;
  /** The body as bytes (a download), with `headers`. */
  bytes?: Buffer;
  headers?: Record<string, string>;
}

export type Route = (req: Seen) => StubReply | undefined;

/**
 * A tiny HTTP server standing in for API routes the controller does not serve yet (invoke,
 * fire, rule state, activations): it records each request and answers from `routes`
 * (`"POST /api/v1/namespaces/_/actions/hello"` → reply), 404 otherwise.
 */
export class ApiStub {
  readonly seen: Seen[] = [];
  routes = new Map<string, StubReply | Route>();
  private server?: Server;
  url = '';

  /** Listen on 127.0.0.1: plain http, or https with `tls` (which may ask for a client certificate). */
  async start(tls?: Pick<TlsOptions, 'cert' | 'key' | 'ca' | 'requestCert' | 'rejectUnauthorized'>): Promise<this> {
    const listener: RequestListener = (req, res) => void this.handle(req).then(({ status, body, raw, bytes, headers }) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'f'.repeat(32), ...headers });
      res.end(bytes ?? raw ?? (body === undefined ? '' : JSON.stringify(body)));
    });
    this.server = tls ? createHttpsServer(tls, listener) : createServer(listener);
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
    return this;
  }

  on(route: string, reply: StubReply | Route): this {
    this.routes.set(route, reply);
    return this;
  }

  reset(): void {
    this.seen.length = 0;
    this.routes.clear();
  }

  private async handle(req: IncomingMessage): Promise<StubReply> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    const url = new URL(req.url!, 'http://stub');
    const peer = 'getPeerCertificate' in req.socket ? (req.socket as TLSSocket).getPeerCertificate() : undefined;
    const seen: Seen = {
      method: req.method!,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: text ? JSON.parse(text) : undefined,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers.accept ? { accept: req.headers.accept } : {}),
      ...(peer?.subject ? { clientCert: String(peer.subject.CN) } : {}),
    };
    this.seen.push(seen);
    const route = this.routes.get(`${seen.method} ${seen.path}`);
    const reply = typeof route === 'function' ? route(seen) : route;
    return reply ?? { status: 404, body: { error: 'The requested resource does not exist.', code: 'e'.repeat(32) } };
  }

  async stop(): Promise<void> {
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}
