import { connect } from 'node:net';
import { zipSync, type Zippable } from 'fflate';
import { INLINE_LOGS, LOG_SENTINEL } from '../../common/container.ts';
import { localProxy } from '../../runtimes/index.ts';
import { freePort, run, type Spawned } from './process.ts';

export interface Reply {
  status: number;
  body: any;
}

/** POST JSON to a runtime proxy (with its container's secret, when given). */
export async function post(base: string, path: '/init' | '/run', body: unknown, token?: string): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) };
}

/** A reply with the activation's output (INLINE_LOGS): its lines, and whether the limit cut them. */
export interface InlineReply extends Reply {
  logs: string[];
  truncated: boolean;
}

/** POST JSON to a runtime proxy asking for the activation's output with the answer, within `limit` bytes. */
export async function postInline(base: string, path: '/init' | '/run', body: unknown, limit: number): Promise<InlineReply> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', [INLINE_LOGS.request]: String(limit) }, body: JSON.stringify(body) });
  const bytes = Buffer.from(await res.arrayBuffer());
  const n = Number(res.headers.get(INLINE_LOGS.length));
  if (!Number.isInteger(n)) throw new Error(`no ${INLINE_LOGS.length} header in the answer to ${path}`);
  return { status: res.status, logs: JSON.parse(bytes.subarray(0, n).toString()), truncated: res.headers.get(INLINE_LOGS.truncated) === '1', body: JSON.parse(bytes.subarray(n).toString()) };
}

/** Resolve once something accepts connections on host:port. */
export async function waitForPort(host: string, port: number, ms = 15_000, exited?: Promise<unknown>): Promise<void> {
  const until = Date.now() + ms;
  let gone = false;
  void exited?.then(() => (gone = true));
  for (;;) {
    const open = await new Promise<boolean>((ok) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        ok(true);
      });
      s.once('error', () => ok(false));
    });
    if (open) return;
    if (gone) throw new Error(`the proxy exited before listening on ${host}:${port}`);
    if (Date.now() > until) throw new Error(`nothing listens on ${host}:${port} after ${ms} ms`);
    await new Promise((ok) => setTimeout(ok, 30));
  }
}

export const count = (text: string, what: string): number => text.split(what).length - 1;

/** A runtime proxy running as a local process on a free loopback port, as the process factory runs it. */
export class LocalProxy {
  private constructor(
    readonly base: string,
    readonly proc: Spawned,
  ) {}

  static async start(kind: string, env: Record<string, string> = {}): Promise<LocalProxy> {
    const { command, args } = await localProxy(kind);
    const port = await freePort();
    const proc = run(command, args, { ...env, PORT: String(port), HOST: '127.0.0.1' });
    await waitForPort('127.0.0.1', port, 15_000, proc.exited);
    return new LocalProxy(`http://127.0.0.1:${port}`, proc);
  }

  init(value: Record<string, unknown>): Promise<Reply> {
    return post(this.base, '/init', { value });
  }

  run(params: unknown = {}, extra: Record<string, unknown> = {}): Promise<Reply> {
    return post(this.base, '/run', { value: params, namespace: 'guest', action_name: '/guest/test', activation_id: 'a1', transaction_id: 't1', deadline: String(Date.now() + 60_000), ...extra });
  }

  initInline(value: Record<string, unknown>, limit = 1024 * 1024): Promise<InlineReply> {
    return postInline(this.base, '/init', { value }, limit);
  }

  runInline(params: unknown = {}, extra: Record<string, unknown> = {}, limit = 1024 * 1024): Promise<InlineReply> {
    return postInline(this.base, '/run', { value: params, namespace: 'guest', action_name: '/guest/test', activation_id: 'a1', transaction_id: 't1', deadline: String(Date.now() + 60_000), ...extra }, limit);
  }

  /** Wait until both streams carry `n` sentinels (output reaches the test after the HTTP reply may). */
  async sentinels(n: number, ms = 3_000): Promise<{ stdout: string; stderr: string }> {
    const until = Date.now() + ms;
    while (count(this.proc.stdout(), LOG_SENTINEL) < n || count(this.proc.stderr(), LOG_SENTINEL) < n) {
      if (Date.now() > until) break;
      await new Promise((ok) => setTimeout(ok, 10));
    }
    return { stdout: this.proc.stdout(), stderr: this.proc.stderr() };
  }

  async stop(): Promise<void> {
    this.proc.killGroup('SIGKILL');
    await this.proc.exited;
  }
}

/** A base64 zip of the files; a file given as [content, mode] keeps its Unix mode. */
export function zipBase64(files: Record<string, string | Uint8Array | [string | Uint8Array, number]>): string {
  const entries: Zippable = {};
  for (const [name, f] of Object.entries(files)) {
    const [content, mode] = Array.isArray(f) ? f : [f, 0o644];
    const data = typeof content === 'string' ? new TextEncoder().encode(content) : content;
    entries[name] = [data, { os: 3, attrs: ((0o100000 | mode) << 16) >>> 0 }];
  }
  return Buffer.from(zipSync(entries)).toString('base64');
}
