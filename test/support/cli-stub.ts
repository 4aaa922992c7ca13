import { createServer, type IncomingMessage, type Server } from 'node:http';

/** One request the stub received. */
export interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
  authorization?: string;
}

export interface StubReply {
  status: number;
  body?: unknown;
  /** The body as text, sent as it is (what JSON.stringify could not write). */
  raw?: string;
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

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req).then(({ status, body, raw }) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'f'.repeat(32) });
      res.end(raw ?? (body === undefined ? '' : JSON.stringify(body)));
    }));
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
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
    const seen: Seen = { method: req.method!, path: url.pathname, query: Object.fromEntries(url.searchParams), body: text ? JSON.parse(text) : undefined, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
    this.seen.push(seen);
    const route = this.routes.get(`${seen.method} ${seen.path}`);
    const reply = typeof route === 'function' ? route(seen) : route;
    return reply ?? { status: 404, body: { error: 'The requested resource does not exist.', code: 'e'.repeat(32) } };
  }

  async stop(): Promise<void> {
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}
