import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { closeSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ActionFailure, describeError, InitFailure, type InitValue, isDictionary, Messages, type RunMessage } from './protocol.ts';
import { type CapturedLogs, captured, captureOutput, endActivation } from './output.ts';
import { INLINE_LOGS, PROXY_READY_FD_ENV, PROXY_REHEARSE_ENV, PROXY_TOKEN_ENV } from '../../common/container.ts';
import { sameSecret } from '../../common/credentials.ts';

/** What a kind's proxy does with the two requests; the server does the protocol around it. */
export interface ActionRuntime {
  /** Load the action. Throw InitFailure (or anything) to fail the init. */
  init(value: InitValue): Promise<void>;
  /**
   * Run the action once. Resolve with its result (checked to be a dictionary here);
   * throw ActionFailure for a 502 with that message, anything else for
   * `An error has occurred: …`.
   */
  run(msg: RunMessage): Promise<unknown>;
}

export interface ProxyOptions {
  /** Run one activation at a time (stdio); otherwise /run requests overlap. */
  serial?: boolean;
}

/** A kind's throwaway action for the start-up rehearsal (serve()): a fresh runtime, its init value. */
export interface Rehearsal {
  runtime: ActionRuntime;
  action: InitValue;
}

interface Reply {
  status: number;
  body: unknown;
}

type State = 'empty' | 'initializing' | 'ready' | 'failed';

/**
 * The HTTP side of a runtime proxy: /init once, /run any number of times, every failure
 * as 502 `{"error"}`. The activation's output goes back with the answer when the invoker
 * asks so (INLINE_LOGS: each activation's own, told apart by async context even when runs
 * overlap); otherwise it goes to stdout and stderr, with the log sentinel on both after
 * every /run and every failed /init, written before the response goes out. The proxy
 * itself prints nothing else: the output belongs to the action.
 */
export class ProxyServer {
  private state: State = 'empty';
  private queue: Promise<unknown> = Promise.resolve();
  readonly server: Server;
  /** The container's secret (PROXY_TOKEN_ENV), taken out of the environment before any action code loads. */
  private readonly token: string | undefined;

  constructor(
    private readonly runtime: ActionRuntime,
    private readonly opts: ProxyOptions = {},
    token = takeToken(),
  ) {
    this.token = token;
    captureOutput();
    this.server = createServer((req, res) => void this.handle(req, res));
    // the invoker keeps connections open across activations (a paused container cannot time them out anyway)
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
  }

  /** Listen on PORT (default 8080) and HOST (default 0.0.0.0). */
  listen(port = Number(process.env.PORT ?? 8080), host = process.env.HOST ?? '0.0.0.0'): Promise<void> {
    return new Promise((ok, fail) => {
      this.server.once('error', fail);
      this.server.listen(port, host, () => ok());
    });
  }

