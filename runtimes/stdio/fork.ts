import { spawn } from 'node:child_process';
import { ActionFailure, Messages } from '../common/protocol.ts';
import type { Executable } from './executable.ts';
import { exitReason, LineSplitter, logLine, parseResult } from './lines.ts';

/**
 * One run, one process: the parameters as one JSON line on stdin (then end of input); the
 * last line of stdout is the result, earlier lines and all of stderr are logs. A non-zero
 * exit is an error whatever was printed.
 */
export function forkRun(exe: Executable, params: unknown, env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((ok, fail) => {
    let settled = false;
    const settle = (f: () => unknown) => {
      if (settled) return;
      settled = true;
      try {
        ok(f());
      } catch (e) {
        fail(e);
      }
    };
    // the last non-blank line seen, then any blank lines after it
    const held: string[] = [];
    const out = new LineSplitter((line) => {
      if (line.trim() === '') {
        if (held.length) held.push(line);
        else logLine(line);
        return;
      }
      for (const h of held) logLine(h);
      held.length = 0;
      held.push(line);
    });
    const child = spawn(exe.path, [], { cwd: exe.dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => process.stderr.write(c));
    child.stdin.on('error', () => undefined); // it may exit without reading its input
    child.stdin.end(`${JSON.stringify(params)}\n`);
    child.once('error', (e) =>
      settle(() => {
        throw new ActionFailure(Messages.runFailed(`cannot start the executable: ${e.message}`));
      }),
    );
    child.once('close', (code, signal) => {
      out.end();
      const last = held[0];
      settle(() => {
        if (code !== 0) {
          if (last !== undefined) logLine(last);
          throw new ActionFailure(Messages.runFailed(exitReason(code, signal)));
        }
        if (last === undefined) throw new ActionFailure('The action did not produce a result: its standard output was empty.');
        return parseResult(last);
      });
    });
  });
}
