/**
 * What a person waits on before anything runs: standalone's restart to ready (from the
 * command to the "is up" banner, Docker containers, a data directory that exists), and one
 * `swirl` command (the built CLI, as the installed command runs it).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SWIRL_BIN } from '../test/support/cli.ts';
import { freePort } from '../test/support/process.ts';
import { now, sampled } from './table.ts';

const RESTARTS = 3;
const COMMANDS = 10;

/** Each way of starting standalone that a person types. */
const STARTS: Array<[string, string, string[]]> = [
  ['npm start', 'npm', ['start']],
  ['node build/artifact.js run standalone (npm start without npm)', process.execPath, ['build/artifact.js', 'run', 'standalone']],
];

interface Running {
  /** Milliseconds from the spawn to the banner. */
  ready: number;
  /** Standalone's output until its banner and the lines after it (the guest key, shown on the first start only). */
  out: () => string;
  stop(): Promise<void>;
}

/** Start standalone and wait for its banner and the line after the guest key's. */
function start(cmd: string, args: string[], env: Record<string, string>): Promise<Running> {
  const t0 = now();
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<void>((ok) => child.once('close', () => ok()));
  const stop = async () => {
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  };
  // the banner: on stderr, as stdout is no terminal here (it carries the JSON log lines)
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((ok, fail) => {
    let ready = 0;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!ready && err.includes(' is up')) ready = now() - t0;
      if (ready && /guest key: .*\n/.test(err)) ok({ ready, out: () => err, stop });
    });
    void exited.then(() => fail(new Error(`standalone exited before it was up\n${out.slice(-2000)}\n${err.slice(-2000)}`)));
  });
}

/** Wall time of one `swirl` run, in ms; fails if the command fails. */
function swirlOnce(args: string[]): Promise<number> {
  const t0 = now();
  return new Promise((ok, fail) => execFile(SWIRL_BIN, args, (e, _out, stderr) => (e ? fail(new Error(`swirl ${args.join(' ')}: ${stderr}`)) : ok(now() - t0))));
}

export async function benchStartup(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swirl-bench-'));
  const port = await freePort();
  const env = { SWIRL_DATA_DIR: dataDir, SWIRL_PORT: String(port), SWIRL_HOST: '127.0.0.1', SWIRL_DOCKER_NETWORK: 'swirl-bench-actions', SWIRL_LOG_LEVEL: 'warn' };
  try {
    // the first start creates the data directory (and builds what is stale): not a restart
    const first = await start(process.execPath, ['build/artifact.js', 'run', 'standalone'], env);
    const key = /guest key: (\S+)/.exec(first.out())![1]!;
    await first.stop();
    let last: Running | undefined;
    for (const [what, cmd, args] of STARTS) {
      const times: number[] = [];
      for (let i = 0; i < RESTARTS; i++) {
        await last?.stop();
        last = await start(cmd, args, env);
        times.push(last.ready);
      }
      sampled(`startup: restart to ready, ${what}`, times, { target: '≤ 1500 ms' });
    }
    const api = ['--apihost', `http://127.0.0.1:${port}`, '--auth', key];
    for (const args of [['--version'], ['--help'], [...api, 'namespace', 'list']]) {
      const times: number[] = [];
      for (let i = 0; i < COMMANDS; i++) times.push(await swirlOnce(args));
      sampled(`startup: swirl ${args.filter((a) => !api.includes(a)).join(' ')}`, times, { target: '≤ 150 ms' });
    }
    await last?.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