  close(): Promise<void> {
    return new Promise((ok) => this.server.close(() => ok()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = req.method === 'POST' ? req.url : undefined;
    if (route !== '/init' && route !== '/run') {
      req.resume();
      return send(res, { status: 404, body: { error: 'Not found: the proxy serves POST /init and POST /run.' } });
    }
    // refused before anything is read or written: a stranger's request is no activation and leaves no log marker
    if (!this.admits(req.headers.authorization)) {
      req.resume();
      return send(res, { status: 403, body: { error: Messages.forbidden } });
    }
    let text: string;
    try {
      text = await readBody(req);
    } catch {
      return void res.destroy(); // the invoker went away mid-request
    }
    let body: unknown;
    try {
      body = JSON.parse(text || 'null');
    } catch {
      body = undefined;
    }
    const limit = logLimit(req.headers[INLINE_LOGS.request]);
    if (limit !== undefined) {
      const deadline = Number(deadlineOf(route, body));
      const run = () => (route === '/init' ? this.init(body) : this.run(body, true));
      const { value: reply, logs } = await captured(limit, run, Number.isFinite(deadline) ? deadline : undefined);
      return send(res, reply, logs);
    }
    const reply = route === '/init' ? await this.init(body) : await this.run(body, false);
    // an activation ended (or an init failed): mark the end of its logs before answering
    if (route === '/init' && reply.status !== 200) await endActivation();
    send(res, reply);
  }

  private admits(authorization: string | undefined): boolean {
    if (!this.token) return true;
    const m = /^Bearer (\S+)$/.exec(authorization ?? '');
    return m !== null && sameSecret(m[1]!, this.token);
  }

  private async init(body: unknown): Promise<Reply> {
    if (this.state !== 'empty') return { status: 403, body: { error: Messages.initTwice } };
    if (!isDictionary(body)) return { status: 400, body: { error: Messages.badRequest } };
    this.state = 'initializing';
    try {
      await this.runtime.init(isDictionary(body.value) ? (body.value as InitValue) : {});
      this.state = 'ready';
      return { status: 200, body: { ok: true } };
    } catch (e) {
      this.state = 'failed';
      const reason = e instanceof InitFailure ? e.message : describeError(e);
      if (!(e instanceof InitFailure)) process.stderr.write(`${actionStack(e)}\n`);
      return { status: 502, body: { error: Messages.initFailed(reason) } };
    }
  }

  /**
   * Every /run whose logs go to the streams ends with the end-of-activation marker;
   * serialized runs include it, so no output of the next run precedes it.
   */
  private run(body: unknown, inline: boolean): Promise<Reply> {
    if (!this.opts.serial) return this.runAndEnd(body, inline);
    const next = this.queue.then(() => this.runAndEnd(body, inline));
    this.queue = next;
    return next;
  }

  private async runAndEnd(body: unknown, inline: boolean): Promise<Reply> {
    const reply =
      this.state !== 'ready'
        ? { status: 403, body: { error: Messages.notInitialized } }
        : !isDictionary(body)
          ? { status: 400, body: { error: Messages.badRequest } }
          : await this.runOnce(body);
    if (!inline) await endActivation();
    return reply;
  }

  private async runOnce(msg: RunMessage): Promise<Reply> {
    try {
      const result = await this.runtime.run(msg);
      if (!isDictionary(result)) return { status: 502, body: { error: Messages.notADictionary } };
      // serialize here so that a result JSON cannot represent (a cycle, a BigInt) is the action's error
      return { status: 200, body: JSON.stringify(result) };
    } catch (e) {
      if (e instanceof ActionFailure) return { status: 502, body: { error: e.message } };
      // the action threw: its stack trace belongs in its logs
      process.stderr.write(`${actionStack(e)}\n`);
      return { status: 502, body: { error: Messages.runFailed(describeError(e)) } };
    }
  }
}

const SELF = fileURLToPath(import.meta.url);

/** An exception's stack as the action's author wants it: without the proxy's frames and Node's internals. */
function actionStack(e: unknown): string {
  if (!(e instanceof Error) || !e.stack) return String(e);
  return e.stack
    .split('\n')
    .filter((line) => !(/^\s+at /.test(line) && (line.includes(SELF) || /[( ]node:/.test(line))))
    .join('\n');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

/** When the invoker stops waiting for the answer: a run's `deadline`, an init's `__OW_DEADLINE` (the first activation's). */
function deadlineOf(route: '/init' | '/run', body: unknown): unknown {
  if (!isDictionary(body)) return undefined;
  if (route === '/run') return body.deadline;
  const env = isDictionary(body.value) && isDictionary(body.value.env) ? body.value.env : {};
  return env.__OW_DEADLINE;
}

/** The log limit the invoker asks for (INLINE_LOGS.request), in bytes; undefined when it asks for none. */
function logLimit(header: string | string[] | undefined): number | undefined {
  return typeof header === 'string' && /^\d{1,10}$/.test(header) ? Number(header) : undefined;
}

/** The answer; with logs, their JSON array first (INLINE_LOGS). */
function send(res: ServerResponse, reply: Reply, logs?: CapturedLogs): void {
  const payload = Buffer.from(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  if (!logs) {
    res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': payload.length });
    return void res.end(payload);
  }
  const lines = Buffer.from(JSON.stringify(logs.lines));
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': lines.length + payload.length,
    [INLINE_LOGS.length]: lines.length,
    ...(logs.truncated ? { [INLINE_LOGS.truncated]: '1' } : {}),
  });
  res.end(Buffer.concat([lines, payload]));
}

/** The container's secret (PROXY_TOKEN_ENV), taken out of the environment before any action code loads. */
function takeToken(): string | undefined {
  const token = process.env[PROXY_TOKEN_ENV] || undefined;
  delete process.env[PROXY_TOKEN_ENV];
  return token;
}

/**
 * Start a proxy for a runtime; a start-up failure is the one thing the proxy reports itself.
 * When the invoker asks (PROXY_REHEARSE_ENV: a stem cell), a throwaway proxy on a loopback
 * port of its own first serves one /init and one /run of the kind's throwaway action, the
 * way the invoker sends them: V8 compiles lazily, so a fresh proxy's first /init and /run
 * cost ~6 ms more than later ones, and a stem cell is made ahead precisely so that an
 * activation does not pay for its start.
 */
export async function serve(runtime: ActionRuntime, opts: ProxyOptions, rehearsal: Rehearsal): Promise<void> {
  // as a container's PID 1 the proxy gets no default signal handling: stop at once when asked
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
  // first: the secret leaves the environment before anything else runs
  const proxy = new ProxyServer(runtime, opts);
  const rehearsing = process.env[PROXY_REHEARSE_ENV] === '1';
  const readyFd = Number(process.env[PROXY_READY_FD_ENV] || NaN);
  delete process.env[PROXY_REHEARSE_ENV];
  delete process.env[PROXY_READY_FD_ENV];
  if (rehearsing) await rehearse(rehearsal, opts);
  await proxy.listen().catch((e: unknown) => {
    process.stderr.write(`runtime proxy: cannot listen: ${describeError(e)}\n`);
    process.exit(1);
  });
  if (Number.isInteger(readyFd) && readyFd > 2) sayReady(readyFd);
}

/** Tell the invoker the proxy listens (PROXY_READY_FD_ENV), and close the fd: no action inherits it. */
function sayReady(fd: number): void {
  try {
    writeSync(fd, 'ready\n');
  } catch {
    // the invoker polls the port as well
  } finally {
    try {
      closeSync(fd);
    } catch {
      // not open
    }
  }
}

/** One /init and one /run of a throwaway action, through a throwaway proxy on an ephemeral loopback port; whatever fails here is no business of the real proxy's. */
async function rehearse({ runtime, action }: Rehearsal, opts?: ProxyOptions): Promise<void> {
  // a secret of its own: on a host's loopback (the process factory) others could reach the port for these few milliseconds
  const token = randomBytes(18).toString('base64url');
  const proxy = new ProxyServer(runtime, opts, token);
  try {
    await proxy.listen(0, '127.0.0.1');
    const { port } = proxy.server.address() as { port: number };
    await postLocal(port, token, '/init', { value: action });
    await postLocal(port, token, '/run', { value: {}, deadline: String(Date.now() + 10_000) });
  } catch {
    // a rehearsal that fails (no loopback, say) only leaves the first requests slower
  } finally {
    await proxy.close();
  }
}

/** POST as the invoker does (token, logs with the answer), over a plain socket: the proxy's side is the one to warm. */
function postLocal(port: number, token: string, path: string, body: unknown): Promise<void> {
  const payload = Buffer.from(JSON.stringify(body));
  const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\n${INLINE_LOGS.request}: 65536\r\ncontent-type: application/json\r\ncontent-length: ${payload.length}\r\nconnection: close\r\n\r\n`;
  return new Promise((ok, fail) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.end(Buffer.concat([Buffer.from(head), payload])));
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
    socket.on('data', () => undefined);
    socket.once('error', fail);
    socket.once('close', () => ok());
  });
}
