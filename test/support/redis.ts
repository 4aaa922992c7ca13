import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, type Spawned } from './process.ts';

/**
 * A real redis-server (Debian's) on a free loopback port with its own data directory, for
 * integration and e2e tests. It can be stopped and started again on the same port to test
 * outages and recovery. CI installs redis-server; without it these tests fail loudly.
 */
export interface TestRedis {
  url: string;
  port: number;
  /** Kill it (SIGKILL: an outage, not a shutdown). */
  stop(): Promise<void>;
  /** Start it again on the same port (empty: it keeps nothing on disk). */
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'swirl-redis-'));
  let proc: Spawned | undefined;
  const start = async () => {
    proc = run('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      const code = await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r('running'), 50))]);
      if (code !== 'running') throw new Error(`redis-server exited (${String(code)}): ${proc.stderr() || proc.stdout()} — is redis-server installed?`);
      if (await ping(port)) return;
      if (Date.now() > deadline) throw new Error('redis-server did not answer within 10 s');
    }
  };
  const stop = async () => {
    if (!proc) return;
    proc.killGroup('SIGKILL');
    await proc.exited;
    proc = undefined;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function ping(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('PONG')) {
        s.destroy();
        ok(true);
      }
    });
    s.on('error', () => ok(false));
    setTimeout(() => {
      s.destroy();
      ok(false);
    }, 500);
  });
}
