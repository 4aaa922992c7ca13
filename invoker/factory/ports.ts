import { connect, createServer } from 'node:net';

/**
 * The longest wait between two attempts: a refused connection costs a tenth of a millisecond,
 * and every millisecond waited past the proxy's start is a millisecond of cold start.
 */
const POLL_MS = 5;

/** The slowest poll when the runtime says itself when it listens (a fallback: it always does). */
const FALLBACK_POLL_MS = 20;

/**
 * Resolve once `host:port` accepts a TCP connection: a runtime proxy is ready for /init.
 * Rejects after `timeoutMs`, or as soon as `exited` resolves (the proxy died on start).
 * `ready` resolves when the runtime says it listens (PROXY_READY_FD_ENV): then at once.
 */
export async function waitForPort(host: string, port: number, timeoutMs: number, exited?: Promise<unknown>, ready?: Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let [dead, said] = [false, false];
  void exited?.then(() => (dead = true));
  void ready?.then(() => (said = true));
  const slowest = ready ? FALLBACK_POLL_MS : POLL_MS;
  for (let delay = 1; ; delay = Math.min(delay * 2, slowest)) {
    if (said || (await canConnect(host, port))) return;
    if (dead) throw new Error('the runtime exited during start-up');
    if (Date.now() > deadline) throw new Error(`the runtime did not listen on ${host}:${port} within ${timeoutMs} ms`);
    await Promise.race([new Promise((r) => setTimeout(r, delay)), ready]);
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ host, port });
    const done = (v: boolean) => {
      socket.destroy();
      ok(v);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}

/** A TCP port on 127.0.0.1 that is free now. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}
