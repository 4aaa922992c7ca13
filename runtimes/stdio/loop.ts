import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { ActionFailure, Messages } from '../common/protocol.ts';
import type { Executable } from './executable.ts';
import { exitReason, LineSplitter, logLine, parseResult } from './lines.ts';

interface Waiter {
  ok: (v: unknown) => void;
  fail: (e: unknown) => void;
}

interface LoopProcess {
  child: ChildProcessWithoutNullStreams;
  /** Identity of the environment it was started with. */
  key: string;
  waiter?: Waiter;
}

/**
 * A long-lived executable: started once, then per run one JSON line of parameters on its
 * stdin and one JSON line back on its stdout (its logs go to stderr). Warm runs cost no
 * fork. When it dies it is started again on the next run; the run it died in is a 502.
 * Runs are one at a time (the proxy serializes them).
 */
export class LoopRunner {
  private proc: LoopProcess | undefined;

  constructor(private readonly exe: Executable) {}

  /** Start the process now (at init), so that the first run finds it ready. */
  start(env: NodeJS.ProcessEnv, key: string): void {
    const child = spawn(this.exe.path, [], { cwd: this.exe.dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const proc: LoopProcess = { child, key };
    this.proc = proc;
    const lines = new LineSplitter((line) => {
      const waiter = proc.waiter;
      if (!waiter) return logLine(line); // nobody asked: not a result
      proc.waiter = undefined;
      try {
        const result = parseResult(line);
        // stderr the process wrote before this line is readable now: let it be forwarded before the
        // run ends (and the end-of-activation marker follows it), one turn of the event loop later
        setImmediate(() => waiter.ok(result));
      } catch (e) {
        // out of step with the protocol: the next line could be taken for the next run's result
        logLine(line);
        this.stop();
        waiter.fail(e);
      }
    });
    child.stdout.on('data', (c: Buffer) => lines.push(c));
    child.stderr.on('data', (c: Buffer) => process.stderr.write(c));
    child.stdin.on('error', () => undefined); // a dead process: reported by 'close'
    const gone = (reason: string) => {
      if (this.proc === proc) this.proc = undefined;
      const waiter = proc.waiter;
      proc.waiter = undefined;
      waiter?.fail(new ActionFailure(Messages.runFailed(`${reason} before returning a result`)));
    };
    child.once('error', (e) => gone(`cannot start the executable: ${e.message}`));
    child.once('close', (code, signal) => {
      lines.end();
      gone(exitReason(code, signal));
    });
  }

  run(params: unknown, env: NodeJS.ProcessEnv, key: string): Promise<unknown> {
    if (this.proc && this.proc.key !== key) this.stop();
    if (!this.proc) this.start(env, key);
    const proc = this.proc!;
    return new Promise((ok, fail) => {
      proc.waiter = { ok, fail };
      proc.child.stdin.write(`${JSON.stringify(params)}\n`);
    });
  }

  stop(): void {
    const proc = this.proc;
    this.proc = undefined;
    proc?.child.kill('SIGKILL');
  }
}
