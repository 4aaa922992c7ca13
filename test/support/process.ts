import { type ChildProcess, spawn } from 'node:child_process';

export { freePort } from '../../invoker/factory/ports.ts';

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` on stdout or stderr, or rejects after `ms` or on exit. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Signal the process (npm forwards it to the script it runs). */
  kill(signal?: NodeJS.Signals): void;
  /** Signal the whole process group. */
  killGroup(signal?: NodeJS.Signals): void;
}

/** Run a command in its own process group, collecting its output. */
export function run(cmd: string, args: string[], env: Record<string, string>, cwd = process.cwd()): Spawned {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // 'close' waits for every process holding the output pipes (npm's children too)
  const exited = new Promise<number | null>((ok) => child.once('close', (code) => ok(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
    killGroup(signal = 'SIGTERM') {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    },
    waitFor(re, ms = 30_000) {
      return new Promise((ok, fail) => {
        const started = Date.now();
        let done = false;
        const check = () => {
          if (done) return;
          // (a server writes its banner on stderr when stdout is no terminal)
          const m = out.match(re) ?? err.match(re);
          if (m) {
            done = true;
            return ok(m);
          }
          if (Date.now() - started > ms) {
            done = true;
            return fail(new Error(`timed out waiting for ${re}\nstdout:\n${out.slice(-2000)}\nstderr:\n${err.slice(-2000)}`));
          }
          setTimeout(check, 50);
        };
        void exited.then((code) => {
          if (!done) {
            done = true;
            fail(new Error(`exited with ${code} before ${re}\nstdout:\n${out.slice(-2000)}\nstderr:\n${err.slice(-2000)}`));
          }
        });
        check();
      });
    },
  };
}
